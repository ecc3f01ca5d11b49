"""Benchmark helper: a K-times larger raw lake made of K disjoint copies of an ingested one.

    .venv/bin/python benchmarks/replicate_lake.py --from build/bench/1000000x1 --copies 10
        [--workdir build/bench/1000000x1-x10]

Generating and ingesting a month of 10M subscribers takes about 3.5 hours on a 2-core machine (generation
7,100 s, ingestion 5,570 s, measured here), too long to repeat for every change to the view. The view build's growth with scale can be measured on this instead: copy k of
every raw table gets its own subscribers (index + k * 2**21, with the generator's own bijection from index to
mobile number, so on-net peer numbers follow their subscriber), its own groups (the group of a 64-subscriber
block moves with the block) and its own order, recharge, contact and contract ids. Off-net and service numbers
are kept. Each copy is therefore a whole, self-contained population with the source's distributions and call
graph: copy 0's rows of the larger view equal the source's view (at 5 copies of a 1M month: all 224 columns),
which makes it a check as well as a load. It is for measuring cost, not models: K copies carry no more
information than one.

Prints one JSON object: rows per table, seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from inlife.tables.catalogue import SUBSCRIBERS, raw

ROOT = Path(__file__).resolve().parents[1]
os.environ["GX_ANALYTICS_ENABLED"] = "false"

SHIFT = 2 ** 21             # subscriber index offset per copy: a multiple of the 64-subscriber block, > 1M
OTHER_ID_SHIFT = 10 ** 12   # order, recharge, contact and contract ids
MODULUS, MULTIPLIER, INCREMENT = 500_000_000, 48271, 7_654_321     # inlife.generator.population.msisdn


def index_of_msisdn(number):
    """The subscriber index whose number this is (the inverse of population.msisdn), or null for numbers
    that are not on-net mobile numbers."""
    from pyspark.sql import functions as F

    from inlife.generator import reference as R

    inverse = pow(MULTIPLIER, -1, MODULUS)
    prefixes = R.CMCC_PREFIXES
    position = F.array_position(F.array(*[F.lit(p) for p in prefixes]), F.substring(number, 1, 3)) - 1
    x = position.cast("long") * F.lit(100_000_000) + F.substring(number, 4, 8).cast("long")
    idx = F.pmod((F.pmod(x - F.lit(INCREMENT), F.lit(MODULUS))) * F.lit(inverse), F.lit(MODULUS))
    return F.when((F.length(number) == 11) & (position >= 0), idx)


def copy_of(df, k: int):
    """Copy k of a raw table's rows (k = 0: the rows themselves)."""
    from pyspark.sql import functions as F

    from inlife.generator.population import ID_BASE, msisdn

    if k == 0:
        return df
    types = dict(df.dtypes)
    cols = []
    for name in df.columns:
        c = F.col(name)
        if name == "subscriber_id":
            c = c + F.lit(k * SHIFT)
        elif name == "msisdn":
            c = msisdn(F.col("subscriber_id") - F.lit(ID_BASE) + F.lit(k * SHIFT))
        elif name == "peer_number":
            idx = index_of_msisdn(c)
            c = F.when(idx.isNotNull(), msisdn(idx + F.lit(k * SHIFT))).otherwise(c)
        elif name == "group_id":
            c = c + F.lit(k * SHIFT // 64)       # group_id = GROUP_ID_BASE + block, block = index // 64
        elif name in ("order_id", "recharge_id", "contact_id", "contract_id", "response_id"):
            c = (c + F.lit(k * OTHER_ID_SHIFT)) if types[name] == "bigint" else F.concat(F.lit(f"{k}-"), c)
        cols.append(c.alias(name))
    return df.select(*cols)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="source", required=True, help="a workdir of generate_and_ingest.py")
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--workdir", default=None, help="default <from>-x<copies>")
    args = p.parse_args(argv)
    if args.copies < 1:
        p.error("--copies must be at least 1")
    source = Path(args.source).resolve()
    if not (source / "lake" / "raw").is_dir():
        p.error(f"{source / 'lake' / 'raw'} does not exist: run generate_and_ingest.py --workdir {source} first")
    work = Path(args.workdir or f"{source}-x{args.copies}").resolve()

    from functools import reduce

    from pyspark.sql import functions as F

    from inlife.config import load_config
    from inlife.generator.population import ID_BASE
    from inlife.progress import stage
    from inlife.session import build_session
    from inlife.tables import Tables

    conf = load_config("local", overrides=[f"lake.root={work / 'lake'}", "spark.show_console_progress=false"])
    spark = build_session(conf, app_name="inlife-bench-replicate")
    src_tables = Tables(spark, load_config("local", overrides=[f"lake.root={source / 'lake'}"]))
    dst_tables = Tables(spark, conf)
    top = src_tables.read(SUBSCRIBERS).agg(F.max("subscriber_id")).first()[0]
    if top is not None and top - ID_BASE >= SHIFT:
        p.error(f"{source}: subscriber indexes reach {top - ID_BASE:,}, beyond one copy's range of {SHIFT:,}; "
                f"the copies would overlap (replicate a smaller month)")
    result = {"from": str(source), "copies": args.copies, "workdir": str(work), "tables": {}}
    started_all = time.time()
    for d in sorted((source / "lake" / "raw").iterdir()):
        if not (d / "_delta_log").is_dir():
            continue
        name = raw(d.name)
        with stage(f"replicate {name}", conf) as st:
            df = src_tables.read(name)
            out = reduce(lambda a, b: a.unionByName(b), [copy_of(df, k) for k in range(args.copies)])
            commit = dst_tables.overwrite(name, out, partition_by=src_tables.partition_columns(name))
            # the engine reports the rows it wrote where it can; otherwise one more pass
            st.rows = commit.rows if commit.rows is not None else dst_tables.read(name).count()
        result["tables"][name] = {"rows": st.rows, "seconds": round(st.seconds, 2)}
    result["seconds"] = round(time.time() - started_all, 2)
    print(json.dumps(result))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: what one `Tables` call costs on each engine, on a small table (the fixed cost per table that
dominates at demo size).

    .venv/bin/python benchmarks/table_ops.py [--engine delta-spark|delta-rs] [--snapshot-partitions N]
        [--repeat 5]

Writes a 3-partition table of 3,000 rows under build/bench/table_ops, then times each call ``--repeat``
times: existence, partition columns, schema, version, the last 20 commits, a commit replacing one
partition, a read of one partition with a count, and (delta-spark) registration in the catalog. Prints one
JSON object of milliseconds per call.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", default="auto")
    p.add_argument("--snapshot-partitions", type=int, default=None, help="default: lake.snapshot_partitions")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    work = ROOT / "build" / "bench" / "table_ops"
    shutil.rmtree(work, ignore_errors=True)

    from inlife.config import load_config
    from inlife.session import build_session
    from inlife.tables import Tables

    overrides = [f"lake.root={work / 'lake'}", f"lake.metastore_dir={work / 'metastore'}",
                 f"lake.engine={args.engine}", "spark.show_console_progress=false"]
    if args.snapshot_partitions:
        overrides.append(f"lake.snapshot_partitions={args.snapshot_partitions}")
    conf = load_config("local", overrides=overrides)
    spark = build_session(conf, app_name="inlife-bench-table-ops")
    tables = Tables(spark, conf)
    name = "smoke.ops"
    df = spark.createDataFrame([(i, f"2024-0{1 + i % 3}", float(i)) for i in range(3000)],
                               "id long, month string, x double")
    tables.overwrite_partitions(name, df, partition_by=["month"])
    path, engine = tables.location(name), tables.engine
    calls = {
        "exists": lambda: engine.exists(path),
        "partition_columns": lambda: engine.partition_columns(path),
        "schema": lambda: engine.schema(path),
        "version": lambda: engine.version(path),
        "history_20": lambda: engine.history(path, 20),
        "commit_one_partition": lambda: tables.overwrite_partitions(name, df.where("month = '2024-02'")),
        "read_one_partition_and_count": lambda: tables.read(name, partitions={"month": "2024-02"}).count(),
    }
    if tables.catalog_enabled:
        calls["register"] = lambda: tables.register(name)
    out = {"engine": engine.name, "repeat": args.repeat,
           "snapshot_partitions": spark.conf.get("spark.databricks.delta.snapshotPartitions", None)}
    for label, call in calls.items():
        started = time.time()
        for _ in range(args.repeat):
            call()
        out[f"{label}_ms"] = round((time.time() - started) / args.repeat * 1000, 1)
    print(json.dumps(out))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

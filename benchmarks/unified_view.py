"""Benchmark: voice_monthly against DuckDB on the same data files, and the whole unified-view build.

    .venv/bin/python benchmarks/unified_view.py --subscribers 1000000 [--months 1] [--reuse]
        [--repeat 2] [--skip-build | --skip-comparison]

1. Generates and ingests data (or reuses build/bench/<N>x<M> from an earlier run of this or
   generate_and_ingest.py).
2. Builds intermediate.voice_monthly for the last month with the project's code (computed in full, written
   nowhere: Spark's noop sink) and runs the equivalent DuckDB query over the same raw Delta data files; checks
   that both give the same rows; reports seconds for both (the better of ``--repeat`` runs) and the ratio.
   ``--skip-comparison`` leaves this out (at 10M subscribers it is ~15 minutes before the build starts).
3. Builds every intermediate table and the view month by month with the jobs' code (validation included,
   reported apart) and reports seconds per stage and per input row.
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from inlife.tables.catalogue import BILLING, VOICE_CDR

ROOT = Path(__file__).resolve().parents[1]
os.environ["GX_ANALYTICS_ENABLED"] = "false"


def duckdb_voice_sql(files: list[str], month: str, call_types, competitor, peak, late_from_day: int = 21) -> str:
    """The same summary as inlife.intermediate.voice.voice_monthly, in DuckDB SQL."""
    from inlife.months import add_months

    cols = []
    for ct in call_types:
        for d in ("MO", "MT"):
            p = f"voice_{ct.lower()}_{d.lower()}"
            cols.append(f"sum(CASE WHEN call_type = '{ct}' AND direction = '{d}' THEN minutes ELSE 0 END) AS {p}_min")
            cols.append(f"count(*) FILTER (WHERE call_type = '{ct}' AND direction = '{d}') AS {p}_calls")
    comp = ", ".join(f"'{n}'" for n in competitor)
    file_list = ", ".join(f"'{f}'" for f in files)
    return f"""
    WITH calls AS (
      SELECT subscriber_id, call_type, direction, peer_province, peer_number, charge, duration_sec,
             duration_sec / 60.0 AS minutes, day(start_time) AS d, hour(start_time) AS h,
             dayofweek(start_time) AS dow
      FROM read_parquet([{file_list}])
      WHERE start_time >= TIMESTAMPTZ '{month}-01 00:00:00' AND start_time < TIMESTAMPTZ '{add_months(month, 1)}-01 00:00:00'
    ), summary AS (
      SELECT subscriber_id, {", ".join(cols)},
        sum(CASE WHEN direction = 'MO' THEN minutes ELSE 0 END) AS voice_mo_min,
        sum(CASE WHEN direction = 'MT' THEN minutes ELSE 0 END) AS voice_mt_min,
        sum(minutes) AS voice_total_min,
        count(*) FILTER (WHERE direction = 'MO') AS voice_mo_calls,
        count(*) FILTER (WHERE direction = 'MT') AS voice_mt_calls,
        count(*) AS voice_total_calls, sum(charge) AS voice_charge,
        count(DISTINCT d) AS voice_active_days,
        sum(CASE WHEN h >= {peak[0]} AND h < {peak[1]} THEN minutes ELSE 0 END) AS voice_peak_min,
        sum(CASE WHEN NOT (h >= {peak[0]} AND h < {peak[1]}) THEN minutes ELSE 0 END) AS voice_offpeak_min,
        sum(CASE WHEN dow IN (0, 6) THEN minutes ELSE 0 END) AS voice_weekend_min,
        sum(CASE WHEN d >= {late_from_day} THEN minutes ELSE 0 END) AS late_min,
        sum(CASE WHEN call_type IN ('LD_INTRA','LD_INTER','LD_INTL') AND direction = 'MO' THEN minutes ELSE 0 END) AS voice_ld_mo_min,
        sum(CASE WHEN call_type IN ('LD_INTRA','LD_INTER','LD_INTL') AND direction = 'MO' THEN charge ELSE 0 END) AS voice_ld_mo_charge,
        sum(CASE WHEN call_type IN ('LD_INTRA','LD_INTER','LD_INTL') AND direction = 'MO' THEN ceil(minutes) END) AS ld_billed_min,
        sum(CASE WHEN call_type IN ('ROAM_INTRA','ROAM_INTER','ROAM_INTL','VPN_ROAM') THEN minutes ELSE 0 END) AS voice_roam_min,
        count(*) FILTER (WHERE direction = 'MO' AND peer_number IN ({comp})) AS competitor_service_calls
      FROM calls GROUP BY subscriber_id
    ), ld AS (
      SELECT subscriber_id, arg_max(peer_province, (m, peer_province)) AS top_ld_province,
             max(m) / sum(m) AS top_ld_province_share
      FROM (SELECT subscriber_id, peer_province, sum(duration_sec) AS m FROM calls
            WHERE call_type = 'LD_INTER' GROUP BY ALL)
      GROUP BY subscriber_id
    )
    SELECT s.* EXCLUDE (ld_billed_min, late_min), voice_peak_min / nullif(voice_total_min, 0) AS voice_peak_share,
           late_min / nullif(voice_total_min, 0) AS voice_late_share,
           voice_total_min / nullif(voice_total_calls, 0) AS voice_avg_call_min,
           voice_ld_mo_charge / nullif(ld_billed_min, 0) AS ld_unit_price,  -- over billed (started) minutes
           ld.top_ld_province, ld.top_ld_province_share
    FROM summary s LEFT JOIN ld USING (subscriber_id)
    """


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, required=True)
    p.add_argument("--months", type=int, default=1)
    p.add_argument("--workdir", default=None)
    p.add_argument("--reuse", action="store_true", help="reuse generated and ingested data of an earlier run")
    p.add_argument("--skip-build", action="store_true", help="only the voice_monthly comparison")
    p.add_argument("--skip-comparison", action="store_true", help="only the build (no DuckDB comparison)")
    p.add_argument("--repeat", type=int, default=2,
                   help="runs of each side of the comparison; the better is reported (the first also warms the JVM)")
    p.add_argument("--only", default=None,
                   help="build only these tables of the month, comma-separated (voice_monthly,...,customer_view); "
                        "the others are read as they are in the lake")
    args = p.parse_args(argv)
    if args.skip_build and args.skip_comparison:
        p.error("--skip-build and --skip-comparison together leave nothing to measure")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    work = Path(args.workdir or ROOT / "build" / "bench" / f"{args.subscribers}x{args.months}").resolve()
    lake = work / "lake"
    result: dict = {"subscribers": args.subscribers, "months": args.months}

    if not (args.reuse and (lake / "raw" / "voice_cdr" / "_delta_log").exists()):
        # stdout carries the JSON; stderr (progress) passes through
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_and_ingest.py"),
                              "--subscribers", str(args.subscribers), "--months", str(args.months),
                              "--workdir", str(work)], check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        result["generate_and_ingest"] = json.loads(out.stdout.strip().splitlines()[-1])

    import deltalake
    import duckdb

    from inlife.config import load_config
    from inlife.intermediate.build import build_intermediate
    from inlife.intermediate.voice import voice_monthly
    from inlife.months import batch_window
    from inlife.session import build_session
    from inlife.sources import load_sources
    from inlife.tables import Between, Tables
    from inlife.tables.delta_rs import file_uris
    from inlife.unified.build import build_view
    from inlife.unified.dictionary import dimensions

    conf = load_config("local", overrides=[f"lake.root={lake}", f"landing.root={work / 'landing'}",
                                           f"quality.data_docs_dir={work / 'data_docs'}",
                                           "spark.show_console_progress=false"])
    spark = build_session(conf, app_name="inlife-bench-view")
    tables = Tables(spark, conf)
    result["engine"] = tables.engine.name
    months = sorted({r.m for r in tables.read(BILLING).selectExpr("bill_month as m").distinct().collect()})
    month = months[-1]
    first, last = batch_window(month, conf.get("intermediate.late_days"))
    cdr = tables.read(VOICE_CDR, partitions={"batch_date": Between(first.isoformat(), last.isoformat())})
    contract = load_sources(conf)
    args_v = (month, dimensions()["ct"], contract.competitor_service_numbers, conf.get("intermediate.peak_hours"),
              conf.get("intermediate.late_month_day"))
    cdr_rows = cdr.count()

    if not args.skip_comparison:
        # -- voice_monthly: Spark (computed in full, written to the noop sink) ------------------------------
        timings = []
        for _ in range(args.repeat):  # the first run also warms the JVM; report the better
            started = time.time()
            voice_monthly(cdr, *args_v).write.format("noop").mode("overwrite").save()
            timings.append(time.time() - started)
        spark_seconds = min(timings)

        # -- the same in DuckDB over the same data files ----------------------------------------------------
        dt = deltalake.DeltaTable(str(lake / "raw" / "voice_cdr"))
        files = file_uris(dt, [("batch_date", ">=", first.isoformat()), ("batch_date", "<=", last.isoformat())])
        con = duckdb.connect()
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        con.execute(f"SET threads = {os.cpu_count()}")
        sql = duckdb_voice_sql(files, *args_v)
        timings = []
        for _ in range(args.repeat):
            started = time.time()
            con.execute(f"CREATE OR REPLACE TABLE duck AS {sql}")
            timings.append(time.time() - started)
        duck_seconds = min(timings)

        # -- agreement: Spark's result written once, compared column by column in DuckDB ---------------------
        spark_out = work / "voice_monthly_spark.parquet"
        voice_monthly(cdr, *args_v).write.mode("overwrite").parquet(str(spark_out))
        columns = [c for c in con.execute("SELECT * FROM duck LIMIT 0").fetchdf().columns if c != "subscriber_id"]
        checks = []
        for c in columns:
            if c == "top_ld_province":
                checks.append(f"sum(CASE WHEN s.{c} IS DISTINCT FROM d.{c} THEN 1 ELSE 0 END)")
            else:
                checks.append(f"sum(CASE WHEN abs(coalesce(s.{c}, 0) - coalesce(d.{c}, 0)) > 1e-6 "
                              f"OR (s.{c} IS NULL) <> (d.{c} IS NULL) THEN 1 ELSE 0 END)")
        diff = con.execute(f"""
            SELECT count(*) AS rows, {', '.join(f'{chk} AS {c}' for chk, c in zip(checks, columns))},
                   sum(CASE WHEN s.subscriber_id IS NULL OR d.subscriber_id IS NULL THEN 1 ELSE 0 END) AS unmatched
            FROM read_parquet('{spark_out}/*.parquet') s FULL JOIN duck d USING (subscriber_id)""").fetchdf()
        mismatches = {c: int(v) for c, v in diff.iloc[0].items() if c != "rows" and v}
        result["voice_monthly"] = {
            "month": month, "cdr_rows": cdr_rows, "subscribers": int(diff.iloc[0]["rows"]),
            "spark_seconds": round(spark_seconds, 2), "duckdb_seconds": round(duck_seconds, 2),
            "ratio_spark_to_duckdb": round(spark_seconds / duck_seconds, 2),
            "results_agree": not mismatches, "mismatched_columns": mismatches}

    # -- the whole build, month by month -------------------------------------------------------------------
    if not args.skip_build:
        only = args.only.split(",") if args.only else None
        stages = {}
        started_all = time.time()
        month_wall = 0.0
        for m in months:
            started_month = time.time()
            if only is None:
                results = build_intermediate(spark, conf, m) + build_view(spark, conf, m)
            else:
                intermediate = [t for t in only if t != "customer_view"]
                results = ((build_intermediate(spark, conf, m, only=intermediate) if intermediate else [])
                           + (build_view(spark, conf, m) if "customer_view" in only else []))
            month_wall = time.time() - started_month
            for r in results:
                if m == month:
                    stages[r.table] = {"rows": r.rows, "build_seconds": round(r.build_seconds, 2),
                                       "validation_seconds": round(r.validation_seconds, 2)}
        total = sum(s["build_seconds"] for s in stages.values())
        result["unified_view_build"] = {
            "month": month, "stages": stages, "build_seconds": round(total, 2),
            "validation_seconds": round(sum(s["validation_seconds"] for s in stages.values()), 2),
            "all_months_seconds": round(time.time() - started_all, 2),
            # the month's wall time: its stages plus what runs between them (reading table logs, the view's
            # active-subscriber count, commits)
            "month_wall_seconds": round(month_wall, 2),
            "cdr_rows": cdr_rows, "microseconds_per_cdr_row": round(total / max(cdr_rows, 1) * 1e6, 3),
            "wall_microseconds_per_cdr_row": round(month_wall / max(cdr_rows, 1) * 1e6, 3)}
    print(json.dumps(result))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

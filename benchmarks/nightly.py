"""Benchmark: the nightly run (`daily`) against the monthly build, on the same generated data.

    .venv/bin/python benchmarks/nightly.py --subscribers 20000 [--reuse]

1. Generates 2 months of data for N subscribers (build/bench/nightly_<N>/).
2. The monthly build of the first month, timed stage by stage: ingest, intermediate, view, value, segments,
   tags and matrices, targets and exports (no models: none is trained here, so nothing is scored).
3. The nightly run of day 10 of the second month (days 1-9 ingested first, untimed), timed: ingest that day's batches, refresh the fast-moving
   factors over the first month's state, screening tags, daily targets and work orders.
Prints one JSON object: seconds of both, their ratio, rows, work orders.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("INLIFE_CONTACT_KEY", "inlife benchmark: generated data only")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=20000)
    p.add_argument("--start-month", default="2024-01")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--reuse", action="store_true", help="keep the generated landing files of an earlier run")
    args = p.parse_args(argv)

    from inlife.config import load_config
    from inlife.months import add_months
    from inlife.session import build_session

    work = ROOT / "build" / "bench" / f"nightly_{args.subscribers}"
    conf = load_config("local", overrides=[
        f"lake.root={work / 'lake'}", f"landing.root={work / 'landing'}", f"truth.root={work / 'truth'}",
        f"mlflow.tracking_uri=sqlite:///{work / 'mlflow.db'}", f"mlflow.artifact_location={work / 'mlartifacts'}",
        f"campaigns.exports_root={work / 'exports'}", f"quality.data_docs_dir={work / 'data_docs'}",
        "spark.show_console_progress=false"])
    spark = build_session(conf, app_name="inlife-bench-nightly")
    result = {"benchmark": "nightly", "subscribers": args.subscribers}
    month = args.start_month
    if not (args.reuse and (work / "landing" / "_manifest.json").exists()):
        from inlife_jobs import generate_sample_data
        t = time.time()
        generate_sample_data.run(spark, conf, subscribers=args.subscribers, months=2, start_month=month, seed=args.seed)
        result["generate_seconds"] = round(time.time() - t, 1)
    for folder in ("lake", "exports"):
        shutil.rmtree(work / folder, ignore_errors=True)

    from inlife.pipeline import run_month
    t = time.time()
    monthly = run_month(spark, conf, month, score=False, evaluate=False)
    result["monthly_seconds"] = round(time.time() - t, 1)
    result["monthly_stages"] = {s.stage: s.seconds for s in monthly.stages}

    from datetime import date, timedelta

    from inlife.ingest.pipeline import Ingestion
    from inlife.marketing.targeting import daily
    day = f"{add_months(month, 1)}-10"
    first = date.fromisoformat(f"{add_months(month, 1)}-01")
    t = time.time()     # the nights before, untimed: the month-to-date factors need days 1-9
    Ingestion(spark, conf).run("all", [first + timedelta(days=k) for k in range(9)])
    result["ingest_days_1_9_seconds"] = round(time.time() - t, 1)
    t = time.time()
    night = daily(spark, conf, day, ingest=True)
    result["daily_seconds"] = round(time.time() - t, 1)
    result["daily_day"] = day
    result["daily_contacts"] = sum(night.counts.values())
    result["daily_work_orders"] = sum(e["rows"] for e in night.exports if e["channel"] == "customer_manager")
    result["daily_to_monthly_ratio"] = round(result["daily_seconds"] / result["monthly_seconds"], 3)
    print(json.dumps(result))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

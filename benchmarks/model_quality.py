"""Benchmark: the churn model against the oracle — the generator's true probabilities.

    .venv/bin/python benchmarks/model_quality.py --subscribers 100000 [--months 4] [--reuse] [--no-validation]

Generates data (or reuses build/bench/<N>x<M>), runs the pipeline up to the view and outcomes for every
month, trains the churn model (conf/models/churn.yaml: validated on the last labelled month), and scores the
generator's true churn probabilities against the same realised outcomes of that month. Prints one JSON
object: validation AUC-ROC, oracle AUC-ROC, their ratio, lift at the top 10 % (the model's and the
oracle's), training seconds.
Targets (issue 5): ratio >= 0.97 and top-decile lift >= 3 at 100k subscribers.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from inlife.tables.catalogue import BILLING, OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
os.environ["GX_ANALYTICS_ENABLED"] = "false"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, required=True)
    p.add_argument("--months", type=int, default=4)
    p.add_argument("--workdir", default=None)
    p.add_argument("--reuse", action="store_true", help="reuse generated data and built tables")
    p.add_argument("--model", default="churn")
    p.add_argument("--no-validation", action="store_true",
                   help="skip Great Expectations in ingestion and the view builds (they do not change the data, "
                        "only the time: for large runs where model quality is what is measured)")
    args = p.parse_args(argv)
    work = Path(args.workdir or ROOT / "build" / "bench" / f"{args.subscribers}x{args.months}").resolve()
    result: dict = {"subscribers": args.subscribers, "months": args.months, "model": args.model,
                    "validation": not args.no_validation}

    if not (args.reuse and (work / "lake" / "raw" / "voice_cdr" / "_delta_log").exists()):
        # stdout carries the JSON; stderr (progress) passes through
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_and_ingest.py"),
                              "--subscribers", str(args.subscribers), "--months", str(args.months),
                              "--workdir", str(work), *(["--no-validation"] if args.no_validation else []),
                              *(["--reuse"] if args.reuse else [])],
                             check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        result["generate_and_ingest"] = json.loads(out.stdout.strip().splitlines()[-1])

    from pyspark.sql import functions as F

    from inlife.config import load_config
    from inlife.models.metrics import binary_metrics, histogram
    from inlife.models.train import train_model
    from inlife.months import add_months
    from inlife.pipeline import run_month
    from inlife.session import build_session
    from inlife.tables import Tables

    conf = load_config("local", overrides=[
        f"lake.root={work / 'lake'}", f"landing.root={work / 'landing'}", f"truth.root={work / 'truth'}",
        f"quality.data_docs_dir={work / 'data_docs'}", "spark.show_console_progress=false",
        f"mlflow.tracking_uri=sqlite:///{work / 'mlflow.db'}", f"mlflow.artifact_location={work / 'mlartifacts'}",
        f"quality.enabled={'false' if args.no_validation else 'true'}"])
    spark = build_session(conf, app_name="inlife-bench-model")
    tables = Tables(spark, conf)
    months = sorted({r.m for r in tables.read(BILLING).selectExpr("bill_month as m").distinct().collect()})
    if not (args.reuse and tables.exists(OUTCOMES)):
        started = time.time()
        with contextlib.redirect_stdout(sys.stderr):   # the pipeline's progress; stdout carries the JSON
            for m in months:
                run_month(spark, conf, m, ingest=None, score=False, rules=False)
        result["pipeline_seconds"] = round(time.time() - started, 1)

    started = time.time()
    with contextlib.redirect_stdout(sys.stderr):
        res = train_model(spark, conf, args.model)
    result["training_seconds"] = round(time.time() - started, 1)
    result.update(version=res.version, alias=res.alias, algorithm=res.algorithm)

    # The validation month is the last one with the label known (what the spec's split takes).
    label = "churned_next_1m"
    outcomes = tables.read(OUTCOMES).where(F.col(label).isNotNull())
    vmonth = outcomes.agg(F.max("month")).first()[0]
    # truth of month m+1 is the probability of churning during m+1: the label of view month m
    truth = (spark.read.parquet(str(work / "truth" / "subscriber_month"))
             .where(F.col("month") == add_months(vmonth, 1))
             .select("subscriber_id", F.col("true_churn_prob").cast("double").alias("p")))
    scored = outcomes.where(F.col("month") == vmonth).join(truth, "subscriber_id")
    # The oracle through the same metrics code as the model (one aggregation): its AUC, and its lift at the
    # top 10 %, the most any model could reach on this month.
    oracle = binary_metrics(histogram(scored, "p", label))
    auc = res.metrics["auc_roc"]
    result.update({
        "validation_month": vmonth, "validation_rows": int(oracle["n"]), "churn_rate": round(oracle["base_rate"], 4),
        "auc_roc": round(auc, 4), "auc_pr": round(res.metrics["auc_pr"], 4),
        "oracle_auc_roc": round(oracle["auc_roc"], 4), "ratio_to_oracle": round(auc / oracle["auc_roc"], 4),
        "lift_top10": round(res.metrics["lift_top10"], 2), "oracle_lift_top10": round(oracle["lift_top10"], 2),
        "capture_top10": round(res.metrics["capture_top10"], 4),
        "targets": {"ratio_to_oracle": 0.97, "lift_top10": 3.0}})
    print(json.dumps(result))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

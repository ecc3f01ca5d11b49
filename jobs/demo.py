"""The demo, as `make demo` runs it: generated data through the whole monthly pipeline, in local mode.

1. generates 3 months of extracts for 20,000 subscribers (jobs/generate_sample_data.py);
2. runs the pipeline month by month (ingest, intermediate, view, value, segments, scores, tags and matrices,
   targets and channel exports, evaluation of the previous month's campaigns);
3. once labels exist (a month's churn is known after the next month), trains the demo models, which the
   gate promotes to champion, and scores with them from then on;
4. after each month's targets, simulates the channels' responses (they land as next month's
   campaign_responses batches and are ingested with it); after the last month, ingests the last responses,
   evaluates the last campaigns and runs one nightly run (`daily`) to show the next morning's work orders;
5. prints a summary: subscribers per value tier and churn grade, model versions, recommendations per
   policy, targets per channel, campaign uplift, and where the tables, exports, MLflow and Data Docs are.
"""
from __future__ import annotations

import json
import time

from inlife.months import add_months


def add_arguments(parser) -> None:
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--start-month", default="2024-01")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--models", default="churn,crbt_silent_response",
                        help="comma-separated model specs (conf/models) to train once labels exist")
    parser.add_argument("--reuse", action="store_true", help="keep the landing files of an earlier run")


def run(spark, conf, subscribers=20000, months=3, start_month="2024-01", seed=42,
        models="churn,crbt_silent_response", reuse=False) -> int:
    from datetime import timedelta
    from pathlib import Path

    from inlife.campaigns.run import daily
    from inlife.errors import InlifeError
    from inlife.generator.responses import RESPONSE_DAYS, simulate
    from inlife.ingest.pipeline import Ingestion
    from inlife.models.train import train_model
    from inlife.months import month_end
    from inlife.pipeline import MonthResult, evaluate_previous, run_month, summary
    from inlife.tables import Tables
    from inlife_jobs import generate_sample_data

    started = time.time()
    print(f"[demo] tables on the {Tables(spark, conf).engine.name} engine (lake.engine: "
          f"{conf.get('lake.engine')})", flush=True)
    if not (reuse and (Path(conf.path("landing.root")) / "_manifest.json").exists()):
        generate_sample_data.run(spark, conf, subscribers=subscribers, months=months, start_month=start_month,
                                 seed=seed)
    month_list = [add_months(start_month, k) for k in range(months)]

    def train(result):
        for name in [x for x in models.split(",") if x]:
            try:
                try:
                    res = train_model(spark, conf, name)
                except Exception as first:
                    if isinstance(first, InlifeError):       # a reason of ours (no labels...): no retry
                        raise
                    from inlife.errors import describe
                    print(f"[demo] training {name} failed ({describe(first)}); clearing Spark's cache and "
                          f"trying once more", flush=True)
                    spark.catalog.clearCache()
                    res = train_model(spark, conf, name)
            except Exception as exc:  # the demo goes on without this model; the reason is shown
                import traceback

                from inlife.errors import describe
                print(f"[demo] training {name} failed, the month is scored without it: {describe(exc)} "
                      f"(retry: inlife train --model {name} --verbose)", flush=True)
                if conf.get("spark.log_level") == "INFO":      # --verbose: the whole story
                    traceback.print_exc()
                continue
            print(json.dumps({"model": name, "version": res.version, "alias": res.alias, "gate": res.gate,
                              "metrics": {k: round(v, 4) for k, v in res.metrics.items()
                                          if k in ("auc_roc", "auc_pr", "lift_top10")}}), flush=True)

    def respond(result):
        out = simulate(spark, conf, result.month, seed=seed)
        print(f"[demo] simulated responses to the {result.month} targets: {out['answers']}", flush=True)

    for i, m in enumerate(month_list):
        # Labels of month m-1 are complete once month m is built: from the third month there are two
        # labelled months (train on one, validate on the other), so models are trained before scoring.
        run_month(spark, conf, m, before_scoring=train if i >= 2 else None, after_targets=respond)
    # The last month's contacts are worked in the month after: ingest their responses and evaluate them
    # (retention and revenue after stay unknown: that month's view does not exist).
    last = month_list[-1]
    first_after = month_end(last) + timedelta(days=1)
    Ingestion(spark, conf).run("campaign_responses",
                               [first_after + timedelta(days=k) for k in range(RESPONSE_DAYS)])
    evaluate_previous(spark, conf, MonthResult(last), month=last)
    # One nightly run over the last month's balances etc.: the next morning's work orders
    night = (month_end(last) - timedelta(days=1)).isoformat()
    print("\n".join(daily(spark, conf, night, ingest=False).lines()), flush=True)
    print(summary(spark, conf, last))
    print(f"demo finished in {time.time() - started:.0f}s")
    return 0

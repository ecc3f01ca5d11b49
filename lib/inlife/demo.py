"""The demo, as `make demo` runs it: generated data through the whole monthly pipeline, in local mode.

1. generates months of extracts for a simulated base (inlife.generator);
2. ingests every generated month at once, as an operator backfills its history when it starts (one pass
   and one commit per source), then runs the pipeline month by month (the month's campaign responses,
   intermediate, view, value, segments, scores, tags and matrices, targets and channel exports, evaluation
   of the previous month's campaigns);
3. once labels exist (a month's churn is known after the next month), trains the demo models, which the
   gate promotes to champion, and scores with them from then on;
4. after each month's targets, simulates the channels' responses (they land as next month's
   campaign_responses batches and are ingested with it); after the last month, ingests the last responses,
   evaluates the last campaigns and runs one nightly run to show the next morning's work orders;
5. prints a summary: subscribers per value tier and churn grade, model versions, recommendations per
   policy, targets per channel, campaign uplift, and where the tables, exports, MLflow and Data Docs are.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from inlife.config import Config
from inlife.errors import InlifeError, describe
from inlife.months import add_months, month_end

# Contact ids are keyed with a secret (campaigns.contact_key_env); generated data needs none, so the demo
# keys them with this one when the variable is not set.
DEMO_CONTACT_KEY = "inlife demo: generated data only"

# Labels of month m-1 are complete once month m is built: from the third month there are two labelled
# months (train on one, validate on the other), so models are trained before that month is scored.
FIRST_TRAINING_MONTH = 2


@dataclass(frozen=True)
class DemoRun:
    subscribers: int = 20000
    months: int = 3
    start_month: str = "2024-01"
    seed: int = 42
    models: tuple[str, ...] = ("churn", "crbt_silent_response")
    reuse: bool = False          # keep the landing files of an earlier run


def run_demo(spark: SparkSession, conf: Config, run: DemoRun) -> None:
    from inlife.generator.responses import SOURCE as RESPONSES
    from inlife.pipeline import ingest_months, run_month, summary
    from inlife.tables import Tables

    started = time.time()
    print(f"[demo] tables on the {Tables(spark, conf).engine.name} engine (lake.engine: "
          f"{conf.get('lake.engine')})", flush=True)
    key_env = conf.get("campaigns.contact_key_env")
    if not os.environ.get(key_env):
        os.environ[key_env] = DEMO_CONTACT_KEY
        print(f"[demo] contact ids keyed with the demo's own key ({key_env} is not set: a real run needs a "
              f"secret one)", flush=True)
    generate(spark, conf, run)
    months = [add_months(run.start_month, k) for k in range(run.months)]
    ingest_months(spark, conf, months)     # the responses land later, as each month's targets are answered
    for i, m in enumerate(months):
        run_month(spark, conf, m, ingest=RESPONSES,
                  before_scoring=_trainer(spark, conf, run.models) if i >= FIRST_TRAINING_MONTH else None,
                  after_targets=_responder(spark, conf, run.seed))
    close_last_month(spark, conf, months[-1])
    print(summary(spark, conf, months[-1]))
    print(f"demo finished in {time.time() - started:.0f}s")


def generate(spark: SparkSession, conf: Config, run: DemoRun) -> None:
    from inlife.generator import Params
    from inlife.generator import generate as generate_landing

    if run.reuse and (Path(conf.path("landing.root")) / "_manifest.json").exists():
        print(f"[demo] reusing the landing files in {conf.path('landing.root')}", flush=True)
        return
    generate_landing(spark, conf, Params.from_conf(conf, run.subscribers, run.months, run.start_month, run.seed))


def train_models(spark: SparkSession, conf: Config, names: tuple[str, ...]) -> None:
    """Train each model; one that cannot train for a reason of ours (too few labels at this size) is
    skipped with that reason, and any other failure stops the demo with its cause."""
    from inlife.models.train import train_model

    for name in names:
        try:
            res = train_model(spark, conf, name)
        except InlifeError as exc:
            print(f"[demo] {name} not trained, the month is scored without it: {describe(exc)} "
                  f"(inlife train --model {name} --verbose)", flush=True)
            continue
        print(json.dumps({"model": name, "version": res.version, "alias": res.alias, "gate": res.gate,
                          "metrics": {k: round(v, 4) for k, v in res.metrics.items()
                                      if k in ("auc_roc", "auc_pr", "lift_top10")}}), flush=True)


def _trainer(spark: SparkSession, conf: Config, names: tuple[str, ...]):
    return lambda result: train_models(spark, conf, names)


def _responder(spark: SparkSession, conf: Config, seed: int):
    from inlife.generator.responses import simulate

    def respond(result) -> None:
        out = simulate(spark, conf, result.month, seed=seed)
        print(f"[demo] simulated responses to the {result.month} targets: {out['answers']}", flush=True)
    return respond


def close_last_month(spark: SparkSession, conf: Config, last: str) -> None:
    """The last month's contacts are worked in the month after: ingest their responses and evaluate them
    (retention and revenue after stay unknown: that month's view does not exist); then one nightly run over
    the month's last days shows the next morning's work orders."""
    from inlife.generator.responses import RESPONSE_DAYS
    from inlife.ingest.pipeline import Ingestion
    from inlife.marketing.targeting import daily
    from inlife.pipeline import MonthResult, evaluate_previous

    first_after = month_end(last) + timedelta(days=1)
    Ingestion(spark, conf).run("campaign_responses", [first_after + timedelta(days=k) for k in range(RESPONSE_DAYS)])
    evaluate_previous(spark, conf, MonthResult(last), month=last)
    night = (month_end(last) - timedelta(days=1)).isoformat()
    print("\n".join(daily(spark, conf, night, ingest=False).lines()), flush=True)

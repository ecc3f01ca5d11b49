"""The demo, as `make demo` runs it: generated data through the whole monthly pipeline, in local mode
(inlife.demo says what it does, step by step).

    inlife demo [--subscribers 20000] [--months 3] [--models churn,crbt_silent_response] [--reuse]
"""
from __future__ import annotations

from inlife.demo import DemoRun, run_demo

DEFAULTS = DemoRun()
MODELS = ",".join(DEFAULTS.models)


def add_arguments(parser) -> None:
    parser.add_argument("--subscribers", type=int, default=DEFAULTS.subscribers)
    parser.add_argument("--months", type=int, default=DEFAULTS.months)
    parser.add_argument("--start-month", default=DEFAULTS.start_month)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument("--models", default=MODELS,
                        help="comma-separated model specs (conf/models) to train once labels exist")
    parser.add_argument("--reuse", action="store_true", help="keep the landing files of an earlier run")


def run(spark, conf, subscribers=DEFAULTS.subscribers, months=DEFAULTS.months, start_month=DEFAULTS.start_month,
        seed=DEFAULTS.seed, models=MODELS, reuse=False) -> int:
    run_demo(spark, conf, DemoRun(subscribers, months, start_month, seed,
                                  tuple(m for m in models.split(",") if m), reuse))
    return 0

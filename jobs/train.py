"""Train a model from its spec (conf/models/<name>.yaml), log it to MLflow, register it, run the gate.

    inlife train --model churn
Ends by printing one JSON line: {"model", "version", "alias", "metrics"}.
"""
from __future__ import annotations

import json

from inlife.models.train import train_model


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True,
                        help="spec name in models.specs_dir (conf/models/<name>.yaml) or a path to a spec file")


def run(spark, conf, model: str) -> int:
    result = train_model(spark, conf, model)
    print(json.dumps(result.summary()), flush=True)
    return 0

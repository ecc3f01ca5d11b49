"""Score a month with every model's champion into scores.model_scores (reason codes, drift in MLflow).

    inlife score --month 2024-03
Ends by printing one JSON line: table, month, rows, the model versions used, PSI values.
"""
from __future__ import annotations

import json

from inlife.models.scoring import score_month


def add_arguments(parser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM")


def run(spark, conf, month: str) -> int:
    print(json.dumps(score_month(spark, conf, month)), flush=True)
    return 0

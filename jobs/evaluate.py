"""Campaign evaluation of month M's targets: evaluation.campaign_results (contacted, responded, converted,
retained, revenue after; uplift against the holdout with confidence intervals), evaluation.uplift_curve
(uplift at k, Qini) and evaluation.rule_precision (tag precision against next-month churn; tags and cells
below the floors).

    inlife evaluate --month 2024-03
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM: the state month the targets were issued from")


def run(spark, conf, month: str) -> int:
    from inlife.evaluation.build import build_evaluation

    result = build_evaluation(spark, conf, month)
    print("\n".join(result.lines()))
    return 0

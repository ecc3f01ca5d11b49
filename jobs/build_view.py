"""Build unified.customer_view for a month, and the outcomes of the month and the earlier months it completes.

    inlife build_view --month 2024-03
"""
from __future__ import annotations

from inlife.unified.build import build_view_and_outcomes


def add_arguments(parser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--no-outcomes", action="store_true", help="skip refreshing unified.outcomes")


def run(spark, conf, month: str, no_outcomes: bool = False) -> int:
    build_view_and_outcomes(spark, conf, month, outcomes=not no_outcomes)
    return 0

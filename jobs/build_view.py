"""Build unified.customer_view for a month (and the outcomes of earlier months that it completes).

    inlife build_view --month 2024-03
"""
from __future__ import annotations

from inlife.intermediate.common import add_months
from inlife.tables import Tables
from inlife.unified.build import VIEW, build_outcomes, build_view


def add_arguments(parser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--no-outcomes", action="store_true", help="skip refreshing unified.outcomes")


def run(spark, conf, month: str, no_outcomes: bool = False) -> int:
    build_view(spark, conf, month)
    if not no_outcomes:
        tables = Tables(spark, conf)
        # This month's data completes the labels of the months before it (1, 2 and 6 months on).
        for k in (0, 1, 2, 6):
            m = add_months(month, -k)
            if tables.exists(VIEW) and tables.read(VIEW, partitions={"month": m}).limit(1).count():
                build_outcomes(spark, conf, m)
    return 0

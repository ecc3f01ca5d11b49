"""The monthly pipeline for one or more months: ingest -> intermediate -> view -> scores -> tags and matrices.

    inlife pipeline --month 2024-03
    inlife pipeline --month 2024-01 --to 2024-03 [--no-ingest]
Several months ingest every batch of them first, as one backfill (each source in one pass and one commit),
then build month by month. Prints a progress line per stage and a summary of the last month.
"""
from __future__ import annotations

from inlife.months import months_between
from inlife.pipeline import ingest_months, run_month, summary


def add_arguments(parser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM (the first month with --to)")
    parser.add_argument("--to", default=None, help="last month, YYYY-MM")
    parser.add_argument("--no-ingest", action="store_true", help="the raw tables are already loaded")


def run(spark, conf, month: str, to: str | None = None, no_ingest: bool = False) -> int:
    months = months_between(month, to or month)
    if not no_ingest and len(months) > 1:
        ingest_months(spark, conf, months)        # a backfill: one pass and one commit per source
    for m in months:
        run_month(spark, conf, m, ingest=None if no_ingest or len(months) > 1 else "all")
    print(summary(spark, conf, months[-1]))
    return 0

"""The nightly run ("extract the factors overnight, give the tasks to customer managers next
morning"): ingest the day's batches, refresh the fast-moving factors (balance, recharge, complaints, bundle
end) over last month's view without rebuilding it, evaluate the screening tags (scores.tags_daily), and
emit the next morning's work orders and daily campaign pushes.

    inlife daily --day 2024-04-15 [--no-ingest]
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--day", required=True, help="YYYY-MM-DD: the day whose batches arrived tonight")
    parser.add_argument("--no-ingest", action="store_true", help="the day's batches are already ingested")
    parser.add_argument("--no-exports", action="store_true", help="write the tables only")


def run(spark, conf, day: str, no_ingest: bool = False, no_exports: bool = False) -> int:
    from inlife.marketing.targeting import daily

    result = daily(spark, conf, day, ingest=not no_ingest, write_exports=not no_exports)
    print("\n".join(result.lines()))
    return 0

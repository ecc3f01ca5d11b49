"""Target lists: marketing.targets, marketing.contact_history and the channel exports of one batch.

    inlife targets --month 2024-03      # the monthly campaigns over March's recommendations (worked in April)
    inlife targets --day 2024-04-15     # the daily campaigns over the day's screening tags (run `daily` for
                                        # the whole nightly run: ingest, refresh, screen, targets)
Campaigns and the contact policy: conf/campaigns.yaml. Exports: <campaigns.exports_root>/<channel>/<batch>/.
"""
from __future__ import annotations

from inlife.errors import JobError


def add_arguments(parser) -> None:
    g = parser.add_mutually_exclusive_group(required=True)
    g.add_argument("--month", help="YYYY-MM: the monthly campaigns")
    g.add_argument("--day", help="YYYY-MM-DD: the daily campaigns (no ingestion; see `inlife daily`)")
    parser.add_argument("--no-exports", action="store_true", help="write the tables only")


def run(spark, conf, month: str | None = None, day: str | None = None, no_exports: bool = False) -> int:
    from inlife.marketing.targeting import daily, targets_month

    if not (month or day):
        raise JobError("give --month or --day")
    result = (targets_month(spark, conf, month, write_exports=not no_exports) if month
              else daily(spark, conf, day, ingest=False, write_exports=not no_exports))
    print("\n".join(result.lines()))
    return 0

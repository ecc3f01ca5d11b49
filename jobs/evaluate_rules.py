"""Evaluate tags and marketing matrices: scores.tags + marketing.recommendations for a month, or the
retention screening tags for a day (scores.tags_daily).

    inlife evaluate_rules --month 2024-03
    inlife evaluate_rules --day 2024-03-15
"""
from __future__ import annotations

from inlife.errors import JobError
from inlife.marketing.build import build_daily_tags, build_recommendations


def add_arguments(parser) -> None:
    g = parser.add_mutually_exclusive_group(required=True)
    g.add_argument("--month", help="YYYY-MM: every tag and matrix")
    g.add_argument("--day", help="YYYY-MM-DD: the screening tags, over the latest state at or before the day")


def run(spark, conf, month: str | None = None, day: str | None = None) -> int:
    if not (month or day):
        raise JobError("give --month or --day")
    result = build_recommendations(spark, conf, month) if month else build_daily_tags(spark, conf, day)
    written = "new version" if result.rules_written else "unchanged"
    print(f"marketing.rules version {result.rules_version} ({written}); state month {result.month}")
    for p in result.published:
        print(f"  {p.table}: {p.rows} rows, version {p.version}")
    return 0

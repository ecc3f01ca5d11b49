"""Value index (AHP) and consumption segments of a month: scores.value, scores.group_value, scores.segments.

    inlife build_scores --month 2024-03 [--only value|segments]
Model scores are written by `inlife score`.
"""
from __future__ import annotations

from inlife.scores.build import build_segments, build_value


def add_arguments(parser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--only", choices=["value", "segments"], default=None)


def run(spark, conf, month: str, only: str | None = None) -> int:
    if only in (None, "value"):
        build_value(spark, conf, month)
    if only in (None, "segments"):
        build_segments(spark, conf, month)
    return 0

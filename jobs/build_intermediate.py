"""Build the month's intermediate tables (voice, social circle, VAS, billing, recharge, service, subscriber).

    inlife build_intermediate --month 2024-03 [--tables voice_monthly,social_circle]
"""
from __future__ import annotations

from inlife.intermediate.build import TABLES, build_intermediate


def add_arguments(parser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--tables", default=None, help=f"comma-separated subset of: {', '.join(TABLES)}")


def run(spark, conf, month: str, tables: str | None = None) -> int:
    build_intermediate(spark, conf, month, tables.split(",") if tables else None)
    return 0

"""The demo: the main job on the embedded local default, as `make demo` runs it.

For now it runs the smoke job (write, partition-overwrite and read back a Delta table); as the pipeline
grows it becomes generate -> ingest -> ... on generated data.
"""
from __future__ import annotations

from inlife_jobs import smoke


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=30_000, help="rows per month for the smoke table")


def run(spark, conf, rows: int = 30_000) -> int:
    return smoke.run(spark, conf, rows=rows)

"""Smoke test of the whole path: write a partitioned Delta table, overwrite one partition, read it back.

    inlife smoke [--rows N]
Prints the table's location and version, and exits non-zero if the read-back differs from what was written.
"""
from __future__ import annotations

from pyspark.sql import functions as F

from inlife.errors import InlifeError
from inlife.progress import stage
from inlife.tables import Tables
from inlife.tables.catalogue import SMOKE_EVENTS

MONTHS = ["2024-01", "2024-02", "2024-03"]


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=30_000, help="rows per month (default 30000)")


def events(spark, months, rows, tag):
    """``rows`` synthetic events per month, each carrying ``tag`` so a rewrite is visible."""
    month_df = spark.createDataFrame([(m,) for m in months], "month string")
    return (spark.range(rows).crossJoin(month_df)
            .select(F.col("id").alias("event_id"), "month", (F.col("id") % 97).cast("double").alias("amount"),
                    F.lit(tag).alias("tag")))


def run(spark, conf, rows: int = 30_000) -> int:
    tables = Tables(spark, conf)
    with stage("smoke: write 3 months", conf) as st:
        st.rows = tables.overwrite(SMOKE_EVENTS, events(spark, MONTHS, rows, "first")).rows
    with stage("smoke: overwrite 2024-02", conf) as st:
        st.rows = tables.overwrite_partitions(SMOKE_EVENTS, events(spark, ["2024-02"], rows, "second")).rows
    with stage("smoke: read back", conf) as st:
        got = {(r["month"], r["tag"]): r["n"] for r in
               tables.read(SMOKE_EVENTS).groupBy("month", "tag").agg(F.count("*").alias("n")).collect()}
        st.rows = sum(got.values())
    expected = {("2024-01", "first"): rows, ("2024-02", "second"): rows, ("2024-03", "first"): rows}
    if got != expected:
        raise InlifeError(f"{SMOKE_EVENTS}: read back {got}, expected {expected}")
    print(f"smoke: {SMOKE_EVENTS} ok at version {tables.version(SMOKE_EVENTS)} ({tables.engine.name} engine): "
          f"{tables.location(SMOKE_EVENTS)} (master {spark.sparkContext.master})")
    return 0

"""Small raw-layer frames built by hand, with the raw tables' schemas (contract columns + batch_date).

Times are given as 'yyyy-MM-dd HH:mm:ss' strings and parsed by Spark in the session's time zone, as
ingestion does, so hours and days mean the same as in production.
"""
from __future__ import annotations

from pathlib import Path

from pyspark.sql import functions as F

from inlife.sources import load_sources_file

CONTRACT = load_sources_file(Path(__file__).resolve().parents[2] / "conf" / "sources.yaml")
SPARK_TYPES = {"string": "string", "int": "int", "long": "bigint", "double": "double", "date": "date",
               "timestamp": "timestamp"}


def raw_frame(spark, source: str, rows: list[dict], batch_date: str | None = None):
    """rows: dicts of column -> value (missing columns null); dates/timestamps as strings."""
    src = CONTRACT[source]
    cols = src.columns
    str_schema = ", ".join(f"`{c.name}` string" for c in cols) + ", batch_date string"
    data = [tuple(None if r.get(c.name) is None else str(r[c.name]) for c in cols)
            + (r.get("batch_date", batch_date),) for r in rows]
    df = spark.createDataFrame(data, str_schema)
    out = []
    for c in cols:
        if c.type == "timestamp":
            out.append(F.to_timestamp(F.col(c.name), "yyyy-MM-dd HH:mm:ss").alias(c.name))
        elif c.type == "date":
            out.append(F.to_date(F.col(c.name)).alias(c.name))
        else:
            out.append(F.col(c.name).cast(SPARK_TYPES[c.type]).alias(c.name))
    out.append(F.to_date("batch_date").alias("batch_date"))
    return df.select(*out)

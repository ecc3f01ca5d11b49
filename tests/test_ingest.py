"""Ingestion: typing, every bad-row kind, idempotent reruns, validation and error paths (real Spark, Delta, GX)."""
from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from inlife.ingest.landing import LandingError
from inlife.ingest.pipeline import IngestError, Ingestion
from inlife.ingest.transform import QUARANTINE_SCHEMA, raw_schema
from inlife.quality import QualityError
from inlife.sources import load_sources
from landing_files import subscriber, voice, write_batch

D1 = date(2024, 1, 1)
D2 = date(2024, 1, 2)


def _typed(spark, rows, source, conf):
    """Expected frame from strings, typed by Spark (timestamps in the session time zone, as ingestion)."""
    schema = raw_schema(load_sources(conf)[source])
    df = spark.createDataFrame(rows, ", ".join(f"{f.name} string" for f in schema.fields))
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _ingest(spark, conf, source, *dates, **overrides):
    conf = conf.with_overrides(overrides) if overrides else conf
    return Ingestion(spark, conf).run(source, list(dates))


def _subscribers(conf, batch="2024-01-01", ids=(1, 2, 3)):
    write_batch(conf, "subscribers", batch, [subscriber(i, snapshot=batch) for i in ids])




def test_types_subscribers_and_voice(spark, conf, tables):
    _subscribers(conf, ids=(1, 2))
    write_batch(conf, "voice_cdr", "2024-01-01", [
        voice(1, "13900000001", "20240101083005", duration="61", charge="0.25"),
        voice(2, "", "20231231235959", duration="0", charge="0", operator="CU", direction="MT",
              call_type="LD_INTER", province="", cell=""),
    ])
    _ingest(spark, conf, "subscribers", D1)
    [rep] = _ingest(spark, conf, "voice_cdr", D1)
    assert (rep.batches[0].rows_read, rep.batches[0].rows_written, rep.batches[0].late) == (2, 2, 1)

    expected_subs = _typed(spark, [
        (str(i), f"1380000{i:04d}", "2024-01-01", "2020-05-06", "ACTIVE", "2020-05-06", "GOTONE", "GT88",
         "全球通88套餐", "0", "杭州", "西湖区", "G01", "1985-03-04", "M", "GOLD", "2024-01-01") for i in (1, 2)],
        "subscribers", conf)
    assertDataFrameEqual(tables.read("raw.subscribers"), expected_subs, checkRowOrder=False)
    assert tables.read("raw.subscribers").schema == raw_schema(load_sources(conf)["subscribers"])

    expected_voice = _typed(spark, [
        ("1", "13900000001", "CMCC", "安徽", "MO", "LOCAL", "2024-01-01 08:30:05", "61", "0.25", "C1", "2024-01-01"),
        ("2", "", "CU", "", "MT", "LD_INTER", "2023-12-31 23:59:59", "0", "0.0", "", "2024-01-01"),
    ], "voice_cdr", conf)
    assertDataFrameEqual(tables.read("raw.voice_cdr"), expected_voice, checkRowOrder=False)

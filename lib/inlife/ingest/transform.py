"""Pure DataFrame -> DataFrame transforms of ingestion: landing lines to typed, classified records.

A line is checked in the contract's order and the first failing check names its reason (the names are
sources.yaml ``bad_row_kinds``): wrong_field_count, bad_timestamp, bad_value, unknown_code,
future_timestamp, unknown_subscriber, duplicate. ``detail`` says which column and value failed.
Empty fields are null, except in key columns (natural key, subscriber key, event time), where an empty
value is a bad_timestamp or bad_value.
"""
from __future__ import annotations

import re
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, IntegerType, LongType, StringType, StructField, StructType, \
    TimestampType

from inlife.sources import Column as ContractColumn
from inlife.sources import Source, SourceContract

SPARK_TYPES = {"string": StringType(), "int": IntegerType(), "long": LongType(), "double": DoubleType(),
               "date": DateType(), "timestamp": TimestampType()}
SQL_TYPES = {"int": "int", "long": "bigint", "double": "double"}

QUARANTINE_SCHEMA = StructType([
    StructField("reason", StringType()), StructField("detail", StringType()),
    StructField("source_file", StringType()), StructField("line", StringType()),
    StructField("batch_date", DateType()),
])
RELATIVE_RE = r"([^/]+/[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/]+)$"
BATCH_RE = r"/([0-9]{4}-[0-9]{2}-[0-9]{2})/[^/]+$"


def raw_schema(source: Source) -> StructType:
    """raw.<source>: the contract's columns, typed, plus the batch date (the partition column)."""
    return StructType([StructField(c.name, SPARK_TYPES[c.type]) for c in source.columns]
                      + [StructField("batch_date", DateType())])


def with_file_columns(lines: DataFrame) -> DataFrame:
    """(line, file_path) -> + source_file (<source>/<date>/<name>) and batch_date from the folder name."""
    return lines.select(
        "line",
        F.regexp_extract("file_path", RELATIVE_RE, 1).alias("source_file"),
        F.to_date(F.regexp_extract("file_path", BATCH_RE, 1)).alias("batch_date"))


def without_headers(lines: DataFrame, source: Source) -> DataFrame:
    """Drop csv header lines (their content was checked per file before the bulk read)."""
    if source.format != "csv":
        return lines
    return lines.where(F.col("line") != F.lit(source.header))


def _show(c: ContractColumn, raw: Column) -> Column:
    return F.concat(F.lit(f"{c.name}="), F.coalesce(raw, F.lit("")))


def _typed(c: ContractColumn, raw: Column) -> Column:
    if c.type in SQL_TYPES:
        return raw.try_cast(SQL_TYPES[c.type])
    if c.type == "timestamp":
        return F.try_to_timestamp(raw, F.lit(c.format))
    if c.type == "date":
        return F.to_date(F.try_to_timestamp(raw, F.lit(c.format)))
    return raw


def _first(details: list[Column]) -> Column:
    return F.coalesce(*details) if details else F.lit(None).cast("string")


def classify(lines: DataFrame, source: Source, contract: SourceContract) -> DataFrame:
    """Split and type each line and name the first failing row-local check.

    In: line, source_file, batch_date. Out: the typed contract columns, batch_date, source_file, line,
    reason and detail (null for rows that pass), late (event day before the batch day).
    Checks that need other rows (unknown_subscriber, duplicate) come after: see ``with_known_subscribers``
    and ``with_duplicates``.
    """
    n = len(source.columns)
    keys = set(source.natural_key) | {source.event_time} | ({source.subscriber_key} if source.subscriber_key else set())
    fields = F.split(F.col("line"), re.escape(source.delimiter), -1)
    df = lines.select("line", "source_file", "batch_date", fields.alias("_f"))
    raw = {c.name: F.get(F.col("_f"), i) for i, c in enumerate(source.columns)}

    bad_ts, bad_value, bad_code = [], [], []
    typed_cols = []
    for c in source.columns:
        r = raw[c.name]
        empty = F.coalesce(r == F.lit(""), F.lit(True))
        value = F.when(~empty, _typed(c, r)) if c.type != "string" else r
        typed_cols.append(value.cast(SPARK_TYPES[c.type]).alias(c.name))
        if c.type == "string":
            if c.code:
                bad_code.append(F.when(~r.isin(contract.codes[c.code]),
                                       F.concat(_show(c, r), F.lit(f" not in code table {c.code}"))))
            continue
        parsed = _typed(c, r)
        failed = (parsed.isNull() & ~empty) | (empty & F.lit(c.name in keys))
        why = F.when(empty, F.concat(F.lit(f"{c.name} is empty"))).otherwise(
            F.concat(_show(c, r), F.lit(f" does not parse as {c.type}" + (f" ({c.format})" if c.format else ""))))
        target = bad_ts if c.type in ("date", "timestamp") else bad_value
        target.append(F.when(failed, why))
        if c.type == "double":
            bad_value.append(F.when(F.isnan(parsed) | (F.abs(parsed) == F.lit(float("inf"))),
                                    F.concat(_show(c, r), F.lit(" is not a finite number"))))
        if c.min is not None:
            bad_value.append(F.when(parsed < F.lit(c.min), F.concat(_show(c, r), F.lit(f" below min {c.min:g}"))))
        if c.max is not None:
            bad_value.append(F.when(parsed > F.lit(c.max), F.concat(_show(c, r), F.lit(f" above max {c.max:g}"))))

    ev = source.column(source.event_time)
    ev_typed = _typed(ev, raw[ev.name])
    if ev.type == "timestamp":
        future = ev_typed >= F.date_add(F.col("batch_date"), 1).cast("timestamp")
        event_day = F.to_date(ev_typed)
    else:
        future = ev_typed > F.col("batch_date")
        event_day = ev_typed
    future_detail = F.when(future, F.concat(_show(ev, raw[ev.name]), F.lit(" is after the batch day ("),
                                            F.col("batch_date").cast("string"), F.lit(")")))

    count = F.size("_f")
    reason = (F.when(count != n, "wrong_field_count")
              .when(_first(bad_ts).isNotNull(), "bad_timestamp")
              .when(_first(bad_value).isNotNull(), "bad_value")
              .when(_first(bad_code).isNotNull(), "unknown_code")
              .when(future_detail.isNotNull(), "future_timestamp"))
    detail = (F.when(count != n, F.concat(F.lit("fields="), count.cast("string"), F.lit(f", expected {n}")))
              .otherwise(F.coalesce(_first(bad_ts), _first(bad_value), _first(bad_code), future_detail)))
    out = df.select(*typed_cols, "batch_date", "source_file", "line",
                    reason.alias("reason"), detail.alias("detail"))
    return out.withColumn("late", F.coalesce(F.to_date(F.col(ev.name)) < F.col("batch_date"), F.lit(False))
                          if ev.type == "timestamp" else
                          F.coalesce(F.col(ev.name) < F.col("batch_date"), F.lit(False)))


def with_known_subscribers(df: DataFrame, source: Source, known: DataFrame | None) -> DataFrame:
    """Mark rows whose subscriber key is not among ``known`` (one column, subscriber_id) as unknown_subscriber."""
    key = source.subscriber_key
    if not key:
        return df
    if known is None:
        hit = F.lit(False)
        joined = df
    else:
        k = known.select(F.col("subscriber_id").alias("_known_id")).distinct()
        joined = df.join(k, df[key] == k["_known_id"], "left")
        hit = F.col("_known_id").isNotNull()
    unknown = F.col("reason").isNull() & ~hit
    return joined.select(
        *[c for c in df.columns if c not in ("reason", "detail")],
        F.when(unknown, F.lit("unknown_subscriber")).otherwise(F.col("reason")).alias("reason"),
        F.when(unknown, F.concat(F.lit(f"{key}="), F.col(key).cast("string"), F.lit(" not in raw.subscribers")))
        .otherwise(F.col("detail")).alias("detail"))


def with_duplicates(df: DataFrame, source: Source) -> DataFrame:
    """Among rows that passed every other check, keep one per natural key and batch (the first by file and
    line, so reruns keep the same one) and mark the others duplicate."""
    from pyspark.sql import Window

    ok = F.col("reason").isNull()
    keys = [F.col(k) for k in source.natural_key]
    w = Window.partitionBy(F.col("batch_date"), ok, *keys).orderBy("source_file", "line")
    dup = ok & (F.row_number().over(w) > 1)
    shown = F.concat_ws(", ", *[F.concat(F.lit(f"{k}="), F.col(k).cast("string")) for k in source.natural_key])
    return df.select(
        *[c for c in df.columns if c not in ("reason", "detail")],
        F.when(dup, F.lit("duplicate")).otherwise(F.col("reason")).alias("reason"),
        F.when(dup, F.concat(F.lit("natural key repeated: "), shown)).otherwise(F.col("detail")).alias("detail"))


def raw_rows(classified: DataFrame, source: Source) -> DataFrame:
    """The rows that passed every check, in raw.<source>'s columns."""
    return classified.where(F.col("reason").isNull()).select(*source.column_names, "batch_date")


def quarantine_rows(classified: DataFrame) -> DataFrame:
    """The rows that failed a check, in quarantine.<source>'s columns."""
    return classified.where(F.col("reason").isNotNull()).select(*QUARANTINE_SCHEMA.names)


def compact(classified: DataFrame) -> DataFrame:
    """What is worth caching: the raw line only where it goes to quarantine, and a flag for lines holding
    U+FFFD (bytes the declared encoding could not decode)."""
    return classified.select(
        *[c for c in classified.columns if c != "line"],
        F.when(F.col("reason").isNotNull(), F.col("line")).alias("line"),
        F.col("line").contains("\ufffd").alias("undecodable"))


def batch_stats(classified: DataFrame) -> DataFrame:
    """Counts per batch, file and reason (null reason: rows kept), with late records among the kept."""
    return (classified.groupBy("batch_date", "source_file", "reason")
            .agg(F.count(F.lit(1)).alias("rows"),
                 F.sum(F.when(F.col("reason").isNull() & F.col("late"), 1).otherwise(0)).alias("late"),
                 F.sum(F.col("undecodable").cast("int")).alias("undecodable")))

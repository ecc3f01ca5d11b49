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
from pyspark.sql.types import (DateType, DoubleType, IntegerType, LongType, StringType, StructField, StructType,
                               TimestampType)

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


def raw_schema(source: Source) -> StructType:
    """raw.<source>: the contract's columns, typed, plus the batch date (the partition column)."""
    return StructType([StructField(c.name, SPARK_TYPES[c.type]) for c in source.columns]
                      + [StructField("batch_date", DateType())])


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


def classify(lines: DataFrame, source: Source, contract: SourceContract) -> DataFrame:
    """Split and type each line and name the first failing row-local check.

    In: line, source_file, batch_date. Out: the typed contract columns, batch_date, source_file, line,
    reason and detail (null for rows that pass), late (event day before the batch day).
    Checks that need other rows (unknown_subscriber, duplicate) come after: see ``with_known_subscribers``
    and ``with_duplicates``. Three projections, so each field is parsed once (Spark does not merge
    projections that would repeat a costly expression) and detail strings are built for bad rows only.
    """
    n = len(source.columns)
    keys = set(source.natural_key) | {source.event_time} | ({source.subscriber_key} if source.subscriber_key else set())
    fields = F.split(F.col("line"), re.escape(source.delimiter), -1)
    split = lines.select("line", "source_file", "batch_date", fields.alias("_f"))

    # 1. raw strings (_s_<col>) and parsed values (<col>, null when empty or unparseable)
    raw_cols, typed_cols = [], []
    for i, c in enumerate(source.columns):
        r = F.get(F.col("_f"), i)
        raw_cols.append(r.alias(f"_s_{c.name}"))
        if c.type == "string":
            typed_cols.append(r.alias(c.name))
        else:
            typed_cols.append(F.when(r != F.lit(""), _typed(c, r)).cast(SPARK_TYPES[c.type]).alias(c.name))
    parsed = split.select("line", "source_file", "batch_date", F.size("_f").alias("_n"), *raw_cols, *typed_cols)

    # 2. per check, the first failing column's detail (only evaluated for rows that fail it)
    bad_ts, bad_value, bad_code = [], [], []
    for c in source.columns:
        s, v = F.col(f"_s_{c.name}"), F.col(c.name)
        if c.type == "string":
            if c.code:
                bad_code.append((~s.isin(contract.codes[c.code]),
                                 F.concat(_show(c, s), F.lit(f" not in code table {c.code}"))))
            continue
        empty = F.coalesce(s == F.lit(""), F.lit(True))
        target = bad_ts if c.type in ("date", "timestamp") else bad_value
        if c.name in keys:
            target.append((empty, F.lit(f"{c.name} is empty")))
        target.append((v.isNull() & ~empty, F.concat(_show(c, s), F.lit(
            f" does not parse as {c.type}" + (f" ({c.format})" if c.format else "")))))
        if c.type == "double":
            target.append((F.isnan(v) | (F.abs(v) == F.lit(float("inf"))),
                           F.concat(_show(c, s), F.lit(" is not a finite number"))))
        if c.min is not None:
            target.append((v < F.lit(c.min), F.concat(_show(c, s), F.lit(f" below min {c.min:g}"))))
        if c.max is not None:
            target.append((v > F.lit(c.max), F.concat(_show(c, s), F.lit(f" above max {c.max:g}"))))
    ev = source.column(source.event_time)
    ev_col = F.col(ev.name)
    if ev.type == "timestamp":
        future = ev_col >= F.date_add(F.col("batch_date"), 1).cast("timestamp")
        event_day = F.to_date(ev_col)
    else:
        future = ev_col > F.col("batch_date")
        event_day = ev_col
    future_detail = F.concat(_show(ev, F.col(f"_s_{ev.name}")), F.lit(" is after the batch day ("),
                             F.col("batch_date").cast("string"), F.lit(")"))

    def any_of(checks):
        return reduce(lambda a, b: a | b, [F.coalesce(cond, F.lit(False)) for cond, _ in checks]) \
            if checks else F.lit(False)

    def first_detail(checks):
        out = None
        for cond, text in checks:
            out = F.when(F.coalesce(cond, F.lit(False)), text) if out is None else out.when(F.coalesce(cond, F.lit(False)), text)
        return out

    wrong = F.col("_n") != F.lit(n)
    reason = (F.when(wrong, "wrong_field_count")
              .when(any_of(bad_ts), "bad_timestamp")
              .when(any_of(bad_value), "bad_value")
              .when(any_of(bad_code), "unknown_code")
              .when(F.coalesce(future, F.lit(False)), "future_timestamp"))
    with_reason = parsed.select("*", reason.alias("reason"),
                                F.coalesce(event_day < F.col("batch_date"), F.lit(False)).alias("late"))

    # 3. the detail of the reason, built only where there is one
    r = F.col("reason")
    detail = F.when(r.isNull(), F.lit(None).cast("string"))
    detail = detail.when(r == "wrong_field_count",
                         F.concat(F.lit("fields="), F.col("_n").cast("string"), F.lit(f", expected {n}")))
    for name, checks in (("bad_timestamp", bad_ts), ("bad_value", bad_value), ("unknown_code", bad_code)):
        if checks:
            detail = detail.when(r == name, first_detail(checks))
    detail = detail.when(r == "future_timestamp", future_detail)
    return with_reason.select(*source.column_names, "batch_date", "source_file", "line", "reason",
                              detail.alias("detail"), "late")


def with_known_subscribers(df: DataFrame, source: Source, known: DataFrame | None,
                           broadcast: bool = False) -> DataFrame:
    """Mark rows whose subscriber key is not among ``known`` (one column, subscriber_id) as unknown_subscriber.

    ``broadcast``: ship ``known`` to every task instead of shuffling the records by subscriber (a month of
    CDR is far larger than the subscriber list; Spark broadcasts on its own only below 10 MB by estimate)."""
    key = source.subscriber_key
    if not key:
        return df
    if known is None:
        hit = F.lit(False)
        joined = df
    else:
        k = known.select(F.col("subscriber_id").alias("_known_id")).distinct()
        joined = df.join(F.broadcast(k) if broadcast else k, df[key] == k["_known_id"], "left")
        hit = F.col("_known_id").isNotNull()
    unknown = F.col("reason").isNull() & ~hit
    return joined.select(
        *[c for c in df.columns if c not in ("reason", "detail")],
        F.when(unknown, F.lit("unknown_subscriber")).otherwise(F.col("reason")).alias("reason"),
        F.when(unknown, F.concat(F.lit(f"{key}="), F.col(key).cast("string"), F.lit(" not in raw.subscribers")))
        .otherwise(F.col("detail")).alias("detail"))


def natural_key_columns(source: Source) -> list[str]:
    """The natural key and batch date: what the raw suite's compound-uniqueness check names
    (``column_list``, in ``inlife.ingest.suites``)."""
    return [*source.natural_key, "batch_date"]


def with_duplicates(df: DataFrame, source: Source, partitions: int | None = None) -> DataFrame:
    """Among rows that passed every other check, keep one per natural key and batch (the first by file and
    line, so reruns keep the same one) and mark the others duplicate.

    The rows are shuffled by ``natural_key_columns`` alone (not also by the pass/fail flag the window
    needs): cached after this, they stay partitioned by those columns, and the raw suite's uniqueness
    check, a grouping by the same columns, needs no shuffle of its own.
    ``partitions``: how many (None: spark.sql.shuffle.partitions, which adaptive execution may coalesce)."""
    from pyspark.sql import Window

    ok = F.col("reason").isNull()
    key = natural_key_columns(source)
    w = Window.partitionBy(*key, ok).orderBy("source_file", "line")
    dup = ok & (F.row_number().over(w) > 1)
    df = df.repartition(partitions, *key) if partitions else df.repartition(*key)
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
                 F.sum(F.col("undecodable").cast("int")).alias("undecodable"),
                 # lines the delimiter did not split at all
                 F.sum(F.when((F.col("reason") == "wrong_field_count") & F.col("detail").startswith("fields=1,"), 1)
                       .otherwise(0)).alias("unsplit")))

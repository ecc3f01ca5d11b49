"""From typed records to extract lines: formatting per the contract, late delivery and planted defects.

Every record gets a batch date (its event day; a small share of good records is delivered 1-3 days late,
in a later batch) and a label: good, late (good but delivered late) or one bad-row kind. A bad line
carries exactly ONE defect, so ingestion can classify it without ambiguity. Kinds apply only where they
make sense (no unknown_code without a coded column, no unknown_subscriber without a subscriber key,
subscribers get nothing but exact duplicates). A duplicate is the good line plus an exact copy.
Labels are drawn from a hash of the record's natural key: the same arguments give the same defects.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.generator.params import Month, Params
from inlife.generator.rand import pick, uniform
from inlife.sources import Source

KINDS = ["wrong_field_count", "bad_timestamp", "bad_value", "unknown_code", "unknown_subscriber",
         "future_timestamp", "duplicate"]
# The numeric column that gets a bad value, and the coded column that gets an unknown code, per source.
BAD_VALUE_COLUMN = {"voice_cdr": "duration_sec", "sms_data": "volume_kb", "vas_usage": "charge",
                    "service_orders": "order_id", "billing": "total_charge", "recharges": "amount",
                    "balances": "balance", "service_contacts": "contact_id", "contracts": "monthly_commitment",
                    "groups": "group_id", "group_members": "vpn_flag"}
UNKNOWN_CODE_COLUMN = {"voice_cdr": "call_type", "sms_data": "record_type", "vas_usage": "event_type",
                       "service_orders": "channel", "recharges": "channel", "service_contacts": "category",
                       "contracts": "bundle_code", "groups": "industry", "group_members": "member_role",
                       "echannel_events": "channel"}
UNKNOWN_SUBSCRIBER_BASE = 9_000_000_000
EPOCH = dt.date(1970, 1, 1)


def applicable_kinds(src: Source) -> list[str]:
    if src.name == "subscribers":
        return ["duplicate"]
    kinds = ["wrong_field_count", "bad_timestamp"]
    if src.name in BAD_VALUE_COLUMN:
        kinds.append("bad_value")
    if src.name in UNKNOWN_CODE_COLUMN:
        kinds.append("unknown_code")
    if src.subscriber_key:
        kinds.append("unknown_subscriber")
    kinds += ["future_timestamp", "duplicate"]
    return kinds


def _fmt(src: Source, name: str, c: Column) -> Column:
    """Format one typed value as the contract says (timestamps arrive as local epoch seconds)."""
    col = src.column(name)
    if col.type == "date":
        out = F.date_format(c, col.format)
    elif col.type == "timestamp":
        day = F.date_add(F.lit(EPOCH), (c / 86400).cast("int"))
        if col.format == "yyyyMMddHHmmss":
            # yyyyMMdd * 1e6 + HHmmss as one number: cheaper than formatting three parts.
            ymd = F.year(day) * 10000 + F.month(day) * 100 + F.dayofmonth(day)
            sod = c % 86400
            hms = (sod / 3600).cast("long") * 10000 + ((sod % 3600) / 60).cast("long") * 100 + sod % 60
            out = (ymd.cast("long") * 1_000_000 + hms).cast("string")
        else:
            sod = c % 86400
            hh = F.lpad((sod / 3600).cast("int").cast("string"), 2, "0")
            mm = F.lpad(((sod % 3600) / 60).cast("int").cast("string"), 2, "0")
            ss = F.lpad((sod % 60).cast("string"), 2, "0")
            text = F.concat(F.date_format(day, "yyyy-MM-dd"), F.lit(" "), hh, F.lit(":"), mm, F.lit(":"), ss)
            out = text if col.format == "yyyy-MM-dd HH:mm:ss" else F.date_format(F.to_timestamp(text), col.format)
    elif col.type == "double":
        out = c.cast("decimal(18,2)").cast("string")
    else:
        out = c.cast("string")
    return F.coalesce(out, F.lit(""))


def _event_day(src: Source, c: Column) -> Column:
    if src.column(src.event_time).type == "timestamp":
        return F.date_add(F.lit(EPOCH), (c / 86400).cast("int"))
    return c


def _bad_value(src: Source, name: str, c: Column, text: Column, u: Column) -> Column:
    col = src.column(name)
    unparseable = F.concat(text, F.lit("x"))
    if col.min is None and col.max is None:
        return unparseable
    low = F.lit(str(int(col.min) - 1 - 37 if col.type == "int" else f"{col.min - 12.5:.2f}")) if col.min is not None else unparseable
    if col.max is None:
        return F.when(u < 0.6, low).otherwise(unparseable)
    high = F.lit(str(int(col.max) * 10 + 7) if col.type == "int" else f"{col.max * 10 + 7.25:.2f}")
    return F.when(u < 0.4, low).when(u < 0.7, high).otherwise(unparseable)


def to_lines(records: DataFrame, src: Source, p: Params, month: Month) -> DataFrame:
    """(batch_date, line, label) for the records of one source and month."""
    s, col = p.seed, F.col
    names = src.column_names
    key = [col(k) for k in src.natural_key]
    u = lambda salt: uniform(s, f"{src.name}:{salt}", *key)   # noqa: E731
    kinds = applicable_kinds(src)
    ev = col(src.event_time)
    event_day = _event_day(src, ev)
    if src.cadence == "monthly":
        batch = F.lit(month.end)
        late = F.lit(False)
    elif src.name == "subscribers":
        batch = event_day
        late = F.lit(False)
    else:
        lag = F.lit(1) + F.floor(u("lag") * 3).cast("int")
        late = (u("late") < p.late_rate) & (F.date_add(event_day, 1) <= F.lit(p.end_date))
        batch = F.when(late, F.least(F.date_add(event_day, lag), F.lit(p.end_date))).otherwise(event_day)
    bad = ~late & (u("bad") < p.bad_row_rate)
    label = F.when(late, "late").when(bad, pick(kinds, F.floor(u("kind") * len(kinds)))).otherwise("good")
    df = records.select(*names, batch.alias("batch_date"), label.alias("label"), u("variant").alias("_v"))
    lab, v = col("label"), col("_v")
    # Stage 1, defects on typed values (they stay well formatted): unknown subscriber, future event time.
    values = {n: col(n) for n in names}
    if src.subscriber_key:
        k = src.subscriber_key
        values[k] = F.when(lab == "unknown_subscriber",
                           F.lit(UNKNOWN_SUBSCRIBER_BASE) + (v * 100_000_000).cast("long")).otherwise(col(k))
    shift_days = F.lit(1) + (v * 3).cast("int")
    if src.column(src.event_time).type == "timestamp":
        values[src.event_time] = F.when(lab == "future_timestamp", ev + shift_days * 86400).otherwise(ev)
    else:
        values[src.event_time] = F.when(lab == "future_timestamp", F.date_add(ev, shift_days)).otherwise(ev)
    # Each stage is its own select of plain columns, so that no expression is copied into many places
    # (large copies make Spark's generated code exceed the JVM method size limit).
    df = df.select("batch_date", "label", "_v", *[values[n].alias(n) for n in names])
    # Stage 2, formatting.
    df = df.select("batch_date", "label", "_v", *[_fmt(src, n, col(n)).alias(n) for n in names])
    fields = {n: col(n) for n in names}
    # Stage 3, defects on text: an unparseable time, a bad number, an unknown code.
    et = src.column(src.event_time)
    mpos = et.format.find("MM") + 1
    broken = F.when(v < 0.3, F.lit("N/A")).otherwise(
        F.concat(F.substring(fields[src.event_time], 1, mpos - 1), F.lit("13"),
                 F.substring(fields[src.event_time], mpos + 2, 100)))
    fields[src.event_time] = F.when(lab == "bad_timestamp", broken).otherwise(fields[src.event_time])
    if src.name in BAD_VALUE_COLUMN:
        n = BAD_VALUE_COLUMN[src.name]
        fields[n] = F.when(lab == "bad_value", _bad_value(src, n, col(n), fields[n], v)).otherwise(fields[n])
    if src.name in UNKNOWN_CODE_COLUMN:
        n = UNKNOWN_CODE_COLUMN[src.name]
        fields[n] = F.when(lab == "unknown_code", F.lit("ZZ_UNKNOWN")).otherwise(fields[n])
    df = df.select("batch_date", "label", "_v", *[fields[n].alias(n) for n in names])
    fields = {n: col(n) for n in names}
    d = src.delimiter
    ordered = [fields[n] for n in names]
    line = F.concat_ws(d, *ordered)
    short = F.concat_ws(d, *ordered[:-1])
    line = F.when(lab == "wrong_field_count", F.when(v < 0.5, F.concat(line, F.lit(d + "X"))).otherwise(short)) \
        .otherwise(line)
    out = df.select("batch_date", line.alias("line"), lab.alias("label"))
    # A duplicate: the good line, then its exact copy (labelled duplicate).
    dup = F.array(F.struct(col("line"), F.lit("good").alias("label")), F.struct(col("line"), F.lit("duplicate").alias("label")))
    one = F.array(F.struct(col("line"), col("label")))
    return out.select("batch_date", F.explode(F.when(col("label") == "duplicate", dup).otherwise(one)).alias("r")) \
        .select("batch_date", "r.line", "r.label")

"""Column helpers shared by the transforms (month arithmetic is in inlife.months)."""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from inlife.months import add_months, month_start


def in_month(ts: Column | str, month: str) -> Column:
    """Event time (timestamp or date) within the month, as a range predicate so Parquet statistics can
    skip row groups."""
    col = F.col(ts) if isinstance(ts, str) else ts
    start = F.lit(month_start(month).isoformat()).cast("date")
    nxt = F.lit(month_start(add_months(month, 1)).isoformat()).cast("date")
    return (col >= start) & (col < nxt)


def safe_div(num: Column, den: Column) -> Column:
    """num / den, null when den is 0 or null (a ratio with no base is unknown, not zero)."""
    return F.when(den.isNull() | (den == 0), F.lit(None)).otherwise(num / den)


def days_mask(day_of_month: Column) -> Column:
    """Bit ``day`` set: OR these per subscriber and count bits for active days (far cheaper than countDistinct)."""
    # F.shiftleft takes a constant shift only; the SQL function takes a column.
    return F.call_function("shiftleft", F.lit(1).cast("long"), day_of_month.cast("int"))


def active_days(mask_col: str) -> Column:
    return F.bit_count(F.col(mask_col)).cast("int")



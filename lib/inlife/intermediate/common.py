"""Month arithmetic and column helpers shared by the intermediate transforms."""
from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.errors import InlifeError

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(month: str) -> str:
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise InlifeError(f"month {month!r} is not of the form YYYY-MM")
    return month


def month_start(month: str) -> date:
    y, m = map(int, check_month(month).split("-"))
    return date(y, m, 1)


def month_end(month: str) -> date:
    start = month_start(month)
    return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])


def add_months(month: str, n: int) -> str:
    start = month_start(month)
    idx = start.year * 12 + start.month - 1 + n
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    out, m = [], check_month(first)
    while m <= check_month(last):
        out.append(m)
        m = add_months(m, 1)
    return out


def batch_window(month: str, late_days: int) -> tuple[date, date]:
    """Batches that can hold events of ``month``: its days plus ``late_days`` after it (late arrivals)."""
    return month_start(month), month_end(month) + timedelta(days=late_days)


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


def with_month(df: DataFrame, month: str) -> DataFrame:
    return df.withColumn("month", F.lit(check_month(month)))

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


FEN_PER_YUAN = 100


def _fen(amount: Column | str) -> Column:
    col = F.col(amount) if isinstance(amount, str) else amount
    return F.round(col * FEN_PER_YUAN).cast("long")


def money_sum(amount: Column | str) -> Column:
    """The sum of an amount in yuan, counted in whole fen: the same in any order of rows. Doubles summed
    in another order (another file layout after a rerun) differ in their last bits."""
    return F.sum(_fen(amount)) / float(FEN_PER_YUAN)


def money_avg(amount: Column | str) -> Column:
    """The mean of an amount in yuan, from whole fen (null where no row has one)."""
    fen = _fen(amount)
    return F.try_divide(F.sum(fen), F.count(fen)) / float(FEN_PER_YUAN)


def days_mask(day_of_month: Column) -> Column:
    """Bit ``day`` set: OR these per subscriber and count bits for active days (far cheaper than countDistinct)."""
    # F.shiftleft takes a constant shift only; the SQL function takes a column.
    return F.call_function("shiftleft", F.lit(1).cast("long"), day_of_month.cast("int"))


def active_days(mask_col: str) -> Column:
    return F.bit_count(F.col(mask_col)).cast("int")



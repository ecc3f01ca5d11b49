"""Columns the rules add to the subscriber state (declared in columns.py).

- ``return_rate_q1``, ``return_rate_q2``, ``return_rate_q3``: the average return rate of each of the previous
  three quarters, taken as rolling blocks of three months before the evaluated month M: q1 = M-3..M-1,
  q2 = M-6..M-4, q3 = M-9..M-7 (a matrix example: "return rate above 86 in each of the previous three quarters").
  Read from the view's history when given; otherwise q1 = return_rate_avg3 and q2 = 2*avg6 - avg3 (the
  months M-6..M-4, exact when all six months are present) and q3 stays null, so such rules need history.
- ``days_since_activation``: days from activation to the month's end (screening: "activated X days without
  a recharge").
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.months import add_months
from inlife.rules.columns import QUARTER_COLUMNS


def add_derived(state: DataFrame, month: str, history: DataFrame | None = None) -> DataFrame:
    """``history``: earlier rows of unified.customer_view (subscriber_id, month, return_rate), any months."""
    month_end = F.last_day(F.to_date(F.lit(f"{month}-01")))
    out = state
    out = out.withColumn("days_since_activation", F.datediff(month_end, F.col("activation_date")))
    if all(c in out.columns for c in QUARTER_COLUMNS):
        return out
    out = out.drop(*[c for c in QUARTER_COLUMNS if c in out.columns])
    if history is not None:
        quarters = {q: [add_months(month, -n) for n in range(3 * q - 2, 3 * q + 1)] for q in (1, 2, 3)}
        h = history.where(F.col("month").isin(*[m for ms in quarters.values() for m in ms]))
        agg = h.groupBy("subscriber_id").agg(*[
            F.avg(F.when(F.col("month").isin(*quarters[q]), F.col("return_rate"))).alias(f"return_rate_q{q}")
            for q in (1, 2, 3)])
        return out.join(agg, "subscriber_id", "left")
    return (out.withColumn("return_rate_q1", F.col("return_rate_avg3").cast("double"))
            .withColumn("return_rate_q2", (2 * F.col("return_rate_avg6") - F.col("return_rate_avg3")).cast("double"))
            .withColumn("return_rate_q3", F.lit(None).cast("double")))

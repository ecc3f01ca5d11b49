"""intermediate.recharge_monthly: prepaid top-ups and balance per subscriber-month.

Days since the last recharge needs the last recharge ever, not only this month's: it is carried forward
from the previous month's row (``previous``), so a month never rescans history.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import in_month, money_avg, money_sum
from inlife.months import month_end

RECHARGE_COLUMNS = ["recharge_count", "recharge_amount", "last_recharge_date", "days_since_recharge",
                    "month_end_balance", "min_balance", "avg_balance", "low_balance_days"]


def recharge_monthly(recharges: DataFrame, balances: DataFrame, month: str, low_balance: float,
                     previous: DataFrame | None = None) -> DataFrame:
    """Per (subscriber_id, month) for subscribers with a recharge or a balance row in the month.

    previous: last month's recharge_monthly (for last_recharge_date), or None."""
    end = month_end(month)
    r = (recharges.where(in_month("recharge_time", month)).groupBy("subscriber_id")
         .agg(F.count(F.lit(1)).alias("recharge_count"), money_sum("amount").alias("recharge_amount"),
              F.max(F.to_date("recharge_time")).alias("_last_this")))
    bal = (balances.where(in_month("balance_date", month)).groupBy("subscriber_id")
           .agg(F.max_by("balance", "balance_date").alias("month_end_balance"),
                F.min("balance").alias("min_balance"), money_avg("balance").alias("avg_balance"),
                F.sum((F.col("balance") < low_balance).cast("int")).alias("low_balance_days")))
    out = r.join(bal, "subscriber_id", "full")
    if previous is not None:
        out = out.join(previous.select("subscriber_id", F.col("last_recharge_date").alias("_last_before")),
                       "subscriber_id", "full")
    else:
        out = out.withColumn("_last_before", F.lit(None).cast("date"))
    out = (out.withColumn("month", F.lit(month))
           .withColumn("last_recharge_date", F.greatest("_last_this", "_last_before"))
           .withColumn("days_since_recharge",
                       F.datediff(F.lit(end.isoformat()).cast("date"), F.col("last_recharge_date")))
           .withColumn("recharge_count", F.coalesce("recharge_count", F.lit(0)).cast("long"))
           .withColumn("recharge_amount", F.coalesce("recharge_amount", F.lit(0.0)).cast("double"))
           .withColumn("low_balance_days", F.coalesce("low_balance_days", F.lit(0)).cast("int")))
    return out.select("subscriber_id", "month", *RECHARGE_COLUMNS)

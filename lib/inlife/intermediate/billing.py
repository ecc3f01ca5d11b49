"""intermediate.billing_monthly: the month's bill (账务收入) per subscriber, with ARPU and return rate.

Return rate (回报率) is what the operator keeps of the list-price revenue after discounts, in percent:
100 x (total_charge - discount) / total_charge. The seed's matrices use it (e.g. 86 < return rate <= 100).
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import money_sum, safe_div

BILLING_COLUMNS = ["arpu", "rental_charge", "voice_charge_billed", "sms_charge", "data_charge", "vas_charge",
                   "discount", "arrears", "net_revenue", "return_rate", "has_arrears"]


def billing_monthly(billing: DataFrame, month: str) -> DataFrame:
    """Per (subscriber_id, month) from raw.billing rows of bill_month == month."""
    b = billing.where(F.col("bill_month") == month)
    out = (b.groupBy("subscriber_id").agg(
        money_sum("total_charge").alias("arpu"), money_sum("rental_charge").alias("rental_charge"),
        money_sum("voice_charge").alias("voice_charge_billed"), money_sum("sms_charge").alias("sms_charge"),
        money_sum("data_charge").alias("data_charge"), money_sum("vas_charge").alias("vas_charge"),
        money_sum("discount").alias("discount"), money_sum("arrears").alias("arrears"))
        .withColumn("month", F.lit(month))
        .withColumn("net_revenue", F.col("arpu") - F.col("discount"))
        # (greatest/least skip nulls, so the unknown case is kept explicitly)
        .withColumn("return_rate", F.when(F.col("arpu") > 0, F.least(F.lit(100.0), F.greatest(
            F.lit(0.0), 100.0 * safe_div(F.col("net_revenue"), F.col("arpu"))))))
        .withColumn("has_arrears", (F.col("arrears") > 0).cast("int")))
    return out.select("subscriber_id", "month", *[F.col(c).cast("int" if c == "has_arrears" else "double")
                                                  for c in BILLING_COLUMNS])

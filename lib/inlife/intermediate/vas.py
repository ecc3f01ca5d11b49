"""intermediate.vas_monthly: value-added services (新业务统一汇总) per subscriber-month.

Per product (mobile newspaper, CRBT, ringtone change, mobile internet, ...): subscribed at the month's end,
ordered or cancelled in the month, usage events and volume, silent (subscribed but unused — the seed's
"CRBT silent" and "mobile internet silent" targets), and fluctuation (this month's usage against the
average of the previous three). Plus SMS/MMS counts and data volume.

Subscription state needs every order ever made; it is carried forward from the previous month's row, so a
month reads only its own orders.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import active_days, days_mask, in_month, money_sum, safe_div

MESSAGING_COLUMNS = ["sms_mo_count", "sms_mt_count", "mms_mo_count", "mms_mt_count", "messaging_charge",
                     "data_volume_mb", "data_sessions", "data_active_days", "data_charge_usage",
                     "data_fluctuation"]
PRODUCT_METRICS = ["subscribed", "ordered", "cancelled", "events", "volume_kb", "silent", "fluctuation"]


def vas_columns(products: Sequence[str]) -> list[str]:
    return [f"vas_{p.lower()}_{m}" for p in products for m in PRODUCT_METRICS] + MESSAGING_COLUMNS


def vas_monthly(usage: DataFrame, orders: DataFrame, messaging: DataFrame, month: str,
                products: Sequence[str], previous: DataFrame | None = None,
                history: DataFrame | None = None) -> DataFrame:
    """Per (subscriber_id, month).

    usage: raw.vas_usage rows; orders: raw.service_orders rows; messaging: raw.sms_data rows (all filtered
    to the month here); previous: last month's vas_monthly (subscription carried forward); history:
    vas_monthly of the previous three months (for fluctuation)."""
    products = list(products)
    u = (usage.where(in_month("event_time", month) & F.col("product_code").isin(*products))
         .groupBy("subscriber_id")
         .agg(*[F.sum(F.when(F.col("product_code") == p, 1).otherwise(0)).alias(f"vas_{p.lower()}_events")
                for p in products],
              *[F.sum(F.when(F.col("product_code") == p, F.col("volume_kb")).otherwise(0.0))
                .alias(f"vas_{p.lower()}_volume_kb") for p in products]))

    o = orders.where(in_month("order_time", month) & F.col("product_code").isin(*products))
    last_action = (o.groupBy("subscriber_id", "product_code")
                   .agg(F.max_by("action", F.struct("order_time", "order_id")).alias("last_action"),
                        F.max((F.col("action") == "ORDER").cast("int")).alias("ordered"),
                        F.max((F.col("action") == "CANCEL").cast("int")).alias("cancelled")))
    o_wide = last_action.groupBy("subscriber_id").agg(
        *[F.max(F.when(F.col("product_code") == p, F.col(c))).alias(f"_{p.lower()}_{c}")
          for p in products for c in ("last_action", "ordered", "cancelled")])

    m = messaging.where(in_month("start_time", month))
    t = F.col("record_type")
    msg = m.groupBy("subscriber_id").agg(
        F.sum(F.when(t == "SMS_MO", F.col("item_count")).otherwise(0)).alias("sms_mo_count"),
        F.sum(F.when(t == "SMS_MT", F.col("item_count")).otherwise(0)).alias("sms_mt_count"),
        F.sum(F.when(t == "MMS_MO", F.col("item_count")).otherwise(0)).alias("mms_mo_count"),
        F.sum(F.when(t == "MMS_MT", F.col("item_count")).otherwise(0)).alias("mms_mt_count"),
        money_sum(F.when(t != "DATA", F.col("charge")).otherwise(0.0)).alias("messaging_charge"),
        (F.sum(F.when(t == "DATA", F.col("volume_kb")).otherwise(0.0)) / 1024.0).alias("data_volume_mb"),
        F.sum(F.when(t == "DATA", 1).otherwise(0)).alias("data_sessions"),
        F.bit_or(F.when(t == "DATA", days_mask(F.dayofmonth("start_time"))).otherwise(0)).alias("_data_days"),
        money_sum(F.when(t == "DATA", F.col("charge")).otherwise(0.0)).alias("data_charge_usage"))

    keys = u.select("subscriber_id").union(o_wide.select("subscriber_id")).union(msg.select("subscriber_id"))
    if previous is not None:
        prev_sub = previous.select("subscriber_id", *[F.col(f"vas_{p.lower()}_subscribed").alias(f"_{p.lower()}_prev")
                                                      for p in products])
        keys = keys.union(prev_sub.where(F.greatest(*[F.col(f"_{p.lower()}_prev") for p in products]) == 1)
                          .select("subscriber_id"))
    out = keys.distinct().join(u, "subscriber_id", "left").join(o_wide, "subscriber_id", "left") \
        .join(msg, "subscriber_id", "left")
    if previous is not None:
        out = out.join(prev_sub, "subscriber_id", "left")
    if history is not None:
        hist = history.groupBy("subscriber_id").agg(
            *[F.avg(f"vas_{p.lower()}_events").alias(f"_{p.lower()}_hist") for p in products],
            F.avg("data_volume_mb").alias("_data_hist"))
        out = out.join(hist, "subscriber_id", "left")

    for p in products:
        k = p.lower()
        prev = F.col(f"_{k}_prev") if previous is not None else F.lit(0)
        last = F.col(f"_{k}_last_action")
        subscribed = F.when(last == "ORDER", 1).when(last == "CANCEL", 0).otherwise(F.coalesce(prev, F.lit(0)))
        events = F.coalesce(F.col(f"vas_{k}_events"), F.lit(0))
        hist = F.col(f"_{k}_hist") if history is not None else F.lit(None)
        out = (out.withColumn(f"vas_{k}_subscribed", subscribed.cast("int"))
               .withColumn(f"vas_{k}_ordered", F.coalesce(F.col(f"_{k}_ordered"), F.lit(0)).cast("int"))
               .withColumn(f"vas_{k}_cancelled", F.coalesce(F.col(f"_{k}_cancelled"), F.lit(0)).cast("int"))
               .withColumn(f"vas_{k}_events", events.cast("long"))
               .withColumn(f"vas_{k}_volume_kb", F.coalesce(F.col(f"vas_{k}_volume_kb"), F.lit(0.0)).cast("double"))
               .withColumn(f"vas_{k}_silent", ((F.col(f"vas_{k}_subscribed") == 1) & (events == 0)).cast("int"))
               .withColumn(f"vas_{k}_fluctuation", safe_div(events - hist, hist).cast("double")))
    zero_long = ["sms_mo_count", "sms_mt_count", "mms_mo_count", "mms_mt_count", "data_sessions"]
    for c in zero_long:
        out = out.withColumn(c, F.coalesce(F.col(c), F.lit(0)).cast("long"))
    for c in ("messaging_charge", "data_volume_mb", "data_charge_usage"):
        out = out.withColumn(c, F.coalesce(F.col(c), F.lit(0.0)).cast("double"))
    data_hist = F.col("_data_hist") if history is not None else F.lit(None)
    out = (out.withColumn("data_active_days", F.coalesce(active_days("_data_days"), F.lit(0)))
           .withColumn("data_fluctuation", safe_div(F.col("data_volume_mb") - data_hist, data_hist).cast("double"))
           .withColumn("month", F.lit(month)))
    return out.select("subscriber_id", "month", *vas_columns(products))

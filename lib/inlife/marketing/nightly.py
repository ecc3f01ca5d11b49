"""The nightly refresh of the fast-moving factors (extract overnight, work orders next morning).

The monthly view is rebuilt once a month; between builds, balance, recharges, complaints and bundle end
dates move daily and decide the screening tags. ``refresh_fast_factors`` takes the latest monthly state and
replaces those factors with their values as of day D, computed from the raw tables up to and including D:

- month_end_balance   -> the latest daily balance at or before D (this month's rows), min_balance and
                         low_balance_days over the month to date, balance_to_arpu
- last_recharge_date  -> the latest recharge at or before D (or the state's), days_since_recharge from D,
                         prepaid_no_recharge_30d
- complaints, complaints_unresolved, complained_unresolved -> over the trailing days to D
  (campaigns.nightly.complaint_days)
- bundle_months_left, bundle_ends_within_2m, days_since_activation -> counted from D

Everything else keeps the month's value. Pure: raw frames in, state out; nothing after D is read. The raw
frames are cut by their partition column too (``batches``): an event never lands in a batch dated before it
(ingestion quarantines those as future_timestamp), so the batches from the window's first day to D hold every
row the window needs, and the night reads those days' files, not the raw tables' whole history.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.unified.view import balance_to_arpu, bundle_ends_soon, complained_unresolved, prepaid_no_recharge

FAST_FACTORS = ["month_end_balance", "min_balance", "low_balance_days", "balance_to_arpu", "last_recharge_date",
                "days_since_recharge", "prepaid_no_recharge_30d", "complaints", "complaints_unresolved",
                "complained_unresolved", "bundle_months_left", "bundle_ends_within_2m", "days_since_activation"]


def batches(raw: DataFrame, first: date, last: date) -> DataFrame:
    """The rows of raw batches dated ``first`` to ``last`` (a partition filter: the other files are not read)."""
    return raw.where(F.col("batch_date").between(F.lit(first.isoformat()).cast("date"),
                                                 F.lit(last.isoformat()).cast("date")))


def refresh_fast_factors(state: DataFrame, balances: DataFrame, recharges: DataFrame, contacts: DataFrame,
                         day: date, limits: Mapping) -> DataFrame:
    """``limits``: intermediate.low_balance plus campaigns.nightly (complaint_days, recharge_lookback_days)."""
    low_balance, complaint_days = float(limits["low_balance"]), int(limits["complaint_days"])
    d = F.lit(day.isoformat()).cast("date")
    first = day.replace(day=1)
    rec_first = first - timedelta(days=int(limits["recharge_lookback_days"]))
    since_day = day - timedelta(days=complaint_days - 1)
    balances, recharges = batches(balances, first, day), batches(recharges, rec_first, day)
    contacts = batches(contacts, since_day, day)
    bal = (balances.where((F.col("balance_date") >= F.lit(first.isoformat()).cast("date")) & (F.col("balance_date") <= d))
           .groupBy("subscriber_id")
           .agg(F.max_by("balance", "balance_date").alias("_bal"), F.min("balance").alias("_min_bal"),
                F.sum((F.col("balance") < low_balance).cast("int")).alias("_low_days")))
    rec = (recharges.where(F.to_date("recharge_time") <= d)
           .where(F.to_date("recharge_time") >= F.lit(rec_first.isoformat()).cast("date"))
           .groupBy("subscriber_id").agg(F.max(F.to_date("recharge_time")).alias("_last_rec")))
    since = F.lit(since_day.isoformat()).cast("date")
    comp = (contacts.where((F.col("contact_type") == "COMPLAINT") & (F.to_date("contact_time") >= since)
                           & (F.to_date("contact_time") <= d))
            .groupBy("subscriber_id")
            .agg(F.count(F.lit(1)).alias("_comp"), F.sum((F.col("resolved") == "N").cast("int")).alias("_unres")))
    out = state.join(bal, "subscriber_id", "left").join(rec, "subscriber_id", "left").join(comp, "subscriber_id", "left")
    last_rec = F.greatest(F.col("last_recharge_date"), F.col("_last_rec"))
    out = (out
           .withColumn("month_end_balance", F.coalesce(F.col("_bal"), F.col("month_end_balance")))
           .withColumn("min_balance", F.coalesce(F.col("_min_bal"), F.col("min_balance")))
           .withColumn("low_balance_days", F.coalesce(F.col("_low_days"), F.lit(0)).cast("int"))
           .withColumn("balance_to_arpu", balance_to_arpu())
           .withColumn("last_recharge_date", last_rec)
           .withColumn("days_since_recharge", F.datediff(d, F.col("last_recharge_date")))
           .withColumn("prepaid_no_recharge_30d", prepaid_no_recharge())
           .withColumn("complaints", F.coalesce(F.col("_comp"), F.lit(0)).cast(state.schema["complaints"].dataType))
           .withColumn("complaints_unresolved",
                       F.coalesce(F.col("_unres"), F.lit(0)).cast(state.schema["complaints_unresolved"].dataType))
           .withColumn("complained_unresolved", complained_unresolved())
           .withColumn("bundle_months_left",
                       F.when(F.col("bundle_end_date").isNotNull(),
                              F.greatest(F.lit(0.0), F.months_between(F.col("bundle_end_date"), d))))
           .withColumn("bundle_ends_within_2m", bundle_ends_soon())
           .withColumn("days_since_activation", F.datediff(d, F.col("activation_date"))))
    return out.select(*[F.col(f.name).cast(f.dataType) for f in state.schema.fields])

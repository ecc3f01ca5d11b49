"""intermediate.voice_monthly: the voice unified summary (话务统一汇总) per subscriber-month.

Minutes and calls by call type and direction, active days, peak/off-peak and weekend split, long-distance
unit price, the top long-distance peer province and its share (migrant workers' home province), and calls
to other operators' service numbers.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import active_days, days_mask, in_month, money_sum, safe_div

LD_TYPES = ("LD_INTRA", "LD_INTER", "LD_INTL")
ROAM_TYPES = ("ROAM_INTRA", "ROAM_INTER", "ROAM_INTL", "VPN_ROAM")
DIRECTIONS = ("MO", "MT")


def call_type_columns(call_types: Sequence[str]) -> list[str]:
    """Names of the per call type x direction columns, in table order."""
    return [f"voice_{ct.lower()}_{d.lower()}_{m}" for ct in call_types for d in DIRECTIONS for m in ("min", "calls")]


def voice_monthly(cdr: DataFrame, month: str, call_types: Sequence[str], competitor_numbers: Sequence[str],
                  peak_hours: Sequence[int], late_from_day: int = 21) -> DataFrame:
    """Per (subscriber_id, month) voice summary from raw voice CDR rows (any batches; filtered by event
    month here). ``peak_hours`` is [first, last) hour of the peak period; ``late_from_day`` starts the
    month's last part, whose share of the minutes shows usage fading (or growing) within the month."""
    peak_from, peak_to = int(peak_hours[0]), int(peak_hours[1])
    calls = (cdr.where(in_month("start_time", month))
             .select("subscriber_id", "call_type", "direction", "peer_province", "peer_number", "charge",
                     "duration_sec", (F.col("duration_sec") / 60.0).alias("minutes"),
                     F.dayofmonth("start_time").alias("day"),
                     F.hour("start_time").alias("hour"),
                     F.dayofweek("start_time").alias("dow")))

    def total(cond, what="minutes"):
        # minutes from whole seconds, summed as integers: the same in any order of rows
        if what == "minutes":
            return F.sum(F.when(cond, F.col("duration_sec")).otherwise(0)) / 60.0
        return F.sum(F.when(cond, F.lit(1)).otherwise(0))

    aggs = []
    for ct in call_types:
        for d in DIRECTIONS:
            cond = (F.col("call_type") == ct) & (F.col("direction") == d)
            prefix = f"voice_{ct.lower()}_{d.lower()}"
            aggs.append(total(cond).cast("double").alias(f"{prefix}_min"))
            aggs.append(total(cond, "calls").cast("long").alias(f"{prefix}_calls"))
    is_mo = F.col("direction") == "MO"
    is_peak = (F.col("hour") >= peak_from) & (F.col("hour") < peak_to)
    is_ld_mo = F.col("call_type").isin(*LD_TYPES) & is_mo
    aggs += [
        total(is_mo).cast("double").alias("voice_mo_min"),
        total(~is_mo).cast("double").alias("voice_mt_min"),
        (F.sum("duration_sec") / 60.0).alias("voice_total_min"),
        total(is_mo, "calls").cast("long").alias("voice_mo_calls"),
        total(~is_mo, "calls").cast("long").alias("voice_mt_calls"),
        F.count(F.lit(1)).cast("long").alias("voice_total_calls"),
        money_sum("charge").alias("voice_charge"),
        F.bit_or(days_mask(F.col("day"))).alias("_days"),
        total(is_peak).cast("double").alias("voice_peak_min"),
        total(~is_peak).cast("double").alias("voice_offpeak_min"),
        total(F.col("dow").isin(1, 7)).cast("double").alias("voice_weekend_min"),
        total(F.col("day") >= int(late_from_day)).cast("double").alias("_late_min"),
        total(is_ld_mo).cast("double").alias("voice_ld_mo_min"),
        money_sum(F.when(is_ld_mo, F.col("charge")).otherwise(0)).alias("voice_ld_mo_charge"),
        # calls are billed per started minute: the unit price is over billed minutes (an 8-second call
        # charged one minute's price would otherwise cost 7.5 times that price per minute)
        F.sum(F.when(is_ld_mo, F.ceil(F.col("minutes")))).cast("double").alias("_ld_billed_min"),
        total(F.col("call_type").isin(*ROAM_TYPES)).cast("double").alias("voice_roam_min"),
        total(is_mo & F.col("peer_number").isin(*competitor_numbers), "calls").cast("long")
        .alias("competitor_service_calls"),
    ]
    summary = calls.groupBy("subscriber_id").agg(*aggs)

    # The top inter-province long-distance peer province: where a migrant worker's calls go and come from.
    # Ranked on whole seconds: sums of fractional minutes depend on the order of addition, and two
    # provinces with the same time could swap places from one engine or partitioning to another.
    ld = (calls.where(F.col("call_type") == "LD_INTER")
          .groupBy("subscriber_id", "peer_province").agg(F.sum("duration_sec").cast("long").alias("m"))
          .groupBy("subscriber_id")
          .agg(F.max_by("peer_province", F.struct("m", "peer_province")).alias("top_ld_province"),
               F.max("m").alias("_top_m"), F.sum("m").alias("_ld_m")))

    out = (summary.join(ld, "subscriber_id", "left")
           .withColumn("month", F.lit(month))
           .withColumn("voice_active_days", active_days("_days"))
           .withColumn("voice_peak_share", safe_div(F.col("voice_peak_min"), F.col("voice_total_min")))
           .withColumn("voice_late_share", safe_div(F.col("_late_min"), F.col("voice_total_min")))
           .withColumn("voice_avg_call_min", safe_div(F.col("voice_total_min"), F.col("voice_total_calls")))
           .withColumn("ld_unit_price", safe_div(F.col("voice_ld_mo_charge"), F.col("_ld_billed_min")))
           .withColumn("top_ld_province_share", safe_div(F.col("_top_m"), F.col("_ld_m"))))
    return out.select("subscriber_id", "month", *call_type_columns(call_types), *VOICE_TOTALS)


VOICE_TOTALS = [
    "voice_mo_min", "voice_mt_min", "voice_total_min", "voice_mo_calls", "voice_mt_calls", "voice_total_calls",
    "voice_charge", "voice_active_days", "voice_peak_min", "voice_offpeak_min", "voice_peak_share", "voice_late_share",
    "voice_weekend_min", "voice_avg_call_min", "voice_ld_mo_min", "voice_ld_mo_charge", "ld_unit_price",
    "voice_roam_min", "top_ld_province", "top_ld_province_share", "competitor_service_calls",
]

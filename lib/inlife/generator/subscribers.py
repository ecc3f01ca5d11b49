"""The subscribers extract: a full snapshot on the 1st of each month plus daily change batches.

A change row carries the subscriber's complete state at the end of that day; several changes on one day
give one row. Event days of a subscriber in a month: activation, plan change, VIP change, suspension,
resumption, churn (status CHURNED, status_date = churn day). Churned subscribers are absent from later
snapshots.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Month, Params
from inlife.generator.rand import pick

COLUMNS = ["subscriber_id", "msisdn", "snapshot_date", "activation_date", "status", "status_date", "brand",
           "plan_code", "plan_name", "prepaid_flag", "region", "county", "grid", "birth_date", "gender", "vip_level"]


def _row(month: Month, day, status, status_date, plan_idx, vip) -> list:
    col = F.col
    return [col("subscriber_id"), col("msisdn"), F.date_add(F.lit(month.start), day - 1).alias("snapshot_date"),
            col("activation_date"), status.alias("status"), status_date.alias("status_date"),
            pick(R.BRANDS, col("brand_idx")).alias("brand"),
            pick([x[0] for x in R.ALL_PLANS], plan_idx).alias("plan_code"),
            pick([x[1] for x in R.ALL_PLANS], plan_idx).alias("plan_name"),
            col("prepaid").alias("prepaid_flag"), col("region"), col("county"), col("grid"), col("birth_date"),
            col("gender"), vip.alias("vip_level")]


def subscribers(p: Params, month: Month, st: DataFrame) -> DataFrame:
    col = F.col
    # Snapshot of the 1st: everyone in the network at the start of the month (and activated on the 1st).
    snap = st.filter(col("act_day") == 1).select(*_row(
        month, F.lit(1), F.lit("ACTIVE"), col("activation_date"), col("plan_idx_start"), col("vip_start")))
    days = F.array_distinct(F.filter(F.array(
        F.when(col("act_day") > 1, col("act_day")), col("plan_change_day"), col("vip_change_day"),
        col("suspend_day"), col("resume_day"), col("churn_day")), lambda x: x.isNotNull()))
    ch = st.select("*", F.explode(days).alias("d"))
    d = col("d")
    churned_by = col("churn_day").isNotNull() & (d >= col("churn_day"))
    suspended = col("suspend_day").isNotNull() & (d >= col("suspend_day")) & \
        (col("resume_day").isNull() | (d < col("resume_day")))
    status = F.when(churned_by, "CHURNED").when(suspended, "SUSPENDED").otherwise("ACTIVE")
    last_status_day = F.when(churned_by, col("churn_day")) \
        .when(suspended, col("suspend_day")) \
        .when(col("resume_day").isNotNull() & (d >= col("resume_day")), col("resume_day"))
    status_date = F.coalesce(F.date_add(F.lit(month.start), last_status_day - 1), col("activation_date"))
    plan = F.when(col("plan_change_day").isNotNull() & (d >= col("plan_change_day")), col("plan_idx_end")) \
        .otherwise(col("plan_idx_start"))
    vip = F.when(col("vip_change_day").isNotNull() & (d >= col("vip_change_day")), col("vip_end")) \
        .otherwise(col("vip_start"))
    changes = ch.select(*_row(month, d, status, status_date, plan, vip))
    return snap.unionByName(changes).select(*COLUMNS)

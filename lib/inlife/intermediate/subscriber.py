"""intermediate.subscriber_monthly: who the subscriber is at the month's end (基本信息汇总).

Status (and whether they churned during the month), tenure, brand, plan, prepaid, region, age, gender, VIP
level; their 0/1-class bundle or contract with its end date and months left; group membership and the
key-person flag; e-channel use in the month.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import active_days, days_mask, in_month
from inlife.months import month_end

VIP_RANK = {"DIAMOND": 3, "GOLD": 2, "SILVER": 1, "NONE": 0}

SUBSCRIBER_COLUMNS = [
    "msisdn", "status", "status_date", "churned_in_month", "activation_date", "tenure_months", "is_new",
    "brand", "plan_code", "prepaid_flag", "region", "county", "age", "gender", "vip_level", "vip_rank",
    "has_bundle", "bundle_code", "bundle_class", "bundle_end_date", "bundle_months_left",
    "bundle_commitment", "group_id", "is_group_member", "is_key_person", "is_vpn_member",
    "echannel_events", "echannel_days",
]


def latest_state(subscribers: DataFrame, as_of) -> DataFrame:
    """The latest row per subscriber with snapshot_date <= as_of (a full snapshot on the 1st, changes after).

    max_by over (snapshot_date, batch_date) instead of a window: an aggregate needs no sort."""
    cols = [c for c in subscribers.columns if c not in ("subscriber_id",)]
    latest = (subscribers.where(F.col("snapshot_date") <= F.lit(as_of.isoformat()).cast("date"))
              .groupBy("subscriber_id")
              .agg(F.max_by(F.struct(*cols), F.struct("snapshot_date", "batch_date")).alias("s")))
    return latest.select("subscriber_id", "s.*")


def subscriber_monthly(subscribers: DataFrame, contracts: DataFrame, members: DataFrame,
                       echannel: DataFrame, month: str) -> DataFrame:
    """Per (subscriber_id, month) for every subscriber with a row in the month's subscriber batches.

    subscribers: raw.subscribers batches of the month; contracts, members: their month-end snapshot rows;
    echannel: raw.echannel_events rows (filtered to the month here).
    """
    end = month_end(month)
    end_lit = F.lit(end.isoformat()).cast("date")
    state = latest_state(subscribers, end)

    # One bundle per subscriber: the one that runs longest (what still binds them).
    bundle = (contracts.where(F.col("end_date") >= F.lit(f"{month}-01").cast("date"))
              .groupBy("subscriber_id")
              .agg(F.max_by(F.struct("bundle_code", "bundle_class", "end_date", "monthly_commitment"),
                            F.struct("end_date", "contract_id")).alias("b"))
              .select("subscriber_id", F.col("b.bundle_code"), F.col("b.bundle_class"),
                      F.col("b.end_date").alias("bundle_end_date"),
                      F.col("b.monthly_commitment").alias("bundle_commitment")))
    group = (members.groupBy("subscriber_id")
             .agg(F.min("group_id").alias("group_id"),
                  F.max((F.col("member_role") == "KEY_PERSON").cast("int")).alias("is_key_person"),
                  F.max("vpn_flag").alias("is_vpn_member")))
    echan = (echannel.where(in_month("event_time", month))
             .groupBy("subscriber_id")
             .agg(F.count(F.lit(1)).alias("echannel_events"),
                  F.bit_or(days_mask(F.dayofmonth("event_time"))).alias("_days")))

    vip_rank = F.create_map(*[x for k, v in VIP_RANK.items() for x in (F.lit(k), F.lit(v))])
    out = (state.join(bundle, "subscriber_id", "left")
           .join(group, "subscriber_id", "left")
           .join(echan, "subscriber_id", "left")
           .withColumn("month", F.lit(month))
           .withColumn("churned_in_month", ((F.col("status") == "CHURNED")
                                            & in_month("status_date", month)).cast("int"))
           .withColumn("tenure_months", F.floor(F.months_between(end_lit, F.col("activation_date"))).cast("int"))
           .withColumn("is_new", in_month("activation_date", month).cast("int"))
           .withColumn("age", F.floor(F.months_between(end_lit, F.col("birth_date")) / 12).cast("int"))
           .withColumn("vip_rank", F.coalesce(vip_rank[F.col("vip_level")], F.lit(0)).cast("int"))
           .withColumn("has_bundle", F.col("bundle_code").isNotNull().cast("int"))
           .withColumn("bundle_months_left",
                       F.when(F.col("bundle_end_date").isNotNull(),
                              F.greatest(F.lit(0.0), F.months_between(F.col("bundle_end_date"), end_lit))))
           .withColumn("is_group_member", F.col("group_id").isNotNull().cast("int"))
           .withColumn("is_key_person", F.coalesce("is_key_person", F.lit(0)).cast("int"))
           .withColumn("is_vpn_member", F.coalesce("is_vpn_member", F.lit(0)).cast("int"))
           .withColumn("echannel_events", F.coalesce("echannel_events", F.lit(0)).cast("long"))
           .withColumn("echannel_days", F.coalesce(active_days("_days"), F.lit(0))))
    return out.select("subscriber_id", "month", *SUBSCRIBER_COLUMNS)

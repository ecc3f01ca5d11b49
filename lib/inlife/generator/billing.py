"""Billing (账务收入表), prepaid recharges and daily balances, contracts (0/1-class bundles).

The bill follows the month's spending level (ARPU x level, so a declining subscriber's bill falls) and the
share of the month the subscriber was active. Recharges are exactly the monthly driver's count (0 = a
missed recharge); daily balances hover around the month's balance level (low for those who stopped
recharging) and sink towards zero before a prepaid churner leaves.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Month, Params
from inlife.generator.rand import choice_index, pick, uniform
from inlife.generator.timing import DAY, explode_stream, month_epoch

RECHARGE_ID_BASE = 8_000_000_000
VAS_FEE = dict(zip(R.VAS_PRODUCTS, R.VAS_FEES))


def billing(p: Params, month: Month, st: DataFrame) -> DataFrame:
    s, col = p.seed, F.col
    key = [col("idx"), F.lit(month.index)]
    active = (col("win_end_usage") - col("win_start")) / (month.days * DAY)
    fee = pick([f for _, _, f in R.ALL_PLANS], col("plan_idx_start"))
    rental = F.round(fee * active, 2)
    usage = F.greatest(col("arpu_month") - fee, F.lit(0.0)) * active + 0.5 * active
    data_share = F.when(col("segment_idx") == 3, 0.40).otherwise(0.15)
    vas = sum((F.when(col(f"held_{x}"), F.lit(VAS_FEE[x])).otherwise(0.0) for x in R.VAS_PRODUCTS), F.lit(0.0)) * active
    discount = F.when(col("has_contract") & (col("contract_end") >= F.lit(month.start)), F.round(rental * 0.1, 2)).otherwise(0.0)
    df = st.select("idx", "subscriber_id", rental.alias("rental_charge"),
                   F.round(usage * (0.85 - data_share), 2).alias("voice_charge"),
                   F.round(usage * 0.06, 2).alias("sms_charge"), F.round(usage * data_share, 2).alias("data_charge"),
                   F.round(vas, 2).alias("vas_charge"), discount.alias("discount"), "prepaid", "dissatisfaction")
    total = col("rental_charge") + col("voice_charge") + col("sms_charge") + col("data_charge") + col("vas_charge") \
        - col("discount")
    arrears = F.when((col("prepaid") == 0) & (uniform(s, "arrears", *key) < 0.03 + 0.05 * (col("dissatisfaction") > 1.5).cast("int")),
                     F.round(total * (0.5 + uniform(s, "arrears-amt", *key)), 2)).otherwise(0.0)
    return df.select("subscriber_id", F.lit(month.label).alias("bill_month"), F.lit(month.end).alias("bill_date"),
                     F.round(F.greatest(total, F.lit(0.0)), 2).alias("total_charge"), "rental_charge", "voice_charge",
                     "sms_charge", "data_charge", "vas_charge", "discount", arrears.alias("arrears"))


AMOUNTS = [10.0, 20.0, 30.0, 50.0, 100.0, 200.0, 300.0]


def recharges(p: Params, month: Month, st: DataFrame) -> DataFrame:
    s, col = p.seed, F.col
    base = st.filter(col("prepaid") == 1).select("idx", "subscriber_id", "arpu_month", "n_recharges", "win_start",
                                                 "win_end_event")
    ev = explode_stream(base, p, "rech-t", [col("idx"), F.lit(month.index)], "n_recharges", col("win_start"),
                        col("win_end_event"))
    ck = [col("idx"), col("_k"), F.lit(month.index)]
    u = uniform(s, "rech-amt", *ck)
    amount = F.when(col("arpu_month") < 25, pick(AMOUNTS, choice_index(u, [0.3, 0.3, 0.2, 0.15, 0.05, 0, 0]))) \
        .when(col("arpu_month") < 80, pick(AMOUNTS, choice_index(u, [0.05, 0.15, 0.25, 0.3, 0.2, 0.05, 0]))) \
        .otherwise(pick(AMOUNTS, choice_index(u, [0, 0.05, 0.1, 0.25, 0.35, 0.15, 0.1])))
    channel = pick(["CARD", "HALL", "WEB", "BANK", "AUTO"],
                   choice_index(uniform(s, "rech-ch", *ck), [0.4, 0.2, 0.15, 0.15, 0.1]))
    rid = F.lit(RECHARGE_ID_BASE) + (F.lit(month.index) * F.lit(p.total_ids) + col("idx")) * 64 + col("_k")
    return ev.select(rid.alias("recharge_id"), "subscriber_id", (F.lit(month_epoch(month)) + col("t")).alias("recharge_time"),
                     amount.alias("amount"), channel.alias("channel"))


def balances(p: Params, month: Month, st: DataFrame) -> DataFrame:
    """End-of-day balance of prepaid subscribers, each day they are active."""
    s, col = p.seed, F.col
    base = st.filter(col("prepaid") == 1).select(
        "idx", "subscriber_id", "balance_level", "churned", "churn_day", "suspend_day", "resume_day",
        (col("win_start") / DAY + 1).cast("int").alias("d0"), (col("win_end_usage") / DAY).cast("int").alias("d1"))
    base = base.filter(col("d1") >= col("d0"))
    ev = base.select("*", F.explode(F.sequence(col("d0"), col("d1"))).alias("d"))
    key = [col("idx"), col("d"), F.lit(month.index)]
    # Sinking towards zero over the last fortnight of a churner.
    fade = F.when(col("churned"), F.least(F.greatest((col("churn_day") - col("d")) / 14.0, F.lit(0.0)), F.lit(1.0))) \
        .otherwise(1.0)
    bal = col("balance_level") * (0.5 + uniform(s, "bal-d", *key)) * fade
    suspended = col("suspend_day").isNotNull() & (col("d") >= col("suspend_day")) \
        & (col("resume_day").isNull() | (col("d") < col("resume_day")))
    bal = F.when(suspended, -F.round(5 * uniform(s, "bal-neg", *key), 2)).otherwise(F.round(bal, 2))
    return ev.select("subscriber_id", F.date_add(F.lit(month.start), col("d") - 1).alias("balance_date"),
                     bal.alias("balance"))


def contracts(p: Params, month: Month, st: DataFrame) -> DataFrame:
    """Contracts in force (or ending) at the month end, of subscribers still in the network then."""
    col = F.col
    df = st.filter(col("has_contract") & ~col("churned") & (col("contract_end") >= F.lit(month.start))
                   & (col("contract_start") <= F.lit(month.end)))
    b = col("bundle_idx")
    return df.select("contract_id", "subscriber_id", F.lit(month.end).alias("snapshot_date"),
                     pick([x[0] for x in R.BUNDLES], b).alias("bundle_code"),
                     pick([x[1] for x in R.BUNDLES], b).alias("bundle_name"),
                     pick([x[2] for x in R.BUNDLES], b).alias("bundle_class"),
                     col("contract_start").alias("start_date"), col("contract_end").alias("end_date"),
                     pick([x[4] for x in R.BUNDLES], b).alias("monthly_commitment"))


_ = explode_stream

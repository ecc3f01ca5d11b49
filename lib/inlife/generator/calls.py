"""Voice CDR and SMS/data records.

Calls come from each subscriber's circle slots (see circle.py). A call to an on-net peer is written twice,
as the caller's MO leg and the callee's MT leg (odd second, so the two streams of a pair never collide),
which makes the call graph consistent from both ends. Migrant workers' circles hold long-distance peers in
their home province who mostly call them (incoming LD); roaming business travellers' days away turn their
calls into roaming calls. Calls to competitors' service numbers (10000, 10010...) come from the monthly
driver count, unthinned, so their number is exactly what the truth used.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.circle import LD, OFFNET, ON_NET, WORK, slots
from inlife.generator.params import Month, Params
from inlife.generator.population import activation_date, enterprise, msisdn, region_index, subscriber_id
from inlife.generator.rand import choice_index, lognormal, pick, poisson, uniform
from inlife.generator.timing import DAY, explode_stream, mean_rhythm, month_epoch, rhythm_weight

# Calls per slot per day = CALLS_PER_DAY[segment] * voice_mult * slot_weight * CALL_SCALE.
CALL_SCALE = 0.064
CT_IDX = {c: i for i, c in enumerate(R.CALL_TYPES)}
REGION_CODES = [r[1] for r in R.REGIONS]


def _cell(p: Params, idx: Column, region_idx: Column, t: Column, roaming: Column) -> Column:
    """Cell id: mostly the home cell, sometimes another of the city; roaming: a visited network's cell."""
    home = F.abs(F.xxhash64(F.lit(p.seed), F.lit("cell"), idx)) % 4000
    other = F.abs(F.xxhash64(F.lit(p.seed), F.lit("cell2"), idx, (t / 3600).cast("long"))) % 4000
    num = F.when(uniform(p.seed, "cell-home", idx, t) < 0.65, home).otherwise(other)
    return F.when(roaming, F.concat(F.lit("RM"), F.lpad(other.cast("string"), 5, "0"))) \
        .otherwise(F.concat(pick(REGION_CODES, region_idx), F.lpad(num.cast("string"), 5, "0")))


def voice_cdr(p: Params, month: Month, st: DataFrame, churn: DataFrame) -> DataFrame:
    """Voice legs of ``month``. ``st``: the month's state; ``churn``: (idx, churn_day) of every subscriber
    who churned this month or before (churn_day 0 = before this month)."""
    s = p.seed
    col = F.col
    base = st.select("idx", "segment_idx", "member", "block", "pos", "group_size", "home_prov_idx", "region_idx",
                     "vpn_flag", "prepaid", "voice_mult", "decline", "win_start", "win_end_usage", "msisdn",
                     "subscriber_id")
    sl = slots(p, base)
    # The on-net peer's side: its region, VPN, activation and churn (a broadcast join with the churners).
    pidx = col("peer_idx")
    sl = sl.select("*", region_index(p, pidx).alias("peer_region_idx"), enterprise(p, pidx)["vpn_flag"].alias("peer_vpn"),
                   activation_date(p, pidx).alias("peer_act"))
    sl = sl.join(F.broadcast(churn.select(col("idx").alias("peer_idx"), col("churn_day").alias("peer_churn_day"))),
                 "peer_idx", "left")
    peer_ws = F.greatest(F.datediff(col("peer_act"), F.lit(month.start)), F.lit(0)) * DAY
    peer_we = F.when(col("peer_churn_day").isNotNull(), F.greatest(col("peer_churn_day") - 1, F.lit(0)) * DAY) \
        .otherwise(F.lit(month.days * DAY))
    onnet = col("kind").isin(*ON_NET)
    # A stream's window: both ends must be alive for an on-net call.
    ws = F.when(onnet, F.greatest(col("win_start"), peer_ws)).otherwise(col("win_start"))
    we = F.when(onnet, F.least(col("win_end_usage"), peer_we)).otherwise(col("win_end_usage"))
    profile = pick(R.WEEK_PROFILE, col("segment_idx"))
    accept = pick([mean_rhythm(R.WEEK_PROFILE[i]) for i in range(len(R.SEGMENTS))], col("segment_idx"))
    lam = (pick(R.CALLS_PER_DAY, col("segment_idx")) * col("voice_mult") * col("slot_weight") * CALL_SCALE / accept
           * (we - ws) / DAY)
    sl = sl.select("*", ws.alias("ws"), we.alias("we"), profile.alias("profile"), lam.alias("_lam"))
    sl = sl.filter(col("we") > col("ws"))
    sl = sl.select("*", (col("_lam") * col("mo_share")).alias("_lmo"), (col("_lam") * (1 - col("mo_share"))).alias("_lmt"))
    key = [col("idx"), col("slot")]
    sl = sl.select("*", F.explode(F.array(
        F.struct(F.lit("MO").alias("direction"), poisson(col("_lmo"), uniform(s, "n-mo", *key, F.lit(month.index)),
                                                         _z(s, "n-mo-z", key, month)).alias("n")),
        F.struct(F.lit("MT").alias("direction"), poisson(col("_lmt"), uniform(s, "n-mt", *key, F.lit(month.index)),
                                                         _z(s, "n-mt-z", key, month)).alias("n")),
    )).alias("_st")).select("*", "_st.direction", "_st.n").drop("_st", "_lam", "_lmo", "_lmt")
    ev = explode_stream(sl, p, "call-t", [col("idx"), col("slot"), col("direction"), F.lit(month.index)], "n",
                        col("ws"), col("we"))
    ck = [col("idx"), col("slot"), col("direction"), col("_k"), F.lit(month.index)]
    # Thin by weekly and daily rhythm, and by the month's decline (usage fading towards the month end).
    keep = uniform(s, "call-keep", *ck) < rhythm_weight(month, col("t"), col("profile")) \
        * (1 - col("decline") * col("t") / (month.days * DAY))
    ev = ev.filter(keep)
    # Own-network-pair calls land on even seconds, the mirrored legs on odd ones.
    ev = ev.withColumn("t", col("t") - col("t") % 2)
    day = (col("t") / DAY).cast("int")
    roam_share = pick(R.ROAM_DAY_SHARE, col("segment_idx"))
    roaming = uniform(s, "roam-day", col("idx"), day, F.lit(month.index)) < roam_share
    u_rt = uniform(s, "roam-type", col("idx"), day, F.lit(month.index))
    roam_type = F.when(col("segment_idx") == 2, F.when(u_rt < 0.25, "ROAM_INTRA").when(u_rt < 0.95, "ROAM_INTER")
                       .otherwise("ROAM_INTL")).otherwise(F.when(u_rt < 0.8, "ROAM_INTRA").otherwise("ROAM_INTER"))
    vpn_pair = (col("kind") == WORK) & (col("vpn_flag") == 1) & col("peer_vpn")
    same_region = col("region_idx") == col("peer_region_idx")
    home_type = (F.when(vpn_pair, "VPN").when(onnet, F.when(same_region, "LOCAL").otherwise("LD_INTRA"))
                 .when(col("kind") == OFFNET, "LOCAL").when(col("kind") == LD, "LD_INTER").otherwise("LD_INTL"))
    own_type = F.when(roaming, F.when(vpn_pair, "VPN_ROAM").otherwise(roam_type)).otherwise(home_type)
    mu = pick(R.DURATION_MU, col("segment_idx")) + F.when(col("kind") == LD, 0.4).when(vpn_pair, -0.4).otherwise(0.0)
    dur = F.least(F.greatest(F.floor(lognormal(s, "dur", mu, 0.9, *ck)), F.lit(1.0)), F.lit(7200.0)).cast("int")
    ev = ev.select("*", own_type.alias("call_type"), home_type.alias("peer_call_type"), dur.alias("duration_sec"),
                   roaming.alias("roaming"), (col("peer_idx").isNotNull()).alias("mirror"))
    epoch = month_epoch(month)
    minutes = F.ceil(col("duration_sec") / 60.0)
    ct_index = F.array_position(F.array(*[F.lit(c) for c in R.CALL_TYPES]), col("call_type")).cast("int") - 1
    pct_index = F.array_position(F.array(*[F.lit(c) for c in R.CALL_TYPES]), col("peer_call_type")).cast("int") - 1
    own_price = F.when(col("direction") == "MO", pick(R.MO_PRICE, ct_index) * F.when(col("prepaid") == 1, 1.15).otherwise(1.0)) \
        .otherwise(pick(R.MT_PRICE, ct_index))
    peer_price = F.when(col("direction") == "MT", pick(R.MO_PRICE, pct_index)).otherwise(F.lit(0.0))
    flip = F.when(col("direction") == "MO", "MT").otherwise("MO")
    own = F.struct(
        col("subscriber_id").alias("subscriber_id"),
        F.coalesce(msisdn(col("peer_idx")), col("peer_number")).alias("peer_number"),
        col("peer_operator").alias("peer_operator"), col("peer_province").alias("peer_province"),
        col("direction").alias("direction"), col("call_type").alias("call_type"),
        (F.lit(epoch) + col("t")).alias("start_time"), col("duration_sec").alias("duration_sec"),
        F.round(minutes * own_price, 2).alias("charge"),
        _cell(p, col("idx"), col("region_idx"), col("t"), col("roaming")).alias("cell_id"))
    mirror = F.struct(
        subscriber_id(col("peer_idx")).alias("subscriber_id"), col("msisdn").alias("peer_number"),
        F.lit("CMCC").alias("peer_operator"), F.lit(R.PROVINCE).alias("peer_province"),
        flip.alias("direction"), col("peer_call_type").alias("call_type"),
        (F.lit(epoch) + col("t") + 1).alias("start_time"), col("duration_sec").alias("duration_sec"),
        F.round(minutes * peer_price, 2).alias("charge"),
        _cell(p, col("peer_idx"), col("peer_region_idx"), col("t") + 1, F.lit(False)).alias("cell_id"))
    legs = ev.select(F.explode(F.when(col("mirror"), F.array(own, mirror)).otherwise(F.array(own))).alias("r")) \
        .select("r.*")
    return legs.unionByName(competitor_calls(p, month, st))


def competitor_calls(p: Params, month: Month, st: DataFrame) -> DataFrame:
    """Calls to other operators' service numbers: exactly n_comp_month per subscriber."""
    s, col = p.seed, F.col
    nums = ["10000", "10010", "10001", "10011"]
    ev = explode_stream(st.select("idx", "subscriber_id", "region_idx", "n_comp_month", "win_start", "win_end_usage"),
                        p, "comp-t", [col("idx"), F.lit(month.index)], "n_comp_month", col("win_start"),
                        col("win_end_usage"))
    ev = ev.withColumn("t", col("t") - col("t") % 2)
    ck = [col("idx"), col("_k"), F.lit(month.index)]
    num = pick(nums, choice_index(uniform(s, "comp-num", *ck), [0.4, 0.4, 0.1, 0.1]))
    dur = F.least(F.floor(lognormal(s, "comp-dur", 5.0, 0.6, *ck)), F.lit(3600.0)).cast("int") + 10
    return ev.select(
        col("subscriber_id"), num.alias("peer_number"),
        F.when(num.isin("10000", "10001"), "CT").otherwise("CU").alias("peer_operator"),
        F.lit(R.PROVINCE).alias("peer_province"), F.lit("MO").alias("direction"), F.lit("LOCAL").alias("call_type"),
        (F.lit(month_epoch(month)) + col("t")).alias("start_time"), dur.alias("duration_sec"),
        F.lit(0.0).alias("charge"), _cell(p, col("idx"), col("region_idx"), col("t"), F.lit(False)).alias("cell_id"))


def _z(seed, salt, key, month):
    from inlife.generator.rand import normal
    return normal(seed, salt, *key, F.lit(month.index))


SMS_TYPES = ["SMS_MO", "SMS_MT", "MMS_MO", "MMS_MT", "DATA"]


def sms_data(p: Params, month: Month, st: DataFrame) -> DataFrame:
    """SMS/MMS records and data sessions; one stream per subscriber and record type."""
    s, col = p.seed, F.col
    base = st.select("idx", "subscriber_id", "segment_idx", "data_mult", "decline", "win_start", "win_end_usage",
                     "held_MOBILE_INTERNET")
    seg = col("segment_idx")
    days = (col("win_end_usage") - col("win_start")) / DAY
    accept = mean_rhythm(0)
    sms = pick(R.SMS_PER_DAY, seg) * days / accept
    data = pick(R.DATA_SESSIONS_PER_DAY, seg) * col("data_mult") * days / accept
    base = base.select("*", sms.alias("_ls"), data.alias("_ld"))
    rates = [col("_ls"), col("_ls") * 1.3, col("_ls") * 0.05, col("_ls") * 0.08, col("_ld")]
    key = [col("idx"), F.lit(month.index)]
    base = base.select("*", *[(r * 1.0).alias(f"_l{i}") for i, r in enumerate(rates)])
    streams = F.array(*[F.struct(F.lit(t).alias("record_type"),
                                 poisson(col(f"_l{i}"), uniform(s, "n-" + t, *key), _z(s, "z-" + t, key, month)).alias("n"))
                        for i, t in enumerate(SMS_TYPES)])
    base = base.select("*", F.explode(streams).alias("_st")).select("*", "_st.record_type", "_st.n").drop("_st")
    ev = explode_stream(base, p, "sms-t", [col("idx"), col("record_type"), F.lit(month.index)], "n",
                        col("win_start"), col("win_end_usage"))
    ck = [col("idx"), col("record_type"), col("_k"), F.lit(month.index)]
    ev = ev.filter(uniform(s, "sms-keep", *ck) < rhythm_weight(month, col("t"), F.lit(0))
                   * (1 - col("decline") * col("t") / (month.days * DAY)))
    idx = col("idx")
    u = uniform(s, "sms-peer", *ck)
    hh = idx - idx % 4 + (idx % 4 + 1 + F.floor(uniform(s, "sms-hh", *ck) * 3).cast("long")) % 4
    friend = (idx + 64 * (1 + F.floor(uniform(s, "sms-fr", *ck) * 40).cast("long"))) % F.lit(p.total_ids)
    offnet = F.concat(pick(R.CT_PREFIXES + R.CU_PREFIXES, F.floor(uniform(s, "sms-op", *ck) * 10)),
                      F.lpad((F.abs(F.xxhash64(F.lit(s), F.lit("sms-num"), *ck)) % 100_000_000).cast("string"), 8, "0"))
    sp = F.concat(F.lit("10658"), F.lpad((F.abs(F.xxhash64(F.lit(s), F.lit("sp"), idx)) % 1000).cast("string"), 3, "0"))
    peer = F.when(col("record_type") == "DATA", F.lit("")) \
        .when((col("record_type") == "SMS_MT") & (u < 0.25), sp) \
        .when(u < 0.4, msisdn(hh)).when(u < 0.75, msisdn(friend)).otherwise(offnet)
    vol = F.when(col("record_type") == "DATA", F.round(lognormal(s, "kb", pick(R.DATA_KB_MU, seg), 1.1, *ck), 1)) \
        .when(col("record_type").startswith("MMS"), F.round(30 + 70 * uniform(s, "mms-kb", *ck), 1)).otherwise(0.0)
    ev = ev.select("*", peer.alias("peer_number"), vol.alias("volume_kb"))
    charge = (F.when(col("record_type") == "SMS_MO", 0.1).when(col("record_type") == "MMS_MO", 0.3)
              .when(col("record_type") == "DATA", F.when(col("held_MOBILE_INTERNET"), 0.0)
                    .otherwise(F.round(F.least(col("volume_kb") / 1024.0 * 1.0, F.lit(5.0)), 2)))
              .otherwise(0.0))
    items = F.when(col("record_type") == "DATA", 1).when(col("record_type").startswith("SMS"),
                                                          1 + (uniform(s, "sms-long", *ck) < 0.1).cast("int")).otherwise(1)
    return ev.select("subscriber_id", "record_type", "peer_number",
                     (F.lit(month_epoch(month)) + col("t")).alias("start_time"), "volume_kb",
                     items.alias("item_count"), charge.alias("charge"))

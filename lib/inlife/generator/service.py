"""Customer-service contacts (10086 calls, complaints, consultations, SMS surveys) and e-channel use.

Complaint and survey counts are exactly the monthly drivers the churn truth used; they happen before or on
the churn day.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Month, Params
from inlife.generator.rand import choice_index, pick, poisson, sigmoid, uniform
from inlife.generator.timing import explode_stream, month_epoch, rhythm_weight

CONTACT_ID_BASE = 5_000_000_000
# stream: (contact_type, count column, resolved, reply index or None)
STREAMS = [
    ("COMPLAINT", "n_complaint_resolved", "Y", None),
    ("COMPLAINT", "n_complaint_unresolved", "N", None),
    ("CALL_10086", "n_10086", "", None),
    ("CONSULT", "n_consult", "", None),
    ("SMS_SURVEY", "n_satisfied", "", 0),
    ("SMS_SURVEY", "n_neutral", "", 1),
    ("SMS_SURVEY", "n_unsatisfied", "", 2),
]


def service_contacts(p: Params, month: Month, st: DataFrame) -> DataFrame:
    s, col = p.seed, F.col
    base = st.select("idx", "subscriber_id", "win_start", "win_end_event", *{c for _, c, _, _ in STREAMS})
    structs = [F.struct(F.lit(i).alias("stream"), F.least(col(c), F.lit(31)).alias("n")) for i, (_, c, _, _) in enumerate(STREAMS)]
    base = base.select("*", F.explode(F.array(*structs)).alias("_s")).select("*", "_s.*").drop("_s")
    ev = explode_stream(base, p, "contact-t", [col("idx"), col("stream"), F.lit(month.index)], "n",
                        col("win_start"), col("win_end_event"))
    si = col("stream")
    ck = [col("idx"), si, col("_k"), F.lit(month.index)]
    ctype = pick([x[0] for x in STREAMS], si)
    u = uniform(s, "contact-cat", *ck)
    category = (F.when(ctype == "COMPLAINT", pick(["BILLING", "NETWORK", "SERVICE", "PRODUCT"], choice_index(u, [0.4, 0.3, 0.2, 0.1])))
                .when(ctype == "CALL_10086", pick(["BILLING", "OTHER", "PRODUCT"], choice_index(u, [0.5, 0.3, 0.2])))
                .when(ctype == "CONSULT", pick(["PRODUCT", "BILLING", "OTHER"], choice_index(u, [0.6, 0.25, 0.15])))
                .otherwise("SERVICE"))
    reply_idx = pick([-1 if r is None else r for _, _, _, r in STREAMS], si)
    reply = F.when(reply_idx >= 0, pick(R.SURVEY_REPLIES, reply_idx)).otherwise("")
    sat = F.when(reply_idx >= 0, pick(R.SURVEY_CODES, reply_idx)).otherwise("")
    contact_id = F.lit(CONTACT_ID_BASE) + ((F.lit(month.index) * F.lit(p.total_ids) + col("idx")) * 8 + si) * 32 + col("_k")
    return ev.select(contact_id.alias("contact_id"), "subscriber_id",
                     (F.lit(month_epoch(month)) + col("t")).alias("contact_time"), ctype.alias("contact_type"),
                     category.alias("category"), pick([x[2] for x in STREAMS], si).alias("resolved"),
                     reply.alias("reply_text"), sat.alias("satisfaction"))


ECHANNEL_RATE = [1.0, 0.4, 4.0, 3.0, 0.1, 2.0, 0.2]      # events per month by segment


def echannel_events(p: Params, month: Month, st: DataFrame) -> DataFrame:
    s, col = p.seed, F.col
    seg = col("segment_idx")
    base = st.select("idx", "subscriber_id", "segment_idx", "true_stickiness", "win_start", "win_end_usage")
    frac = (col("win_end_usage") - col("win_start")) / (month.days * 86400)
    # Sticky subscribers use self-service more: a habit, and part of what stickiness means.
    lam = pick(ECHANNEL_RATE, seg) * frac * (0.5 + col("true_stickiness") / 100) / 0.6
    key = [col("idx"), F.lit(month.index)]
    base = base.select("*", lam.alias("_l"))
    from inlife.generator.rand import normal
    base = base.select("*", F.least(poisson(col("_l"), uniform(s, "ech-n", *key), normal(s, "ech-z", *key)),
                                    F.lit(100)).alias("n"))
    ev = explode_stream(base, p, "ech-t", key, "n", col("win_start"), col("win_end_usage"))
    ck = [col("idx"), col("_k"), F.lit(month.index)]
    ev = ev.filter(uniform(s, "ech-keep", *ck) < rhythm_weight(month, col("t"), F.lit(0)) / 0.8)
    u = uniform(s, "ech-ch", *ck)
    channel = F.when(seg == 3, pick(["WAP_HALL", "ONLINE_HALL", "SMS_HALL"], choice_index(u, [0.6, 0.25, 0.15]))) \
        .when(seg == 4, pick(["SELF_TERMINAL", "SMS_HALL"], choice_index(u, [0.7, 0.3]))) \
        .otherwise(pick(["ONLINE_HALL", "WAP_HALL", "SMS_HALL", "SELF_TERMINAL"], choice_index(u, [0.4, 0.25, 0.2, 0.15])))
    action = pick(["LOGIN", "QUERY", "PAY", "ORDER"], choice_index(uniform(s, "ech-act", *ck), [0.35, 0.4, 0.15, 0.1]))
    return ev.select("subscriber_id", (F.lit(month_epoch(month)) + col("t")).alias("event_time"),
                     channel.alias("channel"), action.alias("action"))


_ = sigmoid

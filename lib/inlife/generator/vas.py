"""VAS usage events (新业务使用表) and special-service orders (特服订购表).

Orders are the realised draws of the true propensities (took_<product>) and cancellations; usage comes
from holdings: whoever holds a product uses it, from the order day on.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Month, Params
from inlife.generator.rand import choice_index, lognormal, pick, poisson, uniform
from inlife.generator.timing import DAY, explode_stream, month_epoch

ORDER_ID_BASE = 3_000_000_000
# (product, event_type, events per active day (or per month when per_month), volume KB mu, charge per event)
USAGE = [
    ("NEWSPAPER", "PUSH_READ", 0.25, False, 3.5, 0.0),
    ("CRBT", "SUBSCRIBED_USE", 1.0, True, 0.0, 5.0),
    ("CRBT", "DOWNLOAD", 0.4, True, 5.5, 2.0),
    ("RINGTONE_CHANGE", "CHANGE", 1.5, True, 5.0, 1.0),
    ("RINGTONE_CHANGE", "DOWNLOAD", 0.5, True, 5.5, 2.0),
    ("MOBILE_INTERNET", "SUBSCRIBED_USE", 1.0, True, 0.0, 10.0),
    ("MOBILE_INTERNET", "BROWSE", 0.35, False, 6.0, 0.0),
    ("FETION", "BROWSE", 0.2, False, 3.0, 0.0),
    ("MAIL139", "PUSH_READ", 0.08, False, 3.5, 0.0),
    ("FAMILY_NET", "SUBSCRIBED_USE", 1.0, True, 0.0, 10.0),
]


def _order_day(month: Month):
    return F.least(F.col("order_day_raw"), F.greatest(F.col("win_end_event") / DAY, F.lit(1)).cast("int"))


def vas_usage(p: Params, month: Month, st: DataFrame) -> DataFrame:
    s, col = p.seed, F.col
    cols = ["idx", "subscriber_id", "data_mult", "win_start", "win_end_usage", "order_day_raw", "win_end_event"] \
        + [f"held_{x}" for x in R.VAS_PRODUCTS] + [f"took_{x}" for x in R.VAS_PRODUCTS]
    base = st.select(*cols)
    od = _order_day(month)
    key = [col("idx"), F.lit(month.index)]
    # Materialise each usage stream's start and mean first (poisson() uses the mean many times).
    base = base.select("*", od.alias("_od"))
    starts = [F.when(col(f"held_{prod}"), col("win_start")).otherwise(F.greatest(col("win_start"), (col("_od") - 1) * DAY))
              .alias(f"_ws{i}") for i, (prod, *_rest) in enumerate(USAGE)]
    base = base.select("*", *starts)
    base = base.select("*", *[(F.lit(USAGE[i][2]) if USAGE[i][3] else
                               USAGE[i][2] * (col("win_end_usage") - col(f"_ws{i}")) / DAY
                               * (col("data_mult") if USAGE[i][0] == "MOBILE_INTERNET" else F.lit(1.0))).alias(f"_lam{i}")
                              for i in range(len(USAGE))])
    structs = []
    for i, (prod, _evt, rate, per_month, _, _) in enumerate(USAGE):
        holds = col(f"held_{prod}") | col(f"took_{prod}")
        start = col(f"_ws{i}")
        n = F.when(holds & (col("win_end_usage") > start), F.lit(1) if (per_month and rate == 1.0)
                   else F.least(poisson(col(f"_lam{i}"), uniform(s, f"vas-n{i}", *key), _z(s, f"vas-z{i}", key)),
                                F.lit(200)))
        structs.append(F.struct(F.lit(i).alias("usage_i"), n.alias("n"), start.alias("ws")))
    base = base.select("*", F.explode(F.array(*structs)).alias("_u")).select("*", "_u.*").drop("_u")
    ev = explode_stream(base, p, "vas-t", [col("idx"), col("usage_i"), F.lit(month.index)], "n", col("ws"),
                        col("win_end_usage"))
    ui = col("usage_i")
    ck = [col("idx"), ui, col("_k"), F.lit(month.index)]
    vol_mu = pick([u[4] for u in USAGE], ui)
    vol = F.when(vol_mu > 0, F.round(lognormal(s, "vas-kb", vol_mu, 0.8, *ck), 1)).otherwise(0.0)
    return ev.select(
        "subscriber_id", pick([u[0] for u in USAGE], ui).alias("product_code"),
        pick([u[1] for u in USAGE], ui).alias("event_type"),
        (F.lit(month_epoch(month)) + col("t")).alias("event_time"), vol.alias("volume_kb"),
        pick([u[5] for u in USAGE], ui).alias("charge"))


def service_orders(p: Params, month: Month, st: DataFrame) -> DataFrame:
    s, col = p.seed, F.col
    base = st.select("idx", "subscriber_id", "segment_idx", "age", "win_start", "win_end_event", "order_day_raw",
                     *[f"took_{x}" for x in R.VAS_PRODUCTS], *[f"cancel_{x}" for x in R.VAS_PRODUCTS])
    structs = []
    for i, x in enumerate(R.VAS_PRODUCTS):
        act = F.when(col(f"took_{x}"), "ORDER").when(col(f"cancel_{x}"), "CANCEL")
        structs.append(F.struct(F.lit(i).alias("prod_i"), act.alias("action")))
    ev = base.select("*", F.explode(F.array(*structs)).alias("_o")).select("*", "_o.*").drop("_o") \
        .filter(col("action").isNotNull())
    key = [col("idx"), col("prod_i"), F.lit(month.index)]
    # Orders happen on the drawn order day (within the subscriber's window); cancellations any time.
    od = _order_day(month)
    start = F.when(col("action") == "ORDER", F.greatest(col("win_start"), (od - 1) * DAY)).otherwise(col("win_start"))
    end = F.when(col("action") == "ORDER", F.least(col("win_end_event"), od * DAY)).otherwise(col("win_end_event"))
    t = start + F.floor(uniform(s, "order-t", *key) * F.greatest(end - start, F.lit(1))).cast("long")
    seg = col("segment_idx")
    u = uniform(s, "order-ch", *key)
    channel = (F.when(seg == 3, pick(["WAP", "SMS", "WEB", "HALL"], choice_index(u, [0.4, 0.3, 0.2, 0.1])))
               .when(seg == 4, pick(["HALL", "HOTLINE", "OUTBOUND"], choice_index(u, [0.6, 0.25, 0.15])))
               .when((seg == 2) | (seg == 5), pick(["MANAGER", "HOTLINE", "WEB", "SMS"], choice_index(u, [0.35, 0.25, 0.2, 0.2])))
               .otherwise(pick(["HALL", "SMS", "HOTLINE", "OUTBOUND", "WAP", "WEB"],
                               choice_index(u, [0.3, 0.25, 0.15, 0.12, 0.1, 0.08]))))
    order_id = F.lit(ORDER_ID_BASE) + (F.lit(month.index) * F.lit(p.total_ids) + col("idx")) * 8 + col("prod_i")
    return ev.select(order_id.alias("order_id"), "subscriber_id",
                     pick(R.VAS_PRODUCTS, col("prod_i")).alias("product_code"),
                     pick(R.VAS_NAMES, col("prod_i")).alias("product_name"), "action", channel.alias("channel"),
                     (F.lit(month_epoch(month)) + t).alias("order_time"))


def _z(seed, salt, key):
    from inlife.generator.rand import normal
    return normal(seed, salt, *key)

"""Who the subscribers are: static attributes as pure Column functions of the subscriber index.

Everything here is a function of (seed, index), never of another row, so the attributes of a call peer
(its region, number, VPN group, activation date) are computed from the peer's index with the same
functions, without a join. Structure that a call graph needs is built into the index space:

- a *household* is 4 consecutive indexes (idx // 4): families call each other;
- a *neighbourhood* is 64 consecutive indexes (idx // 64): it shares a city and mostly a county, and
  some neighbourhoods are an enterprise (集团客户) whose first ``size`` indexes are its members.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Params
from inlife.generator.rand import choice_index, lognormal, normal, pick, uniform

BLOCK = 64          # neighbourhood / enterprise block
HOUSEHOLD = 4
ID_BASE = 1_000_000_000          # subscriber_id = ID_BASE + idx
GROUP_ID_BASE = 50_000_000       # group_id = GROUP_ID_BASE + block
CONTRACT_ID_BASE = 7_000_000_000
ENTERPRISE_SHARE = 0.16          # share of neighbourhoods that are an enterprise


def subscriber_id(idx: Column) -> Column:
    return (F.lit(ID_BASE) + idx).cast("long")


def msisdn(idx: Column) -> Column:
    """A mobile number that is a bijection of the index (for idx < 5e8): no lookup needed for peers."""
    x = (idx * F.lit(48271) + F.lit(7_654_321)) % F.lit(500_000_000)
    prefix = pick(R.CMCC_PREFIXES, (x / F.lit(100_000_000)).cast("int"))
    return F.concat(prefix, F.lpad((x % F.lit(100_000_000)).cast("string"), 8, "0"))


def block_of(idx: Column) -> Column:
    return (idx / BLOCK).cast("long")


def region_index(p: Params, idx: Column) -> Column:
    return choice_index(uniform(p.seed, "region", block_of(idx)), [r[2] for r in R.REGIONS])


def county_name(p: Params, idx: Column, region_idx: Column) -> Column:
    """Mostly the neighbourhood's county; one in five lives elsewhere in the same city."""
    sizes = [len(r[3]) for r in R.REGIONS]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    flat = [c for r in R.REGIONS for c in r[3]]
    own = F.when(uniform(p.seed, "county-own", idx) < 0.8, uniform(p.seed, "county", (idx / BLOCK).cast("long"))) \
        .otherwise(uniform(p.seed, "county-ind", idx))
    n = pick(sizes, region_idx)
    return pick(flat, pick(offsets, region_idx) + F.floor(own * n).cast("int"))


def enterprise(p: Params, idx: Column) -> dict[str, Column]:
    """Group membership: is the neighbourhood an enterprise, is this index one of its members, VPN."""
    block = (idx / BLOCK).cast("long")
    pos = idx % BLOCK
    is_ent = uniform(p.seed, "ent", block) < ENTERPRISE_SHARE
    size = F.lit(6) + F.floor(uniform(p.seed, "ent-size", block) * 58).cast("int")
    member = is_ent & (pos < size)
    group_vpn = uniform(p.seed, "ent-vpn", block) < 0.85
    vpn = member & group_vpn & (uniform(p.seed, "vpn-member", idx) < 0.9)
    return {"block": block, "pos": pos, "member": member, "group_size": size, "vpn_flag": vpn,
            "group_id": F.when(member, F.lit(GROUP_ID_BASE) + block)}


def segment_index(p: Params, idx: Column, vpn_flag: Column) -> Column:
    return F.when(vpn_flag, F.lit(5)).otherwise(choice_index(uniform(p.seed, "segment", idx), R.SEGMENT_WEIGHTS))


def activation_date(p: Params, idx: Column) -> Column:
    """The initial base has a tenure mix (12% under six months); later indexes activate month by month."""
    start = p.start_date
    u = uniform(p.seed, "tenure", idx)
    u2 = uniform(p.seed, "tenure2", idx)
    young = F.floor(F.lit(1.0) + u2 * 180)
    old = F.least(F.lit(180.0) - F.log(F.lit(1.0) - u2) * 1100, F.lit(5400.0))
    tenure_days = F.when(u < 0.12, young).otherwise(F.floor(old)).cast("int")
    initial = F.date_sub(F.lit(start), tenure_days)
    k = ((idx - F.lit(p.subscribers)) / F.lit(p.activations_per_month)).cast("int")
    months = p.month_list
    starts = [m.start.isoformat() for m in months]
    days = [m.days for m in months]
    k_safe = F.least(F.greatest(k, F.lit(0)), F.lit(len(months) - 1))
    day = F.floor(uniform(p.seed, "act-day", idx) * pick(days, k_safe)).cast("int")
    new = F.date_add(pick(starts, k_safe).cast("date"), day)
    return F.when(idx < p.subscribers, initial).otherwise(new)


def add_attributes(p: Params, df: DataFrame) -> DataFrame:
    """All static attributes of the subscriber indexes in ``df.idx``, added in stages.

    Each stage refers to the previous stage's columns by name, so Spark evaluates a shared draw once
    instead of inlining its expression everywhere it is used.
    """
    idx = F.col("idx")
    ent = enterprise(p, idx)
    df = df.select(
        "idx", subscriber_id(idx).alias("subscriber_id"), msisdn(idx).alias("msisdn"),
        ent["block"].alias("block"), ent["pos"].alias("pos"), ent["member"].alias("member"),
        ent["group_size"].alias("group_size"), ent["vpn_flag"].alias("vpn"),
        ent["group_id"].alias("group_id"), region_index(p, idx).alias("region_idx"),
        activation_date(p, idx).alias("activation_date"),
    )
    col = F.col
    df = df.select("*", segment_index(p, idx, col("vpn")).alias("segment_idx"))
    seg = col("segment_idx")
    u_brand = uniform(p.seed, "brand", idx)
    brand = None
    for s, weights in enumerate(R.BRAND_BY_SEGMENT):
        c = choice_index(u_brand, weights)
        brand = F.when(seg == s, c) if brand is None else brand.when(seg == s, c)
    mu = pick([m for m, _ in R.ARPU_BY_SEGMENT], seg)
    sigma = pick([s for _, s in R.ARPU_BY_SEGMENT], seg)
    lo = pick([a for a, _ in R.AGE_RANGE], seg)
    hi = pick([b for _, b in R.AGE_RANGE], seg)
    df = df.select("*", brand.otherwise(2).alias("brand_idx"),
                   lognormal(p.seed, "arpu", mu, sigma, idx).alias("arpu_base"),
                   ((lo + (hi - lo) * uniform(p.seed, "age", idx)) * 365.25).cast("int").alias("age_days"))
    brand, arpu = col("brand_idx"), col("arpu_base")
    postpaid = uniform(p.seed, "postpaid", idx) < pick(R.POSTPAID_BY_BRAND, brand)
    # Plan: the highest plan of the brand whose fee the subscriber's spending clearly covers.
    plan = None
    for b, name in enumerate(R.BRANDS):
        fees = [f for _, _, f in R.PLANS[name]]
        lvl = sum((F.when(arpu > fee * 1.15, 1).otherwise(0) for fee in fees[1:]), F.lit(0))
        expr = F.lit(R.PLAN_OFFSET[name]) + lvl
        plan = F.when(brand == b, expr) if plan is None else plan.when(brand == b, expr)
    df = df.select("*", (~postpaid).cast("int").alias("prepaid"), plan.otherwise(8).alias("plan_idx0"),
                   county_name(p, idx, col("region_idx")).alias("county"))
    tenure_days_at_start = F.datediff(F.lit(p.start_date), col("activation_date"))
    vip = (F.when(col("prepaid") == 1, "NONE")
           .when((arpu >= 260) & (tenure_days_at_start >= 5 * 365), "DIAMOND")
           .when((arpu >= 150) & (tenure_days_at_start >= 2 * 365), "GOLD")
           .when(arpu >= 90, "SILVER").otherwise("NONE"))
    region_idx = col("region_idx")
    df = df.select(
        "*",
        F.date_sub(F.lit(p.start_date), col("age_days")).alias("birth_date"),
        (col("age_days") / 365.25).cast("int").alias("age"),
        F.when(uniform(p.seed, "gender", idx) < F.when(seg == 4, 0.45).otherwise(0.53), "M").otherwise("F").alias("gender"),
        pick([r[0] for r in R.REGIONS], region_idx).alias("region"),
        F.concat(pick([r[1] for r in R.REGIONS], region_idx), F.lit("-G"),
                 F.lpad((col("block") % 997).cast("string"), 3, "0")).alias("grid"),
        vip.alias("vip0"),
        choice_index(uniform(p.seed, "home-prov", idx), R.MIGRANT_WEIGHTS).alias("home_prov_idx"),
        # Heavy-tailed personal multipliers of voice and data use.
        lognormal(p.seed, "voice-mult", -0.25, 0.7, idx).alias("voice_mult"),
        lognormal(p.seed, "data-mult", -0.3, 0.8, idx).alias("data_mult"),
        # A lasting disposition to be dissatisfied (drives complaints, survey replies, churn).
        normal(p.seed, "grumpy", idx).alias("grumpy"),
        col("vpn").cast("int").alias("vpn_flag"),
        (col("member") & (col("pos") < 2)).alias("key_person"),
    ).drop("vpn", "age_days")
    return add_contract(p, df)


def add_contract(p: Params, df: DataFrame) -> DataFrame:
    """A 0/1-class bundle or handset contract, whose end inside the run is a churn cause."""
    idx, brand, act = F.col("idx"), F.col("brand_idx"), F.col("activation_date")
    has = uniform(p.seed, "has-contract", idx) < F.when(brand == 0, 0.45).when(brand == 1, 0.28).otherwise(0.18)
    u = uniform(p.seed, "bundle", idx)
    bundle = (F.when(brand == 0, choice_index(u, [0, 0, 0.35, 0.25, 0.25, 0.15, 0, 0]))
              .when(brand == 1, choice_index(u, [0.2, 0, 0, 0, 0, 0, 0.6, 0.2]))
              .otherwise(choice_index(u, [0.6, 0.25, 0, 0, 0, 0, 0, 0.15])))
    df = df.select("*", has.alias("has_contract"), bundle.alias("bundle_idx"))
    term = pick([b[3] for b in R.BUNDLES], F.col("bundle_idx"))
    # The end date falls anywhere in the term from the start of the run (new subscribers: from activation).
    begin = F.greatest(act, F.lit(p.start_date))
    end = F.date_add(begin, (uniform(p.seed, "contract-end", idx) * term * 30.4).cast("int") + 3)
    df = df.select("*", F.when(act >= F.lit(p.start_date), F.date_sub(F.add_months(act, term), 1))
                   .otherwise(end).alias("contract_end"))
    return df.select("*", F.greatest(act, F.add_months(F.col("contract_end"), -term)).alias("contract_start"),
                     (F.lit(CONTRACT_ID_BASE) + idx).alias("contract_id"))



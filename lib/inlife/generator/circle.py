"""The call circle (交往圈): who each subscriber calls, as a fixed set of slots per subscriber.

Slots are pure functions of the subscriber's index and segment (no join): household members, colleagues
in the same enterprise block, on-net friends elsewhere in the population, off-net numbers of China
Telecom / China Unicom, and long-distance peers (migrant workers: mostly their home province).
Peers of one subscriber are distinct by construction, so two calls can only share a natural key
(subscriber, time, peer, direction) if they come from the same stream, whose times are strictly
increasing — the generator never plants an accidental duplicate.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Params
from inlife.generator.population import BLOCK, HOUSEHOLD
from inlife.generator.rand import choice_index, lognormal, pick, uniform

FAMILY, WORK, FRIEND, OFFNET, LD, INTL = range(6)
ON_NET = (FAMILY, WORK, FRIEND)
KIND_WEIGHT = [1.6, 1.2, 0.8, 0.7, 1.0, 0.6]
# Migrant workers' home peers mostly call them (incoming long distance); seniors are mostly called.
MO_SHARE_LD_MIGRANT = 0.3


def _counts(p: Params, a: dict[str, Column]) -> list[Column]:
    seg, idx = a["segment_idx"], a["idx"]
    fam = pick([c[0] for c in R.CIRCLE], seg)
    work = F.when(a["member"], pick([c[1] for c in R.CIRCLE], seg)).otherwise(0)
    work = F.least(work, F.greatest(a["group_size"] - 4, F.lit(0)))
    friend = pick([c[2] for c in R.CIRCLE], seg) + F.floor(uniform(p.seed, "n-friend", idx) * 3).cast("int") - 1
    friend = F.greatest(friend + F.when(a["member"], 0).otherwise(pick([c[1] for c in R.CIRCLE], seg)), F.lit(0))
    friend = F.least(friend, F.lit(_max_friends(p)))
    off = pick([c[3] for c in R.CIRCLE], seg) + F.floor(uniform(p.seed, "n-off", idx) * 2).cast("int")
    ld = pick([c[4] for c in R.CIRCLE], seg)
    intl = F.when((seg == 2) & (uniform(p.seed, "n-intl", idx) < 0.25), 1).otherwise(0)
    return [fam, work, friend, off, ld, intl]


def _max_friends(p: Params) -> int:
    # Friend j sits 64*(1 + j + 16 r) indexes away: distinct for distinct j and never in one's own block.
    return 16 if p.total_ids >= 64 * 18 else max(0, p.total_ids // 64 - 2)


def slots(p: Params, df: DataFrame) -> DataFrame:
    """One row per (subscriber, slot): kind, peer index (on-net) or number, and the slot's call weight.

    ``df`` must carry the population attributes (idx, segment_idx, member, block, pos, group_size).
    """
    a = {c: F.col(c) for c in df.columns}
    idx, seg = a["idx"], a["segment_idx"]
    counts = _counts(p, a)
    # Materialise the counts and their running sums first: each is used by all 16 slot expressions.
    df = df.select("*", *[c.alias(f"_n{k}") for k, c in enumerate(counts)])
    cum = F.lit(0)
    cums = []
    for k in range(len(counts)):
        cum = cum + F.col(f"_n{k}")
        cums.append(cum.alias(f"_c{k}"))
    df = df.select("*", *cums)
    n_total = p.total_ids
    reach = max(0, (n_total - 64) // (64 * 16))
    structs = []
    for s in range(R.MAX_SLOTS):
        kind = None
        j = None
        for k in range(len(counts)):
            before = F.col(f"_c{k - 1}") if k > 0 else F.lit(0)
            cond = F.lit(s) < F.col(f"_c{k}")
            kind = F.when(cond, k) if kind is None else kind.when(cond, k)
            j = F.when(cond, F.lit(s) - before) if j is None else j.when(cond, F.lit(s) - before)
        structs.append(F.struct(F.lit(s).alias("slot"), kind.alias("kind"), j.alias("j")))
    helper = [f"_n{k}" for k in range(len(counts))] + [f"_c{k}" for k in range(len(counts))]
    out = df.select("*", F.explode(F.array(*structs)).alias("_s")).select("*", "_s.*").drop("_s", *helper) \
        .filter(F.col("kind").isNotNull())
    df = df.drop(*helper)
    kind, j, slot = F.col("kind"), F.col("j"), F.col("slot")
    hh = idx - idx % HOUSEHOLD
    family_peer = hh + (idx % HOUSEHOLD + 1 + j) % HOUSEHOLD
    work_peer = a["block"] * BLOCK + (F.lit(4) * ((a["pos"] / 4).cast("long") + 1) + j) % a["group_size"]
    r = F.floor(uniform(p.seed, "friend-r", idx, slot) * reach).cast("long") if reach > 0 else F.lit(0)
    friend_peer = (idx + F.lit(64) * (F.lit(1) + j + F.lit(16) * r)) % F.lit(n_total)
    peer_idx = (F.when(kind == FAMILY, family_peer).when(kind == WORK, work_peer)
                .when(kind == FRIEND, friend_peer))
    # Off-net and long-distance numbers: operator prefix + 7 hashed digits + the slot digit (distinct).
    u_op = uniform(p.seed, "ld-op", idx, slot)
    op = (F.when(kind == OFFNET, F.when(uniform(p.seed, "off-op", idx, slot) < 0.45, "CT").otherwise("CU"))
          .when(kind == LD, F.when(u_op < 0.55, "CMCC").when(u_op < 0.75, "CT").otherwise("CU"))
          .when(kind == INTL, "OTHER").otherwise("CMCC"))
    body = F.lpad((F.abs(F.xxhash64(F.lit(p.seed), F.lit("num"), idx, slot)) % 10_000_000).cast("string"), 7, "0")
    u_pre = uniform(p.seed, "prefix", idx, slot)
    ct = pick(R.CT_PREFIXES, F.floor(u_pre * len(R.CT_PREFIXES)))
    cu = pick(R.CU_PREFIXES, F.floor(u_pre * len(R.CU_PREFIXES)))
    cmcc_out = pick(["150", "151", "152", "157", "158", "159", "182", "187", "188"], F.floor(u_pre * 9))
    number = F.when(kind == INTL, F.concat(F.lit("00852"), body, (slot % 10).cast("string"))).otherwise(
        F.concat(F.when(op == "CT", ct).when(op == "CU", cu).otherwise(cmcc_out), body,
                 (slot % 10).cast("string")))
    u_prov = uniform(p.seed, "ld-prov", idx, slot)
    ld_prov = F.when(seg == 1, F.when(u_prov < 0.8, pick(R.MIGRANT_PROVINCES, a["home_prov_idx"]))
                     .otherwise(pick(R.MIGRANT_PROVINCES, choice_index(uniform(p.seed, "ld-prov2", idx, slot),
                                                                       R.MIGRANT_WEIGHTS))))
    ld_prov = ld_prov.otherwise(pick(R.BUSINESS_PROVINCES, choice_index(u_prov, R.BUSINESS_WEIGHTS)))
    province = F.when(kind == LD, ld_prov).when(kind == INTL, R.ABROAD).otherwise(R.PROVINCE)
    weight = pick(KIND_WEIGHT, kind) * F.pow(F.lit(1.0) / (j + 1), F.lit(0.7)) \
        * lognormal(p.seed, "slot-w", 0.0, 0.4, idx, slot)
    mo_share = (F.when((kind == LD) & (seg == 1), MO_SHARE_LD_MIGRANT).when(seg == 4, 0.35).otherwise(0.5))
    return out.select(
        *df.columns, slot, kind,
        peer_idx.alias("peer_idx"), op.alias("peer_operator"), F.when(peer_idx.isNull(), number).alias("peer_number"),
        province.alias("peer_province"), weight.alias("slot_weight"), mo_share.alias("mo_share"),
    ).filter(F.col("peer_idx").isNull() | ((F.col("peer_idx") < n_total) & (F.col("peer_idx") != idx)))

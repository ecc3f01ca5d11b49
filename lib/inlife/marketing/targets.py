"""From recommendations to target lists: candidates, holdouts, contact limits, capacity (pure transforms).

One batch (a month's recommendations, or a night's screening) goes through these steps, all campaigns
together so that limits hold across overlapping campaigns:

1. ``candidates``: per campaign, the subscribers whose recommendation carries the campaign's offer and who
   meet its tags and condition, with the expected value of a contact (the campaign's rank expression).
2. ``choose_channels``: the first of the campaign's channels open to the subscriber - not on the
   do-not-disturb / opt-out list for it, and, for sensitive subscribers, one of the sensitive channels.
3. ``apply_limits``: per-channel and overall contact limits over the rolling window (earlier contacts from
   marketing.contact_history plus this batch's, campaigns in precedence order, best expected value first),
   then capacity per campaign and channel (best-ranked kept).
4. The holdout - a stable hash of subscriber and campaign under the campaign's share - goes through the same
   selection as everyone else and is then not contacted, so holdout and contacted subscribers are chosen by
   the same rule and their results compare fairly.

Everyone left out keeps a row with the reason (``suppression``): opted_out, sensitive, channel_limit,
contact_limit, capacity; selected holdouts carry ``holdout``.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (ArrayType, BooleanType, DateType, DoubleType, IntegerType, LongType, StringType,
                               StructField, StructType)

from inlife.marketing.campaigns import Campaign, ContactPolicy

TARGETS_SCHEMA = StructType([
    StructField("batch", StringType()),               # YYYY-MM (monthly) or YYYY-MM-DD (daily): the partition
    StructField("batch_kind", StringType()),          # monthly | daily
    StructField("month", StringType()),               # the month of the subscriber state used
    StructField("contact_date", DateType()),          # the day the channels work the list
    StructField("subscriber_id", LongType()),
    StructField("msisdn", StringType()),
    StructField("campaign_id", StringType()),
    StructField("objective", StringType()),
    StructField("channel", StringType()),             # the channel chosen (null: none open to the subscriber)
    StructField("policy_id", StringType()),
    StructField("policy_name", StringType()),
    StructField("policy_group", StringType()),
    StructField("cell", StringType()),                # the matrix rule that recommended the policy
    StructField("reasons", ArrayType(StringType())),  # rule ids, screening tags, churn reason factors
    StructField("script", StringType()),
    StructField("expected_value", DoubleType()),
    StructField("rank", IntegerType()),               # within campaign and channel, 1 = best expected value
    StructField("holdout", BooleanType()),            # in the campaign's holdout (never contacted)
    StructField("selected", BooleanType()),           # passed every limit (contacted unless held out)
    StructField("contacted", BooleanType()),
    StructField("suppression", StringType()),         # why not contacted (null when contacted)
    StructField("contact_id", StringType()),          # stable id of (batch, campaign, subscriber)
    StructField("contact_window", StringType()),      # HH:MM-HH:MM outside the channel's quiet hours
    StructField("value_tier", StringType()),
    StructField("churn_grade", StringType()),
    StructField("priority_order", ArrayType(StringType())),
])

HISTORY_SCHEMA = StructType([
    StructField("batch", StringType()),
    StructField("contact_id", StringType()),
    StructField("subscriber_id", LongType()),
    StructField("campaign_id", StringType()),
    StructField("channel", StringType()),
    StructField("policy_id", StringType()),
    StructField("contact_date", DateType()),
])

DND_SCHEMA = StructType([StructField("subscriber_id", LongType()), StructField("channel", StringType()),
                         StructField("reason", StringType())])

SUPPRESSIONS = ["opted_out", "sensitive", "channel_limit", "contact_limit", "capacity", "holdout"]


def _lits(values: Sequence, type_: str = "string") -> Column:
    return F.array(*[F.lit(v) for v in values]).cast(f"array<{type_}>") if values else F.array().cast(f"array<{type_}>")


def holdout_draw(campaign_id: str) -> Column:
    """A uniform [0, 1) number fixed by (subscriber, campaign): the same people are held out on every rerun
    and in every batch of the campaign."""
    h = F.xxhash64(F.col("subscriber_id"), F.lit(campaign_id))
    return F.pmod(h, F.lit(1_000_000)).cast("double") / 1_000_000.0


# Matrices that recommend one offer a subscriber: its (policy, cell rule) columns in marketing.recommendations.
ONE_OFFER = {"retention": ("main_policy", "main_policy_rule"), "vpn": ("vpn_policy", "vpn_rule")}


def offer_columns(matrix: str, policies: Sequence[str]) -> tuple[Column, Column]:
    """(policy, cell rule) the campaign carries, from a marketing.recommendations row."""
    if matrix in ONE_OFFER:
        pol, cell = (F.col(c) for c in ONE_OFFER[matrix])
        if policies:
            keep = pol.isin(*policies)
            pol, cell = F.when(keep, pol), F.when(keep, cell)
        return pol, cell
    arr, rules = (("new_business_policies", "new_business_rules") if matrix == "new_business"
                  else ("traffic_policies", "traffic_rules"))
    # the first policy (precedence order) the campaign accepts, and the rule at the same position
    idx = F.array_position(F.col(arr), F.try_element_at(F.filter(F.col(arr), lambda p: p.isin(*policies)), F.lit(1))) \
        if policies else F.when(F.size(F.col(arr)) > 0, F.lit(1))
    idx = idx.cast("int")
    ok = idx.isNotNull() & (idx > 0)
    return F.when(ok, F.try_element_at(F.col(arr), idx)), F.when(ok, F.try_element_at(F.col(rules), idx))


def candidates(base: DataFrame, campaigns: Sequence[Campaign], expressions: Mapping[str, tuple],
               policies: DataFrame) -> DataFrame:
    """One row per (subscriber, campaign) whose offer exists and whose tags/condition hold.

    base: the state joined with the batch's recommendation columns and ``tags`` (array of tag ids held),
    plus ``churn_reasons`` (array of factor names, may be null). policies: (policy_id, policy_name,
    policy_script) of the catalogue."""
    from inlife.rules.translate import to_column

    parts = []
    for c in campaigns:
        cond, rank = expressions[c.id]
        pol, cell = offer_columns(c.matrix, c.policies)
        df = base.withColumn("policy_id", pol).withColumn("cell", cell).where(F.col("policy_id").isNotNull())
        if c.tags_any:
            df = df.where(F.arrays_overlap(F.col("tags"), _lits(c.tags_any)))
        if cond is not None:
            df = df.where(F.coalesce(to_column(cond), F.lit(False)))
        matched_tags = F.array_intersect(F.coalesce(F.col("tags"), _lits([])), _lits(c.tags_any)) if c.tags_any \
            else _lits([])
        reasons = F.filter(F.concat(F.array(F.col("cell")), matched_tags,
                                    F.coalesce(F.col("churn_reasons"), _lits([]))), lambda x: x.isNotNull())
        parts.append(df.select(
            "subscriber_id", "msisdn", F.lit(c.id).alias("campaign_id"), F.lit(c.objective).alias("objective"),
            F.lit(c.precedence).alias("precedence"), "policy_id",
            (F.col("policy_group") if c.matrix == "retention" else F.lit(None).cast("string")).alias("policy_group"),
            "cell", reasons.alias("reasons"),
            F.coalesce(to_column(rank).cast("double"), F.lit(0.0)).alias("expected_value"),
            holdout_draw(c.id).alias("_draw"), F.lit(c.holdout).alias("_holdout_share"),
            _lits(c.channels).alias("_channels"), F.lit(c.script).alias("_template"),
            F.coalesce(F.col("tags"), _lits([])).alias("_tags"),
            "value_tier", "churn_grade", "priority_order"))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    out = out.join(F.broadcast(policies), "policy_id", "left")
    script = F.replace(F.replace(F.col("_template"), F.lit("{policy_name}"), F.coalesce(F.col("policy_name"), F.lit(""))),
                       F.lit("{policy_script}"), F.coalesce(F.col("policy_script"), F.col("policy_name"), F.lit("")))
    return out.withColumn("script", script).drop("_template", "policy_script")


def choose_channels(cands: DataFrame, dnd: DataFrame, policy: ContactPolicy) -> DataFrame:
    """Adds ``channel`` (first open channel, or null) and ``_blocked`` (opted_out | sensitive | null).

    dnd: (subscriber_id, channel) with channel 'all' for every channel."""
    blocked = dnd.groupBy("subscriber_id").agg(F.collect_set("channel").alias("_dnd"))
    df = cands.join(blocked, "subscriber_id", "left").withColumn("_dnd", F.coalesce("_dnd", _lits([])))
    sensitive = F.arrays_overlap(F.col("_tags"), _lits(policy.sensitive_tags)) if policy.sensitive_tags else F.lit(False)
    sens_ok = _lits(policy.sensitive_channels)

    def not_opted(ch):
        return ~F.array_contains(F.col("_dnd"), ch) & ~F.array_contains(F.col("_dnd"), F.lit("all"))

    open_ = F.filter(F.col("_channels"), lambda ch: not_opted(ch) & (~sensitive | F.array_contains(sens_ok, ch)))
    any_not_opted = F.exists(F.col("_channels"), not_opted)
    return (df.withColumn("channel", F.try_element_at(open_, F.lit(1)))
            .withColumn("_blocked", F.when(F.col("channel").isNull(),
                                           F.when(any_not_opted, F.lit("sensitive")).otherwise(F.lit("opted_out"))))
            .drop("_dnd"))


def prior_contacts(history: DataFrame | None, contact_date: date, window_days: int, batch: str) -> DataFrame | None:
    """Contacts per subscriber and channel in the window before ``contact_date`` (this batch excluded, so a
    rerun counts only other batches): (subscriber_id, channel, n)."""
    if history is None:
        return None
    start = F.date_sub(F.lit(contact_date.isoformat()).cast("date"), window_days)
    h = history.where((F.col("batch") != batch) & (F.col("contact_date") >= start)
                      & (F.col("contact_date") < F.lit(contact_date.isoformat()).cast("date")))
    return h.groupBy("subscriber_id", "channel").agg(F.count(F.lit(1)).alias("n"))


def apply_limits(df: DataFrame, prior: DataFrame | None, policy: ContactPolicy,
                 capacity: Mapping[tuple[str, str], int | None], capacity_days: int) -> DataFrame:
    """Channel limit, then the overall limit, then capacity; sets selected/contacted/suppression/rank."""
    if prior is not None:
        per_ch = prior.select("subscriber_id", "channel", F.col("n").alias("_prior_ch"))
        total = prior.groupBy("subscriber_id").agg(F.sum("n").alias("_prior"))
        df = df.join(per_ch, ["subscriber_id", "channel"], "left").join(total, "subscriber_id", "left")
    else:
        df = df.withColumn("_prior_ch", F.lit(None).cast("long")).withColumn("_prior", F.lit(None).cast("long"))
    df = df.withColumn("_prior_ch", F.coalesce("_prior_ch", F.lit(0))).withColumn("_prior", F.coalesce("_prior", F.lit(0)))
    order = [F.col("precedence"), F.col("expected_value").desc(), F.col("campaign_id")]
    has_ch = F.col("channel").isNotNull()

    # 1. per channel: the subscriber's k-th contact on this channel in this batch
    w_ch = Window.partitionBy("subscriber_id", "channel").orderBy(*order)
    ch_max = F.try_element_at(F.create_map(*[x for ch, n in policy.max_per_channel.items() for x in (F.lit(ch), F.lit(n))]),
                          F.col("channel")) if policy.max_per_channel else F.lit(None)
    df = df.withColumn("_k_ch", F.when(has_ch, F.row_number().over(w_ch)))
    df = df.withColumn("_ok_ch", has_ch & (ch_max.isNull() | (F.col("_prior_ch") + F.col("_k_ch") <= ch_max)))
    # 2. overall, among the contacts the channel limits left
    w_all = Window.partitionBy("subscriber_id", "_ok_ch").orderBy(*order)
    df = df.withColumn("_k", F.when(F.col("_ok_ch"), F.row_number().over(w_all)))
    df = df.withColumn("_ok_all", F.col("_ok_ch") & (F.col("_prior") + F.col("_k") <= policy.max_contacts))
    # 3. capacity per campaign and channel: the best expected values first
    w_cap = Window.partitionBy("campaign_id", "channel", "_ok_all").orderBy(F.col("expected_value").desc(),
                                                                            F.col("subscriber_id"))
    cap_map = {f"{c}|{ch}": n * capacity_days for (c, ch), n in capacity.items() if n is not None}
    cap = F.try_element_at(F.create_map(*[x for k, v in cap_map.items() for x in (F.lit(k), F.lit(v))]),
                       F.concat_ws("|", "campaign_id", "channel")) if cap_map else F.lit(None)
    df = df.withColumn("rank", F.when(F.col("_ok_all"), F.row_number().over(w_cap)).cast("int"))
    df = df.withColumn("selected", F.col("_ok_all") & (cap.isNull() | (F.col("rank") <= cap)))
    holdout = F.col("_draw") < F.col("_holdout_share")
    suppression = (F.when(F.col("_blocked").isNotNull(), F.col("_blocked"))
                   .when(~F.col("_ok_ch"), F.lit("channel_limit"))
                   .when(~F.col("_ok_all"), F.lit("contact_limit"))
                   .when(~F.col("selected"), F.lit("capacity"))
                   .when(holdout, F.lit("holdout")))
    return (df.withColumn("holdout", holdout)
            .withColumn("contacted", F.col("selected") & ~holdout)
            .withColumn("suppression", suppression))


def contact_windows(policy: ContactPolicy) -> Column:
    """HH:MM-HH:MM: the part of the day outside the channel's quiet hours (null: any time)."""
    pairs = {ch: f"{span[1]}-{span[0]}" for ch, span in policy.quiet_hours.items()}
    if not pairs:
        return F.lit(None).cast("string")
    return F.try_element_at(F.create_map(*[x for k, v in pairs.items() for x in (F.lit(k), F.lit(v))]), F.col("channel"))


def build_targets(base: DataFrame, campaigns: Sequence[Campaign], expressions: Mapping[str, tuple],
                  policies: DataFrame, dnd: DataFrame, history: DataFrame | None, policy: ContactPolicy, *,
                  batch: str, batch_kind: str, month: str, contact_date: date, capacity_days: int,
                  key: bytes) -> DataFrame:
    """The whole batch: marketing.targets rows (TARGETS_SCHEMA), everyone considered, one row per
    (subscriber, campaign). ``key``: the secret contact ids are keyed with (``keyed_id``)."""
    cands = candidates(base, campaigns, expressions, policies)
    if cands is None:
        return base.sparkSession.createDataFrame([], TARGETS_SCHEMA)
    cands = choose_channels(cands, dnd, policy)
    capacity = {(c.id, ch): n for c in campaigns for ch, n in c.capacity.items()}
    limited = apply_limits(cands, prior_contacts(history, contact_date, policy.window_days, batch), policy,
                           capacity, capacity_days)
    contact_id = keyed_id(key, F.lit(batch), F.col("campaign_id"), F.col("subscriber_id").cast("string"))
    out = (limited
           .withColumn("batch", F.lit(batch)).withColumn("batch_kind", F.lit(batch_kind))
           .withColumn("month", F.lit(month)).withColumn("contact_date", F.lit(contact_date.isoformat()).cast("date"))
           .withColumn("contact_id", contact_id)
           .withColumn("contact_window", contact_windows(policy)))
    return out.select(*[F.col(f.name).cast(f.dataType) for f in TARGETS_SCHEMA.fields])


def keyed_id(key: bytes, *parts: Column) -> Column:
    """HMAC-SHA256 (RFC 2104) of the parts joined by ``|``, its first 20 hex digits: the same id on every
    run with the same key, and, unlike a plain hash of batch, campaign and subscriber id, not to be
    recomputed (nor the subscriber found by trying ids) by a channel that receives only the exports. Built
    from Spark's sha2, so the key's pads are literals of the plan: whoever reads the cluster's plans can
    see them, export recipients cannot."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner_pad, outer_pad = (bytearray(b ^ pad for b in block) for pad in (0x36, 0x5C))
    message = F.encode(F.concat_ws("|", *parts), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message), 256))
    return F.substring(F.sha2(F.concat(F.lit(outer_pad), inner), 256), 1, 20)


def history_rows(targets: DataFrame) -> DataFrame:
    """marketing.contact_history rows of a batch: the contacts actually made (holdouts never)."""
    return targets.where(F.col("contacted")).select(*[F.col(f.name).cast(f.dataType) for f in HISTORY_SCHEMA.fields])

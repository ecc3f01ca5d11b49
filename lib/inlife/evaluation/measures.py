"""Campaign results: what happened to contacted and held-out subscribers, and what the campaign changed.

Inputs of month M (pure transforms; lib/inlife/evaluation/build.py reads and writes the tables):
- ``targets``: marketing.targets rows issued from month M's state (the monthly batch M and the daily
  batches of the month after), selected rows only - contacted or held out by the same rule;
- ``responses``: raw.campaign_responses (answer accepted / declined / no_answer for contacts, organic for
  held-out subscribers who took the offer on their own);
- ``after``: the view of month M+1 (subscriber_id, arpu) - retained means still in the view.

Per campaign, per channel and per matrix cell and policy (``level``): contacted, held out, responded,
converted (accepted; organic for the holdout), conversion rates, uplift = rate(contacted) - rate(holdout)
with a normal-approximation confidence interval, retention and revenue after for both groups.
``uplift_curve``: uplift at the top k share by expected value and the Qini value, per campaign.
``tag_precision``: for each tag, the share of its holders of month M who churned the next month, against
the base rate; tags and cells below the configured floors are flagged.
"""
from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

RESULTS_SCHEMA = StructType([
    StructField("month", StringType()), StructField("level", StringType()),
    StructField("campaign_id", StringType()), StructField("objective", StringType()),
    StructField("channel", StringType()), StructField("cell", StringType()), StructField("policy_id", StringType()),
    StructField("contacted", LongType()), StructField("holdout", LongType()), StructField("responded", LongType()),
    StructField("converted_treated", LongType()), StructField("converted_holdout", LongType()),
    StructField("conversion_treated", DoubleType()), StructField("conversion_holdout", DoubleType()),
    StructField("uplift", DoubleType()), StructField("uplift_ci_low", DoubleType()),
    StructField("uplift_ci_high", DoubleType()),
    StructField("retained_treated", DoubleType()), StructField("retained_holdout", DoubleType()),
    StructField("revenue_after_treated", DoubleType()), StructField("revenue_after_holdout", DoubleType()),
])

CURVE_SCHEMA = StructType([
    StructField("month", StringType()), StructField("campaign_id", StringType()), StructField("fraction", DoubleType()),
    StructField("treated_n", LongType()), StructField("holdout_n", LongType()),
    StructField("uplift_at_k", DoubleType()), StructField("qini", DoubleType()),
])

PRECISION_SCHEMA = StructType([
    StructField("month", StringType()), StructField("kind", StringType()), StructField("id", StringType()),
    StructField("flagged", LongType()), StructField("hits", LongType()), StructField("precision", DoubleType()),
    StructField("base_rate", DoubleType()), StructField("lift", DoubleType()), StructField("floor", DoubleType()),
    StructField("below_floor", StringType()),
])

LEVELS = {"campaign": ["campaign_id", "objective"], "channel": ["campaign_id", "objective", "channel"],
          "cell": ["campaign_id", "objective", "channel", "cell", "policy_id"]}


def outcomes_per_target(targets: DataFrame, responses: DataFrame, after: DataFrame | None) -> DataFrame:
    """One row per selected target with its answer, conversion, retention and revenue after."""
    ans = (responses.groupBy("contact_id")
           .agg(F.max(F.col("answer").isin("accepted", "organic").cast("int")).alias("converted"),
                F.max(F.col("answer").isin("accepted", "declined").cast("int")).alias("responded")))
    t = targets.where(F.col("selected")).join(ans, "contact_id", "left")
    if after is not None:
        t = t.join(after.select("subscriber_id", F.lit(1).alias("_in_after"), F.col("arpu").alias("_arpu_after")),
                   "subscriber_id", "left")
        retained = F.coalesce(F.col("_in_after"), F.lit(0)).cast("double")
        revenue = F.coalesce(F.col("_arpu_after"), F.lit(0.0))
    else:
        retained, revenue = F.lit(None).cast("double"), F.lit(None).cast("double")
    return t.select("subscriber_id", "campaign_id", "objective", "channel", "cell", "policy_id", "expected_value",
                    "holdout", "contacted",
                    F.coalesce(F.col("converted"), F.lit(0)).alias("converted"),
                    F.coalesce(F.col("responded"), F.lit(0)).alias("responded"),
                    retained.alias("retained"), revenue.alias("revenue_after"))


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _rate(num: Column, den: Column) -> Column:
    return F.try_divide(num.cast("double"), den.cast("double"))


def results(per_target: DataFrame, month: str, confidence: float = 0.95) -> DataFrame:
    z = _z(confidence)
    t, h = F.col("contacted"), F.col("holdout")
    parts = []
    for level, keys in LEVELS.items():
        g = per_target.groupBy(*keys).agg(
            F.sum(t.cast("long")).alias("contacted"), F.sum(h.cast("long")).alias("holdout"),
            F.sum(F.when(t, F.col("responded"))).cast("long").alias("responded"),
            F.sum(F.when(t, F.col("converted"))).cast("long").alias("converted_treated"),
            F.sum(F.when(h, F.col("converted"))).cast("long").alias("converted_holdout"),
            F.avg(F.when(t, F.col("retained"))).alias("retained_treated"),
            F.avg(F.when(h, F.col("retained"))).alias("retained_holdout"),
            F.avg(F.when(t, F.col("revenue_after"))).alias("revenue_after_treated"),
            F.avg(F.when(h, F.col("revenue_after"))).alias("revenue_after_holdout"))
        pt, ph = _rate(F.col("converted_treated"), F.col("contacted")), _rate(F.col("converted_holdout"), F.col("holdout"))
        se = F.sqrt(F.try_divide(pt * (1 - pt), F.col("contacted").cast("double"))
                    + F.try_divide(ph * (1 - ph), F.col("holdout").cast("double")))
        g = (g.withColumn("conversion_treated", pt).withColumn("conversion_holdout", ph)
             .withColumn("uplift", pt - ph)
             .withColumn("uplift_ci_low", pt - ph - z * se).withColumn("uplift_ci_high", pt - ph + z * se))
        for k in ("channel", "cell", "policy_id"):
            if k not in keys:
                g = g.withColumn(k, F.lit(None).cast("string"))
        parts.append(g.withColumn("level", F.lit(level)).withColumn("month", F.lit(month)))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.select(*[F.col(f.name).cast(f.dataType) for f in RESULTS_SCHEMA.fields])


def uplift_curve(per_target: DataFrame, month: str, fractions: Sequence[float]) -> DataFrame:
    """Uplift within the top k share of each campaign's selected subscribers by expected value, and the
    Qini value Q(k) = conversions(treated, top k) - conversions(holdout, top k) x N_treated(k) / N_holdout(k),
    divided by all the campaign's treated (so campaigns of different sizes compare; Q(1) = the uplift)."""
    w = Window.partitionBy("campaign_id").orderBy(F.desc("expected_value"), "subscriber_id")
    ranked = per_target.withColumn("_q", F.percent_rank().over(w)) \
        .withColumn("_treated_all", F.sum(F.col("contacted").cast("long")).over(Window.partitionBy("campaign_id")))
    parts = []
    for k in fractions:
        top = ranked.where(F.col("_q") < k) if k < 1 else ranked
        g = top.groupBy("campaign_id").agg(
            F.sum(F.col("contacted").cast("long")).alias("treated_n"), F.sum(F.col("holdout").cast("long")).alias("holdout_n"),
            F.sum(F.when(F.col("contacted"), F.col("converted"))).alias("_ct"),
            F.sum(F.when(F.col("holdout"), F.col("converted"))).alias("_ch"), F.max("_treated_all").alias("_all"))
        pt, ph = _rate(F.col("_ct"), F.col("treated_n")), _rate(F.col("_ch"), F.col("holdout_n"))
        qini = F.try_divide(F.col("_ct") - F.col("_ch") * F.try_divide(F.col("treated_n").cast("double"),
                                                                        F.col("holdout_n").cast("double")),
                            F.col("_all").cast("double"))
        parts.append(g.select(F.lit(month).alias("month"), "campaign_id", F.lit(float(k)).alias("fraction"),
                              "treated_n", "holdout_n", (pt - ph).alias("uplift_at_k"), qini.alias("qini")))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.select(*[F.col(f.name).cast(f.dataType) for f in CURVE_SCHEMA.fields])


def tag_precision(tags: DataFrame, outcomes: DataFrame, month: str, floor: float,
                  label: str = "churned_next_1m") -> DataFrame:
    """Per tag of month M: holders whose label came true / holders (tags are refined from their results).
    ``outcomes``: (subscriber_id, <label>) of month M, label known."""
    known = outcomes.where(F.col(label).isNotNull()).select("subscriber_id", F.col(label).cast("int").alias("_y"))
    base = known.agg(F.avg("_y").alias("base")).first()["base"]
    g = (tags.select("subscriber_id", "tag_id").distinct().join(known, "subscriber_id", "inner")
         .groupBy("tag_id").agg(F.count(F.lit(1)).alias("flagged"), F.sum("_y").cast("long").alias("hits")))
    prec = _rate(F.col("hits"), F.col("flagged"))
    return g.select(F.lit(month).alias("month"), F.lit("tag").alias("kind"), F.col("tag_id").alias("id"),
                    "flagged", "hits", prec.alias("precision"), F.lit(base).cast("double").alias("base_rate"),
                    F.try_divide(prec, F.lit(base).cast("double")).alias("lift"), F.lit(floor).alias("floor"),
                    F.when(prec < floor, F.lit("precision below floor")).alias("below_floor")) \
        .select(*[F.col(f.name).cast(f.dataType) for f in PRECISION_SCHEMA.fields])


def cells_below_floor(res: DataFrame, month: str, floor: float) -> DataFrame:
    """Matrix cells whose uplift's upper confidence bound is below the floor: the offer does not work there."""
    c = res.where((F.col("level") == "cell") & (F.col("uplift_ci_high") < floor))
    return c.select(F.lit(month).alias("month"), F.lit("cell").alias("kind"),
                    F.concat_ws("/", "campaign_id", "channel", "cell", "policy_id").alias("id"),
                    F.col("contacted").alias("flagged"), F.col("converted_treated").alias("hits"),
                    F.col("conversion_treated").alias("precision"), F.col("conversion_holdout").alias("base_rate"),
                    F.col("uplift").alias("lift"), F.lit(floor).cast("double").alias("floor"),
                    F.lit("uplift below floor").alias("below_floor")) \
        .select(*[F.col(f.name).cast(f.dataType) for f in PRECISION_SCHEMA.fields])

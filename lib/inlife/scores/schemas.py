"""Schemas of the scores tables: the contract between the scoring jobs and what reads them (rules,
targets, evaluation). Every table is partitioned by ``month``.
"""
from __future__ import annotations

from pyspark.sql.types import ArrayType, DoubleType, IntegerType, LongType, StringType, StructField, StructType

VALUE_TIERS = ["high", "mid_high", "mid", "low"]          # top 10 %, 10-30 %, 30-90 %, bottom 10 %
CHURN_GRADES = ["abnormal", "normal"]                       # 有异动 / 无异动: score above the configured threshold
STICKINESS_GRADES = ["high", "mid", "none"]                 # by configured score cut-offs
PROPENSITY_GRADES = ["high", "low"]

# scores.value: value_score, value_tier and value_<criterion> per criterion of conf/value_model.yaml
# (inlife.scores.value.subscriber_value)

REASON = StructType([
    StructField("factor", StringType()),                    # a unified.customer_view column
    StructField("meaning", StringType()),                   # from the data dictionary
    StructField("effect", DoubleType()),                    # how much the factor raises the score
])

# scores.model_scores: one row per subscriber, month and model (every champion model scores every row)
MODEL_SCORES = StructType([
    StructField("subscriber_id", LongType()),
    StructField("month", StringType()),
    StructField("model", StringType()),                     # the spec name: churn, stickiness, crbt_silent_response...
    StructField("probability", DoubleType()),
    StructField("score", DoubleType()),                     # 0-100
    StructField("decile", IntegerType()),                   # 1 = the 10 % most likely
    StructField("grade", StringType()),                     # CHURN_GRADES, STICKINESS_GRADES or PROPENSITY_GRADES
    StructField("reasons", ArrayType(REASON)),              # top factors, for high churn risk only
    StructField("model_version", StringType()),
    StructField("run_id", StringType()),
])

# scores.segments: consumption-behaviour clusters, two levels (7 classes, 16 sub-groups in conf/segments.yaml)
SEGMENTS = StructType([
    StructField("subscriber_id", LongType()),
    StructField("month", StringType()),
    StructField("segment_id", IntegerType()),
    StructField("segment_name", StringType()),
    StructField("subgroup_id", IntegerType()),
    StructField("subgroup_name", StringType()),
])

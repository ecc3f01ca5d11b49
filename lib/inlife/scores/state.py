"""The subscriber state that tags and matrices are evaluated over: the customer view plus scores.

One row per subscriber-month: every unified.customer_view column, the value index (value_score,
value_tier and the criterion scores), per model ``<model>_score``, ``<model>_probability``,
``<model>_decile`` and ``<model>_grade``, and the segment columns. Rules may name any of these columns.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

KEYS = ["subscriber_id", "month"]
MODEL_FIELDS = ["score", "probability", "decile", "grade"]


def model_columns(models: Sequence[str]) -> list[str]:
    return [f"{m}_{f}" for m in models for f in MODEL_FIELDS]


def subscriber_state(view: DataFrame, value: DataFrame | None, model_scores: DataFrame | None,
                     segments: DataFrame | None, models: Sequence[str]) -> DataFrame:
    """view left-joined with the month's scores; a model without scores leaves its columns null."""
    state = view
    if value is not None:
        state = state.join(value.select(*KEYS, "value_score", "value_tier", "value_current", "value_loyalty",
                                        "value_influence"), KEYS, "left")
    else:
        for c, t in (("value_score", "double"), ("value_tier", "string"), ("value_current", "double"),
                     ("value_loyalty", "double"), ("value_influence", "double")):
            state = state.withColumn(c, F.lit(None).cast(t))
    models = list(models)
    if model_scores is not None and models:
        wide = (model_scores.where(F.col("model").isin(*models))
                .groupBy(*KEYS)
                .agg(*[F.max(F.when(F.col("model") == m, F.col(f))).alias(f"{m}_{f}")
                       for m in models for f in MODEL_FIELDS]))
        state = state.join(wide, KEYS, "left")
    else:
        for m in models:
            for f, t in (("score", "double"), ("probability", "double"), ("decile", "int"), ("grade", "string")):
                state = state.withColumn(f"{m}_{f}", F.lit(None).cast(t))
    if segments is not None:
        state = state.join(segments.select(*KEYS, "segment_id", "segment_name", "subgroup_id", "subgroup_name"),
                           KEYS, "left")
    else:
        for c, t in (("segment_id", "int"), ("segment_name", "string"), ("subgroup_id", "int"),
                     ("subgroup_name", "string")):
            state = state.withColumn(c, F.lit(None).cast(t))
    return state

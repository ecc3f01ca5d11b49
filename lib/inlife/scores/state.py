"""The subscriber state that tags and matrices are evaluated over: the customer view plus scores.

One row per subscriber-month: every unified.customer_view column, the value index (value_score,
value_tier and value_<criterion> per criterion of conf/value_model.yaml), per model (conf/models) ``<model>_score``, ``<model>_probability``,
``<model>_decile`` and ``<model>_grade``, and the segment columns. Rules may name any of these columns.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.scores.value import criterion_columns

KEYS = ["subscriber_id", "month"]
MODEL_FIELDS = ["score", "probability", "decile", "grade"]


def value_columns(criteria: Sequence[str]) -> dict[str, str]:
    """The value index's columns in the state, with their types."""
    return {"value_score": "double", "value_tier": "string", **{c: "double" for c in criterion_columns(criteria)}}


def subscriber_state(view: DataFrame, value: DataFrame | None, model_scores: DataFrame | None,
                     segments: DataFrame | None, models: Sequence[str], criteria: Sequence[str]) -> DataFrame:
    """view left-joined with the month's scores; a model without scores leaves its columns null.
    ``models``: the model specs (conf/models); ``criteria``: the value model's (conf/value_model.yaml)."""
    state = view
    columns = value_columns(criteria)
    if value is not None:
        state = state.join(value.select(*KEYS, *columns), KEYS, "left")
    else:
        for c, t in columns.items():
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

"""Reason codes: the factors that raise a subscriber's churn score, named with the data dictionary.

For each subscriber to explain and each of the model's ``models.reason_candidates`` most important
factors, the factor is replaced by its training-population median (categorical: the most frequent value)
and the row is re-scored; the effect is the drop in score (100 x probability). The top
``models.reasons`` factors with a positive effect are the reasons. Vectorised: the rows are exploded to one
copy per candidate factor, the model scores all copies in one transform, and the top factors are picked per
subscriber with an aggregation; nothing is looped over in Python but the candidate list.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.models.features import probability


@lru_cache(maxsize=1)
def meanings() -> dict[str, str]:
    """Column -> meaning from the data dictionary of unified.customer_view."""
    from inlife.unified.dictionary import load_factors

    return {f.name: f.meaning for f in load_factors()}


def candidates(reference: dict[str, Any], n: int) -> list[str]:
    known = {c for c, v in reference.get("medians", {}).items() if v is not None}
    known |= {c for c, v in reference.get("modes", {}).items() if v is not None}
    return [c for c, _ in reference.get("importance", []) if c in known][:n]


def reason_codes(model, name: str, reference: dict[str, Any], rows: DataFrame, keys: Sequence[str],
                 score_col: str, top: int, n_candidates: int) -> DataFrame:
    """``keys`` + ``reasons`` (array of struct factor, meaning, effect; largest effect first) for ``rows``,
    which hold the raw feature columns and the current score (0-100) in ``score_col``."""
    cands = candidates(reference, n_candidates)
    schema = "array<struct<factor:string,meaning:string,effect:double>>"
    if not cands:
        return rows.select(*keys, F.lit(None).cast(schema).alias("reasons"))
    types = dict(rows.dtypes)
    medians, modes = reference.get("medians", {}), reference.get("modes", {})
    exploded = rows.withColumn("_factor", F.explode(F.array(*[F.lit(c) for c in cands])))
    for c in cands:
        value = medians[c] if c in medians and medians[c] is not None else modes.get(c)
        exploded = exploded.withColumn(
            c, F.when(F.col("_factor") == c, F.lit(value).cast(types[c])).otherwise(F.col(c)))
    dictionary = meanings()
    meaning_map = F.create_map(*[x for c in cands for x in (F.lit(c), F.lit(dictionary.get(c, c)))])
    effects = (model.transform(exploded)
               .select(*keys, "_factor", (F.col(score_col) - probability(name) * 100).alias("_effect"))
               .where(F.round(F.col("_effect"), 4) > 0))  # as stored: a reason must visibly raise the score
    ranked = (effects.groupBy(*keys)
              .agg(F.sort_array(F.collect_list(F.struct(F.col("_effect"), F.col("_factor"))), asc=False)
                   .alias("_r")))
    return ranked.select(*keys, F.transform(F.slice("_r", 1, top), lambda r: F.struct(
        r["_factor"].alias("factor"), meaning_map[r["_factor"]].alias("meaning"),
        F.round(r["_effect"], 4).alias("effect"))).cast(schema).alias("reasons"))

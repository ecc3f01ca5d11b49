"""Population stability index (PSI) of the score and of the top features against the training month.

Training stores a reference (``reference.json`` in the run): for the score and each of the
``models.drift_features`` most important features, the bins of the training month and the share of rows in
each. Numeric bins are the training deciles (plus one bin for nulls); categorical bins are the training
categories (plus null and "other"). Scoring counts the month's rows in the same bins, in one aggregation,
and PSI = sum((actual - expected) * ln(actual / expected)), empty bins counted as 0.0001.
Rule of thumb: < 0.1 stable, 0.1-0.2 some shift, > 0.2 (``models.drift_warn_psi``) a real shift.
"""
from __future__ import annotations

import math
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

EPS = 1e-4


def numeric_reference(df: DataFrame, columns: dict[str, str],
                      extra: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """``columns``: reference key -> numeric column of ``df``: decile edges in one pass, then the shares of
    every entry (these and the categorical entries of ``extra``, whose categories are given) in one more."""
    ref: dict[str, dict[str, Any]] = {}
    keys = list(columns)
    if keys:
        cast = df.select(*[F.col(columns[k]).cast("double").alias(f"_d{i}") for i, k in enumerate(keys)])
        qs = cast.approxQuantile([f"_d{i}" for i in range(len(keys))], [i / 10 for i in range(1, 10)], 0.001)
        ref = {k: {"type": "numeric", "column": columns[k], "edges": sorted(set(q))} for k, q in zip(keys, qs)}
    ref.update(extra or {})
    shares = proportions(df, ref)
    for k in ref:
        ref[k]["expected"] = shares[k]
    return ref


def _bucket(col: Column, entry: dict[str, Any]) -> tuple[Column, int]:
    """Bin index (0 = null) and the number of bins of a reference entry."""
    if entry["type"] == "numeric":
        edges = entry["edges"]
        x = col.cast("double")
        idx = F.lit(1)
        for e in edges:
            idx = idx + F.when(x > F.lit(e), 1).otherwise(0)
        return F.when(x.isNull() | F.isnan(x), F.lit(0)).otherwise(idx), len(edges) + 2
    cats = entry["categories"]
    s = col.cast("string")
    idx = F.lit(len(cats) + 1)  # other
    for i, c in enumerate(cats):
        idx = F.when(s == F.lit(c), F.lit(i + 1)).otherwise(idx)
    return F.when(s.isNull(), F.lit(0)).otherwise(idx), len(cats) + 2


def proportions(df: DataFrame, reference: dict[str, dict[str, Any]],
                columns: dict[str, Column] | None = None) -> dict[str, list[float]]:
    """Share of ``df``'s rows in each bin of each reference entry, all in one aggregation.
    ``columns`` overrides where an entry's values come from (default: the entry's ``column``)."""
    if not reference:
        return {}
    aggs, layout = [F.count(F.lit(1)).alias("_n")], {}
    for j, (k, entry) in enumerate(reference.items()):
        col = (columns or {}).get(k, F.col(entry["column"]) if "column" in entry else None)
        b, nbins = _bucket(col, entry)
        layout[k] = nbins
        aggs += [F.count(F.when(b == i, 1)).alias(f"_b{j}_{i}") for i in range(nbins)]
    row = df.agg(*aggs).first().asDict()
    n = row["_n"] or 1
    return {k: [row[f"_b{j}_{i}"] / n for i in range(layout[k])] for j, k in enumerate(reference)}


def psi(expected: list[float], actual: list[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual):
        e, a = max(e, EPS), max(a, EPS)
        total += (a - e) * math.log(a / e)
    return total

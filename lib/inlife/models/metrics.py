"""Binary-classifier metrics from one small histogram, so evaluation never collects rows to the driver.

Spark groups the scored rows by (group, probability rounded to 1e-4) and counts rows and positives: at most
10,001 bins per group reach the driver, whatever the row count. Every metric and curve is computed from
that histogram; rows sharing a bin count as ties (exact to 1e-4 in probability).

- ``auc_roc``: area under the ROC curve (trapezoids, ties on the diagonal);
- ``auc_pr``: area under the precision-recall curve as average precision, sum of (R_k - R_k-1) * P_k;
- ``lift_topN`` / ``capture_topN``: among the N % most likely, positives per row against the base rate,
  and the share of all positives found there (N = 5, 10, 20; a tie bin straddling the cut is split evenly);
- ``ece``: expected calibration error over 10 equal-width probability bins.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

TOP = (5, 10, 20)
RESOLUTION = 10_000
CALIBRATION_BINS = 10


def histogram(df: DataFrame, probability: Column | str, label: Column | str,
              group: Column | str | None = None) -> pd.DataFrame:
    """Columns: group (or None), p, n, pos. One Spark aggregation; the result is small."""
    p = F.col(probability) if isinstance(probability, str) else probability
    y = F.col(label) if isinstance(label, str) else label
    g = F.lit(None).cast("string") if group is None else (F.col(group) if isinstance(group, str) else group)
    rows = (df.select(g.cast("string").alias("group"), (F.round(p * RESOLUTION) / RESOLUTION).alias("p"),
                      y.cast("double").alias("y"))
            .groupBy("group", "p").agg(F.count(F.lit(1)).alias("n"), F.sum("y").alias("pos"))
            .collect())
    return pd.DataFrame([r.asDict() for r in rows], columns=["group", "p", "n", "pos"])


def _sorted(hist: pd.DataFrame) -> pd.DataFrame:
    h = hist.groupby("p", as_index=False)[["n", "pos"]].sum().sort_values("p", ascending=False)
    return h.reset_index(drop=True)


def curves(hist: pd.DataFrame) -> dict[str, Any]:
    """ROC, PR, cumulative gain and calibration points of a histogram (all groups together)."""
    h = _sorted(hist)
    n, pos = h["n"].to_numpy(float), h["pos"].to_numpy(float)
    neg = n - pos
    P, N = pos.sum(), neg.sum()
    tp, fp, cn = np.cumsum(pos), np.cumsum(neg), np.cumsum(n)
    tpr = np.concatenate([[0.0], tp / P]) if P else np.zeros(len(tp) + 1)
    fpr = np.concatenate([[0.0], fp / N]) if N else np.zeros(len(fp) + 1)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / P if P else np.zeros(len(tp))
    share = np.concatenate([[0.0], cn / cn[-1]]) if len(cn) else np.array([0.0])
    cal_bin = np.minimum((h["p"].to_numpy(float) * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    cal = (pd.DataFrame({"bin": cal_bin, "n": n, "pos": pos, "pn": h["p"].to_numpy(float) * n})
           .groupby("bin").sum())
    return {
        "fpr": fpr, "tpr": tpr, "recall": recall, "precision": precision,
        "share": share, "gain": tpr,
        "cal_predicted": (cal["pn"] / cal["n"]).to_numpy(), "cal_observed": (cal["pos"] / cal["n"]).to_numpy(),
        "cal_n": cal["n"].to_numpy(), "base_rate": P / (P + N) if P + N else float("nan"),
    }


def _capture_at(share: np.ndarray, tpr: np.ndarray, q: float) -> float:
    """Share of positives among the top ``q`` of rows, linear inside the bin straddling the cut."""
    return float(np.interp(q, share, tpr))


def binary_metrics(hist: pd.DataFrame) -> dict[str, float]:
    """Every metric of the module docstring, plus n, positives and base_rate. NaN when a class is absent."""
    h = _sorted(hist)
    n, pos = h["n"].to_numpy(float), h["pos"].to_numpy(float)
    P, total = pos.sum(), n.sum()
    N = total - P
    out: dict[str, float] = {"n": float(total), "positives": float(P),
                             "base_rate": float(P / total) if total else float("nan")}
    if P == 0 or N == 0:
        for k in ["auc_roc", "auc_pr", "ece"] + [f"{m}_top{t}" for t in TOP for m in ("lift", "capture")]:
            out[k] = float("nan")
        return out
    c = curves(hist)
    out["auc_roc"] = float(np.trapezoid(c["tpr"], c["fpr"]) if hasattr(np, "trapezoid")
                           else np.trapz(c["tpr"], c["fpr"]))
    recall_prev = np.concatenate([[0.0], c["recall"][:-1]])
    out["auc_pr"] = float(np.sum((c["recall"] - recall_prev) * c["precision"]))
    for t in TOP:
        cap = _capture_at(c["share"], c["tpr"], t / 100)
        out[f"capture_top{t}"] = cap
        out[f"lift_top{t}"] = cap / (t / 100)
    out["ece"] = float(np.sum(c["cal_n"] / total * np.abs(c["cal_predicted"] - c["cal_observed"])))
    return out


def group_metrics(hist: pd.DataFrame, group: str) -> dict[str, float]:
    return binary_metrics(hist[hist["group"] == group])


def clean(metrics: dict[str, float]) -> dict[str, float]:
    """Finite values only (MLflow and JSON reject NaN), rounded for printing."""
    return {k: round(float(v), 6) for k, v in metrics.items() if v is not None and math.isfinite(v)}

"""scores.segments: two-level consumption-behaviour clusters with names and ids stable across months.

Level 1: k-means (one cluster per configured segment) over log1p-scaled, standardised features. Names go
to the first month's clusters by signature — an assignment (Hungarian) that puts each named segment on the
cluster whose centroid is highest (or lowest) on its signature feature. Later months inherit ids and names
by matching each new centroid to the nearest of last month's (again an optimal assignment), so "segment 3"
means the same people-like-these from month to month. Level 2 splits each segment with its own k-means,
sizes shared by segment size, and matches sub-groups to last month's the same way.

Centroids are kept in scores.segment_centroids (in log1p space, so months compare without the month's
scaler); readable profiles (size, share, feature means, the features that set each apart) in
scores.segment_profiles.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from pyspark.ml import Pipeline
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.optimize import linear_sum_assignment

from inlife.config import Config
from inlife.yamlschema import Schema, read


class SegmentSpec(Schema):
    name: str
    label: str = ""                  # the name when not given
    signature: str                   # the feature that sets the segment apart
    sign: Literal[1, -1] = 1         # high (+1) or low (-1) on it


class SegmentConfig(Schema):
    """conf/segments.yaml."""
    features: tuple[str, ...] = Field(min_length=1)
    segments: tuple[SegmentSpec, ...] = Field(min_length=1)
    subgroups: int = Field(ge=1)
    seed: int = 42
    max_iterations: int = Field(default=30, ge=1)
    restarts: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> SegmentConfig:
        bad = [s.signature for s in self.segments if s.signature not in self.features]
        if bad:
            raise ValueError(f"signature feature(s) {bad} are not in features")
        if self.subgroups < len(self.segments):
            raise ValueError(f"subgroups ({self.subgroups}) must be at least the number of segments "
                             f"({len(self.segments)})")
        return self


def load_segment_config(conf: Config | None = None, path: str | Path | None = None) -> SegmentConfig:
    path = Path(path) if path else Path(conf.conf_dir) / "segments.yaml"
    cfg = read(SegmentConfig, path, "segments file")
    named = tuple(s if s.label else s.model_copy(update={"label": s.name}) for s in cfg.segments)
    return cfg.model_copy(update={"segments": named})


def log_features(view: DataFrame, features) -> DataFrame:
    """log1p of each (non-negative) feature, nulls as 0: heavy tails would otherwise own the clusters."""
    return view.select("subscriber_id", "month", *[
        F.log1p(F.greatest(F.coalesce(F.col(f).cast("double"), F.lit(0.0)), F.lit(0.0))).alias(f) for f in features])


def fit_kmeans(df: DataFrame, features, k: int, seed: int, iterations: int, restarts: int = 3):
    """Pipeline (assemble, standardise, k-means) fitted on df; returns (model, centroids in log space, std).

    k-means can settle in a poor local optimum (two groups merged, one split); like scikit-learn's n_init,
    it is fitted from ``restarts`` seeds and the lowest-cost fit is kept."""
    from pyspark.ml import PipelineModel

    prep = Pipeline(stages=[VectorAssembler(inputCols=list(features), outputCol="_raw"),
                            StandardScaler(inputCol="_raw", outputCol="_x", withMean=True, withStd=True)]).fit(df)
    scaled = prep.transform(df).cache()
    best = None
    for r in range(max(restarts, 1)):
        km = KMeans(featuresCol="_x", predictionCol="_cluster", k=k, seed=seed + r, maxIter=iterations).fit(scaled)
        if best is None or km.summary.trainingCost < best.summary.trainingCost:
            best = km
    scaled.unpersist()
    model = PipelineModel(stages=[*prep.stages, best])
    scaler, km = model.stages[1], model.stages[2]
    mean, std = scaler.mean.toArray(), scaler.std.toArray()
    centers = np.array([c * np.where(std > 0, std, 1.0) + mean for c in km.clusterCenters()])
    return model, centers, std


def match(new: np.ndarray, old: np.ndarray, scale: np.ndarray) -> list[int]:
    """For each new centroid, the index of the old one it continues (optimal assignment on distance)."""
    s = np.where(scale > 0, scale, 1.0)
    cost = np.linalg.norm((new[:, None, :] - old[None, :, :]) / s, axis=2)
    rows, cols = linear_sum_assignment(cost)
    out = [-1] * len(new)
    for r, c in zip(rows, cols):
        out[r] = int(c)
    return out


def name_by_signature(centers: np.ndarray, std: np.ndarray, cfg: SegmentConfig) -> list[int]:
    """For each cluster, the index of the configured segment it becomes (each name used once)."""
    feats = list(cfg.features)
    z = (centers - centers.mean(axis=0)) / np.where(std > 0, std, 1.0)
    score = np.array([[s.sign * z[c, feats.index(s.signature)] for s in cfg.segments] for c in range(len(centers))])
    rows, cols = linear_sum_assignment(-score)
    out = [-1] * len(centers)
    for r, c in zip(rows, cols):
        out[r] = int(c)
    return out


def share_subgroups(sizes: list[int], total: int) -> list[int]:
    """Split `total` sub-groups among segments in proportion to size, at least 1 each (largest remainder)."""
    n = len(sizes)
    extra = total - n
    raw = [extra * s / max(sum(sizes), 1) for s in sizes]
    k = [1 + int(r) for r in raw]
    for i in sorted(range(n), key=lambda i: raw[i] - int(raw[i]), reverse=True)[: total - sum(k)]:
        k[i] += 1
    return k


def cluster_month(view: DataFrame, month: str, cfg: SegmentConfig, previous: list[dict] | None):
    """Segments for one month. previous: last month's centroid rows (level, id, parent_id, name, centroid).

    Returns (segments DataFrame per scores.schemas.SEGMENTS, centroid rows for this month)."""
    feats = list(cfg.features)
    x = log_features(view, feats).cache()
    k1 = len(cfg.segments)
    model, centers, std = fit_kmeans(x, feats, k1, cfg.seed, cfg.max_iterations, cfg.restarts)
    prev1 = [r for r in (previous or []) if r["level"] == 1]
    if prev1:
        old = np.array([r["centroid"] for r in sorted(prev1, key=lambda r: r["id"])])
        ids = [sorted(prev1, key=lambda r: r["id"])[j]["id"] for j in match(centers, old, std)]
    else:
        ids = [j + 1 for j in name_by_signature(centers, std, cfg)]
    names = {i + 1: s.name for i, s in enumerate(cfg.segments)}
    id_map = F.create_map(*[v for c, i in enumerate(ids) for v in (F.lit(c), F.lit(i))])
    level1 = model.transform(x).withColumn("segment_id", id_map[F.col("_cluster")].cast("int")).drop("_raw", "_x", "_cluster")
    level1 = level1.cache()
    sizes = {r.segment_id: r.n for r in level1.groupBy("segment_id").agg(F.count(F.lit(1)).alias("n")).collect()}
    order = sorted(sizes)
    ks = dict(zip(order, share_subgroups([sizes[s] for s in order], cfg.subgroups)))

    centroid_rows = [dict(month=month, level=1, id=int(i), parent_id=None, name=names[i],
                          centroid=[float(v) for v in centers[c]], size=int(sizes.get(i, 0)))
                     for c, i in enumerate(ids)]
    parts = []
    prev2 = [r for r in (previous or []) if r["level"] == 2]
    # fresh sub-group ids never reuse one that last month had (or that this month already gave)
    used = {r["id"] for r in prev2}
    next_sub_id = max(used, default=0) + 1 if prev2 else 1
    for seg in order:
        members = level1.where(F.col("segment_id") == seg)
        k = min(ks[seg], sizes[seg])
        if k <= 1:
            sub_ids, sub_centers = [next_sub_id], np.array([centers[ids.index(seg)]])
            labelled = members.withColumn("subgroup_id", F.lit(next_sub_id))
        else:
            # one fit per segment: a poor split of a sub-group costs little, 7 x restarts fits would cost much
            m2, c2, s2 = fit_kmeans(members, feats, k, cfg.seed, cfg.max_iterations, 1)
            old = sorted([r for r in prev2 if r["parent_id"] == seg], key=lambda r: r["id"])
            if len(old) == len(c2):
                sub_ids = [old[j]["id"] for j in match(c2, np.array([r["centroid"] for r in old]), s2)]
            else:  # first month, or the segment's share of sub-groups changed: number them afresh
                order2 = np.argsort(-c2[:, feats.index(cfg.segments[seg - 1].signature)])
                sub_ids = [0] * len(c2)
                for rank, c in enumerate(order2):
                    sub_ids[c] = next_sub_id + rank
            sub_centers = c2
            sub_map = F.create_map(*[v for c, i in enumerate(sub_ids) for v in (F.lit(c), F.lit(i))])
            labelled = m2.transform(members).withColumn("subgroup_id", sub_map[F.col("_cluster")].cast("int"))
        for c, i in enumerate(sub_ids):
            centroid_rows.append(dict(month=month, level=2, id=int(i), parent_id=int(seg),
                                      name=f"{names[seg]}_{i}", centroid=[float(v) for v in sub_centers[c]], size=None))
        used |= set(sub_ids)
        next_sub_id = max(used) + 1
        parts.append(labelled.select("subscriber_id", "month", "segment_id", "subgroup_id"))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    seg_names = F.create_map(*[v for i, n in names.items() for v in (F.lit(i), F.lit(n))])
    sub_names = F.create_map(*[v for r in centroid_rows if r["level"] == 2 for v in (F.lit(r["id"]), F.lit(r["name"]))])
    segments = out.select("subscriber_id", "month", "segment_id", seg_names[F.col("segment_id")].alias("segment_name"),
                          "subgroup_id", sub_names[F.col("subgroup_id")].alias("subgroup_name"))
    return segments, centroid_rows, x


def profiles(segments: DataFrame, view: DataFrame, cfg: SegmentConfig, top: int = 3) -> list[dict]:
    """Per segment: size, share, mean of each feature, and the features that set it apart (highest |z| of
    the segment mean against the population, with direction)."""
    feats = list(cfg.features)
    joined = segments.join(view.select("subscriber_id", "month", *feats), ["subscriber_id", "month"])
    overall = joined.agg(*[F.avg(f).alias(f) for f in feats], *[F.stddev(f).alias(f"sd_{f}") for f in feats],
                         F.count(F.lit(1)).alias("n")).first().asDict()
    rows = joined.groupBy("segment_id", "segment_name").agg(
        F.count(F.lit(1)).alias("size"), *[F.avg(f).alias(f) for f in feats]).orderBy("segment_id").collect()
    out = []
    for r in rows:
        z = {f: ((r[f] or 0.0) - (overall[f] or 0.0)) / (overall[f"sd_{f}"] or 1.0) for f in feats}
        apart = sorted(z, key=lambda f: -abs(z[f]))[:top]
        out.append({"segment_id": r.segment_id, "segment_name": r.segment_name, "size": r.size,
                    "share": round(r.size / max(overall["n"], 1), 4),
                    "distinguishing": [f"{f} {'high' if z[f] > 0 else 'low'} (z={z[f]:+.2f})" for f in apart],
                    "means": {f: round(r[f] or 0.0, 3) for f in feats}})
    return out



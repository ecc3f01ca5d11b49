"""scores.value and scores.group_value: the AHP value index (价值模型) of subscribers and group customers.

The hierarchy and the experts' comparison matrices live in conf/value_model.yaml. Each indicator is
normalised robustly to 0-100 (winsorised at configured quantiles then scaled, or a percentile rank),
combined with its weight within its criterion, and the criteria with theirs: value = sum over criteria of
w_c * sum over indicators of w_i * x_i. Tiers cut the score at configured shares from the top.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.errors import ConfigError
from inlife.yamlschema import Schema, read
from inlife.scores.ahp import checked_priorities


@dataclass(frozen=True)
class Hierarchy:
    criteria: tuple[str, ...]
    criterion_weights: tuple[float, ...]
    indicators: dict[str, tuple[tuple[str, float], ...]]   # criterion -> ((column, weight), ...)

    def column_weights(self) -> dict[str, float]:
        """Each indicator's overall weight (criterion weight x weight within the criterion)."""
        out: dict[str, float] = {}
        for c, wc in zip(self.criteria, self.criterion_weights):
            for col, wi in self.indicators[c]:
                out[col] = out.get(col, 0.0) + wc * wi
        return out


@dataclass(frozen=True)
class ValueModel:
    subscriber: Hierarchy
    group: Hierarchy
    method: str
    limits: tuple[float, float]
    tiers: tuple[tuple[str, float], ...]
    path: str


Matrix = list[list[int | float | str]]    # numbers or fractions such as "1/3"


class _Indicators(Schema):
    columns: tuple[str, ...] = Field(min_length=1)
    matrix: Matrix


class _Tree(Schema):
    criteria: tuple[str, ...] = Field(min_length=1)
    matrix: Matrix
    indicators: dict[str, _Indicators]

    @model_validator(mode="after")
    def _one_per_criterion(self) -> _Tree:
        if set(self.indicators) != set(self.criteria):
            raise ValueError(f"indicators must be given for exactly the criteria {list(self.criteria)} "
                             f"(given for {list(self.indicators)})")
        return self


class _Normalisation(Schema):
    method: Literal["winsorised", "percentile"] = "winsorised"
    limits: tuple[float, float] = (0.01, 0.99)


class _Tier(Schema):
    name: str
    top_share: float = Field(gt=0, le=1)


class _ValueFile(Schema):
    """conf/value_model.yaml."""
    subscriber: _Tree
    group: _Tree
    normalisation: _Normalisation = _Normalisation()
    tiers: tuple[_Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers_from_the_top(self) -> _ValueFile:
        shares = [t.top_share for t in self.tiers]
        if shares != sorted(shares) or shares[-1] != 1.0:
            raise ValueError("tiers must be listed from the top with rising top_share ending at 1.0")
        return self


def _hierarchy(tree: _Tree, where: str) -> Hierarchy:
    """The tree's weights: the principal eigenvector of each matrix, checked for consistency (AHP)."""
    top = checked_priorities(tree.matrix, f"{where}.matrix")
    if len(top.weights) != len(tree.criteria):
        raise ConfigError(f"{where}.matrix: {len(top.weights)} rows for {len(tree.criteria)} criteria")
    indicators = {}
    for c in tree.criteria:
        ind = tree.indicators[c]
        p = checked_priorities(ind.matrix, f"{where}.indicators.{c}.matrix")
        if len(p.weights) != len(ind.columns):
            raise ConfigError(f"{where}.indicators.{c}: {len(ind.columns)} columns but a "
                              f"{len(p.weights)}x{len(p.weights)} matrix")
        indicators[c] = tuple(zip(ind.columns, p.weights))
    return Hierarchy(tree.criteria, top.weights, indicators)


def criterion_columns(criteria) -> list[str]:
    """scores.value's column per criterion: value_<criterion>, 0-100."""
    return [f"value_{c}" for c in criteria]


def load_value_model(conf: Config | None = None, path: str | Path | None = None) -> ValueModel:
    path = Path(path) if path else Path(conf.conf_dir) / "value_model.yaml"
    spec = read(_ValueFile, path, "value model")
    return ValueModel(_hierarchy(spec.subscriber, f"{path}: subscriber"), _hierarchy(spec.group, f"{path}: group"),
                      spec.normalisation.method, spec.normalisation.limits,
                      tuple((t.name, t.top_share) for t in spec.tiers), str(path))


def normalised(df: DataFrame, columns: list[str], method: str, limits: tuple[float, float]) -> dict[str, Column]:
    """0-100 Column per indicator. Winsorised: clip at the quantiles (one approxQuantile pass for all
    columns), scale min-max; a constant column scores 50. Percentile: percent_rank (a sort per column)."""
    out = {}
    if method == "percentile":
        for c in columns:
            out[c] = F.coalesce(F.percent_rank().over(Window.orderBy(F.col(c).asc_nulls_first())) * 100, F.lit(0.0))
        return out
    qs = df.select(*[F.col(c).cast("double").alias(c) for c in columns]).approxQuantile(columns, list(limits), 0.001)
    for c, q in zip(columns, qs):
        if not q:  # every value unknown (e.g. 3-month averages in the first month): no evidence of value
            out[c] = F.lit(0.0)
            continue
        lo, hi = q
        x = F.coalesce(F.col(c).cast("double"), F.lit(lo))  # unknown = the bottom: no evidence of value
        if hi <= lo:
            out[c] = F.lit(50.0)
        else:
            out[c] = (F.least(F.greatest(x, F.lit(lo)), F.lit(hi)) - lo) / (hi - lo) * 100.0
    return out


def with_value_score(df: DataFrame, h: Hierarchy, method: str, limits) -> DataFrame:
    """Adds value_<criterion> (0-100) and value_score (0-100)."""
    cols = sorted({col for c in h.criteria for col, _ in h.indicators[c]})
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ConfigError(f"value model: indicator column(s) {missing} are not in the input")
    norm = normalised(df, cols, method, limits)
    out = df
    for c in h.criteria:
        out = out.withColumn(f"value_{c}", sum((norm[col] * w for col, w in h.indicators[c]), F.lit(0.0)))
    return out.withColumn("value_score", sum((F.col(f"value_{c}") * w for c, w in zip(h.criteria, h.criterion_weights)),
                                             F.lit(0.0)))


def with_tier(df: DataFrame, tiers, score: str = "value_score", tier: str = "value_tier") -> DataFrame:
    """Tier by the score's quantiles: above the 90th percentile (top_share 0.10) is the first tier, and so
    on; strictly above, so ties at a cut fall to the lower tier (an all-equal population is all last tier)."""
    cuts = df.approxQuantile(score, [1.0 - s for _, s in tiers[:-1]], 0.0005) if len(tiers) > 1 else []
    expr = None
    for (name, _), cut in zip(tiers[:-1], cuts):
        cond = F.col(score) > F.lit(cut)
        expr = F.when(cond, name) if expr is None else expr.when(cond, name)
    last = tiers[-1][0]
    return df.withColumn(tier, expr.otherwise(last) if expr is not None else F.lit(last))


def subscriber_value(view: DataFrame, model: ValueModel) -> DataFrame:
    """scores.value rows for the month's view: value_score, value_tier and value_<criterion> per criterion
    (the shipped model's criteria give value_current, value_loyalty, value_influence)."""
    scored = with_tier(with_value_score(view, model.subscriber, model.method, model.limits), model.tiers)
    crit = criterion_columns(model.subscriber.criteria)
    return scored.select("subscriber_id", "month", F.round("value_score", 4).alias("value_score"), "value_tier",
                         *[F.round(c, 4).alias(c) for c in crit])


def group_indicators(view: DataFrame, value: DataFrame) -> DataFrame:
    """Per group and month: member aggregates the group tree scores (members = view rows with group_id)."""
    members = view.where(F.col("group_id").isNotNull()).join(
        value.select("subscriber_id", "month", "value_score"), ["subscriber_id", "month"], "left")
    return members.groupBy("group_id", "month").agg(
        F.count(F.lit(1)).alias("members"),
        F.sum("arpu").alias("member_arpu_sum"),
        F.sum("influence_weighted_in_degree").alias("member_influence_sum"),
        F.avg((F.col("has_arrears") == 0).cast("double")).alias("no_arrears_share"),
        F.avg("tenure_months").alias("member_tenure_avg"),
        F.coalesce(F.avg(F.when(F.col("is_key_person") == 1, F.col("value_score"))), F.lit(0.0))
        .alias("key_person_value_avg"))


def group_value(view: DataFrame, value: DataFrame, model: ValueModel) -> DataFrame:
    """scores.group_value rows: the group customers' own value index and tier."""
    g = group_indicators(view, value)
    scored = with_tier(with_value_score(g, model.group, model.method, model.limits), model.tiers)
    crit = criterion_columns(model.group.criteria)
    return scored.select("group_id", "month", "members", F.round("value_score", 4).alias("value_score"),
                         "value_tier", *[F.round(c, 4).alias(c) for c in crit])

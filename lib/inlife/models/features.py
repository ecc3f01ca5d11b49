"""The training frame (features joined with the label, split, high-value flag) and the MLlib pipeline.

Feature assembly lives INSIDE the pipeline, so the registered model scores raw feature-table rows:

    SQLTransformer   numeric columns cast to double (NaN and infinities become null),
                     categorical columns cast to string (null becomes "__missing__")
    Imputer          median of the training rows for every numeric column
    StringIndexer    categories by frequency; unseen categories go to an extra slot (handleInvalid=keep)
    OneHotEncoder
    VectorAssembler
    classifier       logistic regression, gradient-boosted trees or random forest

Internal columns carry the prefix ``_<model>_`` so several models can be applied to one frame in a row.
"""
from __future__ import annotations

from typing import Any

from pyspark.ml import Pipeline
from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
from pyspark.ml.feature import Imputer, OneHotEncoder, SQLTransformer, StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.models.spec import FeaturePlan, Spec, SpecError
from inlife.tables.catalogue import VALUE

LABEL = "_label"
WEIGHT = "_weight"
HIGH_VALUE = "_high_value"
MISSING = "__missing__"


def prefix(model: str) -> str:
    return f"_{model}_"


def probability_col(model: str) -> str:
    return f"{prefix(model)}probability"


def probability(model: str) -> Column:
    """P(label = 1) from a pipeline's output vector."""
    return vector_to_array(F.col(probability_col(model)))[1]


def _q(c: str) -> str:
    return "`" + c.replace("`", "``") + "`"


def pipeline(model: str, plan: FeaturePlan, algorithm: str, params: dict[str, Any], weighted: bool,
             seed: int) -> Pipeline:
    """The model's MLlib pipeline: feature preparation, then the classifier (trees drawn with ``seed``, the
    spec's split.seed)."""
    p = prefix(model)
    num = [f"{p}n_{c}" for c in plan.numeric]
    imp = [f"{p}i_{c}" for c in plan.numeric]
    cat = [f"{p}c_{c}" for c in plan.categorical]
    idx = [f"{p}x_{c}" for c in plan.categorical]
    ohe = [f"{p}o_{c}" for c in plan.categorical]
    exprs = [f"CASE WHEN isnan(CAST({_q(c)} AS DOUBLE)) OR abs(CAST({_q(c)} AS DOUBLE)) = double('infinity') "
             f"THEN CAST(NULL AS DOUBLE) ELSE CAST({_q(c)} AS DOUBLE) END AS {_q(o)}"
             for c, o in zip(plan.numeric, num)]
    exprs += [f"coalesce(CAST({_q(c)} AS STRING), '{MISSING}') AS {_q(o)}" for c, o in zip(plan.categorical, cat)]
    stages: list = [SQLTransformer(statement=f"SELECT *, {', '.join(exprs)} FROM __THIS__")]
    if num:
        stages.append(Imputer(inputCols=num, outputCols=imp, strategy="median"))
    if cat:
        stages.append(StringIndexer(inputCols=cat, outputCols=idx, handleInvalid="keep",
                                    stringOrderType="frequencyDesc"))
        stages.append(OneHotEncoder(inputCols=idx, outputCols=ohe, handleInvalid="keep", dropLast=True))
    features = f"{p}features"
    stages.append(VectorAssembler(inputCols=imp + ohe, outputCol=features, handleInvalid="keep"))
    common = dict(featuresCol=features, labelCol=LABEL, predictionCol="prediction")  # pyfunc reads "prediction"
    if weighted:
        common["weightCol"] = WEIGHT
    if algorithm == "logistic_regression":
        clf = LogisticRegression(family="binomial", **common, **params)
    elif algorithm == "gbt":
        clf = GBTClassifier(seed=seed, **common, **params)
    elif algorithm == "random_forest":
        clf = RandomForestClassifier(seed=seed, **common, **params)
    else:
        raise SpecError(f"unknown algorithm {algorithm!r}")
    clf.setProbabilityCol(probability_col(model)).setRawPredictionCol(f"{p}raw")
    stages.append(clf)
    return Pipeline(stages=stages)


def importance(fitted, model: str, plan: FeaturePlan, scored: DataFrame) -> list[tuple[str, float]]:
    """Importance per source column (one-hot slots summed), as shares summing to 1, largest first.

    Trees: MLlib's featureImportances. Logistic regression: |coefficient| x standard deviation of the
    assembled feature on ``scored`` (the training rows), i.e. the effect of one standard deviation."""
    p = prefix(model)
    clf = fitted.stages[-1]
    features = f"{p}features"
    attrs = scored.schema[features].metadata.get("ml_attr", {}).get("attrs", {})
    names: dict[int, str] = {}
    for group in attrs.values():
        for a in group:
            names[a["idx"]] = a["name"]
    if hasattr(clf, "featureImportances"):
        raw = clf.featureImportances.toArray()
    else:
        from pyspark.ml.stat import Summarizer
        std = (scored.select(Summarizer.metrics("std").summary(F.col(features)).alias("s"))
               .first()["s"]["std"].toArray())
        raw = abs(clf.coefficients.toArray()) * std
    by_source: dict[str, float] = {}
    for i, v in enumerate(raw):
        name = names.get(i, f"f{i}")
        source = _source_column(name, p, plan)
        by_source[source] = by_source.get(source, 0.0) + float(v)
    total = sum(by_source.values()) or 1.0
    return sorted(((k, v / total) for k, v in by_source.items()), key=lambda kv: -kv[1])


def _source_column(attr_name: str, p: str, plan: FeaturePlan) -> str:
    for c in plan.numeric:
        if attr_name == f"{p}i_{c}":
            return c
    for c in plan.categorical:
        if attr_name.startswith(f"{p}o_{c}_") or attr_name == f"{p}o_{c}":
            return c
    return attr_name


# -- the training frame ---------------------------------------------------------------------------------

def labelled(tables, spec: Spec, plan: FeaturePlan, months: list[str] | None = None) -> DataFrame:
    """Feature rows with the label as ``_label`` (double); rows without a label are dropped."""
    parts = {spec.month_column: months} if months and spec.month_column else None
    feats = tables.read(spec.table, partitions=parts if _partitioned_by(tables, spec.table, spec.month_column)
                        else None)
    if months and spec.month_column:
        feats = feats.where(F.col(spec.month_column).isin(months))
    if spec.label_table:
        lab = tables.read(spec.label_table, partitions=parts if _partitioned_by(
            tables, spec.label_table, spec.month_column) else None)
        if months and spec.month_column:
            lab = lab.where(F.col(spec.month_column).isin(months))
        lab = lab.select(*spec.keys, F.col(spec.label).cast("double").alias(LABEL))
        frame = feats.join(lab, spec.keys, "inner")
    else:
        frame = feats.withColumn(LABEL, F.col(spec.label).cast("double"))
    return frame.where(F.col(LABEL).isNotNull())


def _partitioned_by(tables, name: str, column: str | None) -> bool:
    return bool(column) and tables.partition_columns(name) == [column]


def labelled_months(tables, spec: Spec, plan: FeaturePlan) -> list[str]:
    """Months (of the month column) that have at least one label, ascending; [] without a month column."""
    if not spec.month_column:
        return []
    src = spec.label_table or spec.table
    return sorted(r[0] for r in tables.read(src).where(F.col(spec.label).isNotNull())
                  .select(F.col(spec.month_column).cast("string")).distinct().collect() if r[0] is not None)


def choose_split(spec: Spec, months: list[str]) -> dict[str, Any]:
    """{"mode": "time", "train": [...], "validate": m} or {"mode": "random", "months": [...], ...}."""
    s = spec.split
    if not months:
        if spec.month_column:
            raise SpecError(f"{spec.path}: no labelled rows: {spec.label} is null everywhere "
                            f"in {spec.label_table or spec.table}")
        return {"mode": "random", "months": [], "fraction": s["validation_fraction"], "seed": s["seed"]}
    if len(months) == 1:
        return {"mode": "random", "months": months, "fraction": s["validation_fraction"], "seed": s["seed"]}
    until, validate = s["train_until"], s["validate_month"]
    if validate is None:
        later = [m for m in months if until is None or m > until]
        if not later:
            raise SpecError(f"{spec.path}: no labelled month after split.train_until {until} to validate on "
                            f"(labelled months: {', '.join(months)})")
        validate = later[0] if until else months[-1]
    if validate not in months:
        raise SpecError(f"{spec.path}: split.validate_month {validate} has no labels "
                        f"(labelled months: {', '.join(months)})")
    train = [m for m in months if m < validate and (until is None or m <= until)]
    if s["train_months"]:
        train = train[-int(s["train_months"]):]
    if not train:
        raise SpecError(f"{spec.path}: no labelled month to train on before {validate}")
    return {"mode": "time", "train": train, "validate": validate}


def split_condition(spec: Spec, split: dict[str, Any]) -> tuple[Column, Column]:
    """(is_train, is_validation) conditions. The random split hashes the keys with the seed, so it is
    the same on every read of the table, whatever the partitioning."""
    if split["mode"] == "time":
        m = F.col(spec.month_column).cast("string")
        return m.isin(split["train"]), m == F.lit(split["validate"])
    bucket = F.abs(F.xxhash64(*[F.col(k) for k in spec.keys], F.lit(int(split["seed"])))) % 10_000
    valid = bucket < int(split["fraction"] * 10_000)
    return ~valid, valid


def high_value_flag(spark, tables, conf, spec: Spec, valid: DataFrame, split: dict[str, Any]) -> tuple[DataFrame, str]:
    """``valid`` with ``_high_value`` (boolean, or null when no tier can be determined) and how it was set:
    the tiers ``models.high_value_tiers`` of scores.value for the validation month when that table has
    it, else the top ``models.high_value_arpu_share`` of the validation rows by ``arpu``."""
    tiers = list(conf.get("models.high_value_tiers"))
    month = split.get("validate") or (split.get("months") or [None])[-1]
    keys_ok = {"subscriber_id", "month"} <= set(spec.keys)
    if month and keys_ok and tables.exists(VALUE):
        value = tables.read(VALUE, partitions={"month": month}).select(
            "subscriber_id", "month", F.col("value_tier").isin(*tiers).alias(HIGH_VALUE))
        if value.limit(1).count():
            return (valid.join(value, ["subscriber_id", "month"], "left")
                    .withColumn(HIGH_VALUE, F.coalesce(F.col(HIGH_VALUE), F.lit(False))),
                    f"scores.value tiers {'+'.join(tiers)} of {month}")
    if "arpu" in valid.columns:
        share = float(conf.get("models.high_value_arpu_share"))
        cut = valid.approxQuantile("arpu", [1 - share], 0.001)
        if cut:
            return (valid.withColumn(HIGH_VALUE, F.coalesce(F.col("arpu") >= F.lit(cut[0]), F.lit(False))),
                    f"top {share:.0%} by arpu (no scores.value for {month})")
    return valid.withColumn(HIGH_VALUE, F.lit(None).cast("boolean")), "none (no scores.value, no arpu column)"

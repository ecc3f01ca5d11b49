"""Train one model from its spec: candidates on the training months, best by validation AUC-PR, logged to
MLflow, registered under the spec's name with the alias ``challenger``, promoted to ``champion`` by the gate.

    from inlife.models.train import train_model
    result = train_model(spark, conf, "churn")      # or a path to a spec file
    result.version, result.alias, result.metrics    # metrics: auc_roc, auc_pr, lift/capture, ece, hv_*...

The gate compares the challenger with the current champion on the challenger's own validation rows (the
champion is re-scored on them), overall and on the high-value tier; when the champion cannot score them
(its columns are gone), its logged metrics are used instead and the reason says so.
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from inlife.config import Config
from inlife.errors import InlifeError
from inlife.models import drift, registry
from inlife.models.features import (HIGH_VALUE, LABEL, MISSING, WEIGHT, choose_split, high_value_flag, importance,
                                    labelled, labelled_months, pipeline, prefix, probability, split_condition)
from inlife.models.metrics import binary_metrics, clean, curves, group_metrics, histogram
from inlife.models.plots import write_plots
from inlife.models.registry import load_version
from inlife.models.spec import FeaturePlan, Spec, check_against_tables, load_spec
from inlife.progress import stage
from inlife.session import CACHE
from inlife.tables import Tables


class TrainingError(InlifeError):
    """Training cannot proceed: no rows, a single class, every candidate failed."""


@dataclass
class TrainResult:
    model: str
    version: str
    alias: str
    metrics: dict[str, float]
    run_id: str
    promoted: bool
    gate: str
    algorithm: str
    params: dict[str, Any]
    champion_metrics: dict[str, float] | None = None
    data_versions: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The one JSON line ``inlife train`` prints."""
        return {"model": self.model, "version": self.version, "alias": self.alias, "metrics": self.metrics}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _with_hv(metrics_all: dict[str, float], hist) -> dict[str, float]:
    hv = group_metrics(hist, "true")
    out = dict(metrics_all)
    for k in ("auc_pr", "auc_roc", "base_rate", "n", "positives", "lift_top10"):
        out[f"hv_{k}"] = hv.get(k, float("nan"))
    return out


def train_model(spark, conf: Config, model: str | Path, tables: Tables | None = None) -> TrainResult:
    import mlflow

    spec: Spec = load_spec(conf, model)
    name = spec.name
    tables = tables or Tables(spark, conf)
    plan = check_against_tables(spec, tables)  # fails here, before any Spark job, on a bad spec

    experiment_id = registry.setup(conf)
    client = registry.client(conf)
    with stage(f"{name}: split", conf):
        split = choose_split(spec, labelled_months(tables, spec, plan))
        read_months = split["train"] + [split["validate"]] if split["mode"] == "time" else split["months"]
        frame = labelled(tables, spec, plan, read_months or None)
        is_train, is_valid = split_condition(spec, split)
        keep = list(dict.fromkeys(spec.keys + ([spec.month_column] if spec.month_column else []) + plan.columns))
        valid_full, hv_method = high_value_flag(spark, tables, conf, spec, frame.where(is_valid), split)
        data_versions = {spec.table: tables.version(spec.table)}
        if spec.label_table:
            data_versions[spec.label_table] = tables.version(spec.label_table)

    train_raw = frame.where(is_train).select(*keep, LABEL)
    counts = train_raw.agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("pos"),
                           *[F.count(F.col(f"`{c}`")).alias(f"nn_{i}") for i, c in enumerate(plan.numeric)]
                           ).first().asDict()
    n, pos = counts["n"], counts["pos"] or 0
    if n == 0 or pos == 0 or pos == n:
        raise TrainingError(f"{spec.path}: the training rows ({n}) need both classes of {spec.label} "
                            f"(positives: {pos})")
    empty = [c for i, c in enumerate(plan.numeric) if counts[f"nn_{i}"] == 0]
    plan = FeaturePlan([c for c in plan.numeric if c not in empty], plan.categorical, plan.label_in_features_table)
    weighted = spec.imbalance == "class_weight"
    w1, w0 = (n / (2.0 * pos), n / (2.0 * (n - pos))) if weighted else (1.0, 1.0)
    # Few rows in many partitions make every MLlib iteration pay for idle tasks: at most
    # models.rows_per_partition rows per partition (coalesce: no shuffle).
    per_part = max(1, int(conf.get("models.rows_per_partition")))
    train = train_raw.withColumn(WEIGHT, F.when(F.col(LABEL) == 1, w1).otherwise(w0))
    train = train.coalesce(max(1, math.ceil(n / per_part))).persist(CACHE)
    valid = valid_full.select(*keep, LABEL, HIGH_VALUE)
    valid = valid.coalesce(max(1, math.ceil(n / per_part))).persist(CACHE)
    try:
        vn = valid.agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("pos")).first()
        if not vn["n"] or not vn["pos"] or vn["pos"] == vn["n"]:
            raise TrainingError(f"{spec.path}: the validation rows ({vn['n']}) need both classes of "
                                f"{spec.label} (positives: {vn['pos']})")
        training = _Training(spec, plan, split, train, valid, valid_full, hv_method, data_versions,
                             dict(n_train=n, pos_train=pos, n_valid=vn["n"], pos_valid=vn["pos"], w1=w1, w0=w0,
                                  dropped=empty))
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{name}") as run:
            result = _train_and_log(conf, training, client, run)
    finally:
        train.unpersist()
        valid.unpersist()
    return result


@dataclass
class _Training:
    """One training run's inputs, as the steps after the split need them."""
    spec: Spec
    plan: FeaturePlan
    split: dict[str, Any]
    train: Any                      # DataFrame, cached: features, label and weight
    valid: Any                      # DataFrame, cached: features, label and the high-value flag
    valid_full: Any                 # the validation rows with every column (the champion rescored on them)
    hv_method: str
    data_versions: dict[str, int]
    info: dict[str, Any]            # n_train, pos_train, n_valid, pos_valid, w1, w0, dropped

    @property
    def split_description(self) -> str:
        s = self.split
        if s["mode"] == "time":
            return f"train {','.join(s['train'])} / validate {s['validate']}"
        return f"random {s['fraction']} of {','.join(s['months']) or 'all rows'} seed {s['seed']}"


def _train_and_log(conf: Config, t: _Training, client, run) -> TrainResult:
    """Fit the candidates, log the best with its plots and reference, register it, then the gate."""
    algo, params, fitted, metrics, hist = _fit_candidates(conf, t, run)
    _log_reference_and_plots(conf, t, fitted, metrics, hist)
    _log_run(t, algo, params, metrics)
    version = _register(conf, t, fitted, client, run)
    promoted, reason, champion_metrics = _gate(conf, t, client, version, metrics)
    return TrainResult(model=t.spec.name, version=version,
                       alias=registry.CHAMPION if promoted else registry.CHALLENGER,
                       metrics=clean(metrics), run_id=run.info.run_id, promoted=promoted, gate=reason,
                       algorithm=algo, params=params,
                       champion_metrics=clean(champion_metrics) if champion_metrics else None,
                       data_versions=t.data_versions)


def _fit_candidates(conf: Config, t: _Training, run):
    """Every candidate fitted and logged as a nested run; the best by validation AUC-PR, with its metrics
    (the high-value tier's included) and histogram."""
    import mlflow

    name, best = t.spec.name, None
    for i, (algo, params) in enumerate(t.spec.candidates()):
        with stage(f"{name}: fit {algo} {params}", conf):
            fitted = pipeline(name, t.plan, algo, params, t.spec.imbalance == "class_weight",
                              int(t.spec.split["seed"])).fit(t.train)
            hist = histogram(fitted.transform(t.valid), probability(name), LABEL, HIGH_VALUE)
            m = binary_metrics(hist)
        with mlflow.start_run(experiment_id=run.info.experiment_id, run_name=f"{name}-{algo}-{i}", nested=True):
            mlflow.log_params({"algorithm": algo, **params})
            mlflow.log_metrics(clean({k: m[k] for k in ("auc_pr", "auc_roc")}))
        if best is None or m["auc_pr"] > best[3]["auc_pr"]:
            best = (algo, params, fitted, m, hist)
    algo, params, fitted, m, hist = best
    return algo, params, fitted, _with_hv(m, hist), hist


def _log_reference_and_plots(conf: Config, t: _Training, fitted, metrics: dict[str, float], hist) -> None:
    import mlflow

    name = t.spec.name
    with stage(f"{name}: reference, plots", conf):
        imp = importance(fitted, name, t.plan, fitted.transform(t.train))  # trees: only the schema is used
        reference = _reference(conf, t.spec, t.plan, t.split, fitted, t.train, imp)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            write_plots(tmp / "plots", name, curves(hist), metrics, imp)
            (tmp / "spec.yaml").write_text(t.spec.to_yaml(), encoding="utf-8")
            (tmp / "data_versions.json").write_text(json.dumps(t.data_versions, indent=2), encoding="utf-8")
            (tmp / "reference.json").write_text(json.dumps(reference, indent=1), encoding="utf-8")
            (tmp / "feature_importance.csv").write_text(
                "feature,importance\n" + "".join(f"{k},{v:.6f}\n" for k, v in imp), encoding="utf-8")
            mlflow.log_artifacts(str(tmp))


def _log_run(t: _Training, algo: str, params: dict[str, Any], metrics: dict[str, float]) -> None:
    import mlflow

    spec, info, versions = t.spec, t.info, t.data_versions
    mlflow.log_params({
        "model": spec.name, "kind": spec.kind, "label": spec.label, "label_table": spec.label_table or "",
        "feature_table": spec.table, "algorithm": algo, **{f"hp_{k}": v for k, v in params.items()},
        "n_numeric": len(t.plan.numeric), "n_categorical": len(t.plan.categorical),
        "split": t.split_description[:500], "validate_month": t.split.get("validate", ""),
        "imbalance": spec.imbalance, "class_weight_pos": round(info["w1"], 6),
        "class_weight_neg": round(info["w0"], 6), "n_train": info["n_train"], "n_valid": info["n_valid"],
        "candidates": len(spec.candidates()), "gate_metric": spec.gate_metric, "tolerance": spec.tolerance,
        "high_value": t.hv_method[:500], "dropped_empty_features": ",".join(info["dropped"])[:500],
        **{f"data_version.{table}": v for table, v in versions.items()},
    })
    mlflow.log_metrics(clean(metrics))
    mlflow.set_tags({"inlife.kind": "training", "inlife.model": spec.name,
                     **{f"data_version.{table}": str(v) for table, v in versions.items()}})


def _register(conf: Config, t: _Training, fitted, client, run) -> str:
    """The fitted pipeline saved into the run and registered under the model's name as its challenger."""
    import mlflow
    import mlflow.spark
    import pyspark
    from mlflow.models import infer_signature

    name = t.spec.name
    with stage(f"{name}: log and register", conf):
        sample = t.train.select(*t.plan.columns).limit(5)
        # save_model + log_artifacts rather than log_model: log_model reloads the saved pipeline to
        # check the input example by predicting on it, which costs a second PipelineModel load.
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model"
            mlflow.spark.save_model(fitted, str(local), signature=infer_signature(sample),
                                    input_example=sample.toPandas(),
                                    pip_requirements=[f"pyspark=={pyspark.__version__}"],
                                    dfs_tmpdir=conf.get("mlflow.dfs_tmpdir"))
            registry.refuse_code(local, f"model {name}")        # before anything is logged
            mlflow.log_artifacts(str(local), "model")
        version = str(mlflow.register_model(f"runs:/{run.info.run_id}/model", name).version)
        registry.record_digest(client, name, version)
        client.set_registered_model_alias(name, registry.CHALLENGER, version)
    return version


def _gate(conf: Config, t: _Training, client, version: str, metrics: dict[str, float]):
    """Promote the new version when it is not worse than the champion by more than the tolerance;
    (promoted, reason, the champion's metrics on the same validation rows)."""
    import mlflow

    spec, name = t.spec, t.spec.name
    with stage(f"{name}: gate", conf):
        champion_metrics = _champion_metrics(conf, client, spec, t.valid_full)
        promoted, reason = registry.gate(metrics, champion_metrics, spec.gate_metric, spec.tolerance)
        if champion_metrics:
            mlflow.log_metrics(clean({f"champion_{k}": v for k, v in champion_metrics.items()
                                      if k in (spec.gate_metric, f"hv_{spec.gate_metric}")}))
        verdict = "promoted" if promoted else "refused"
        mlflow.set_tags({"gate": verdict, "gate_reason": reason[:4000]})
        client.set_model_version_tag(name, version, "gate", verdict)
        client.set_model_version_tag(name, version, "gate_reason", reason[:4000])
        client.set_model_version_tag(name, version, "validation", t.split_description[:4000])
        if promoted:
            registry.promote(client, name, version, reason=f"gate: {reason}")
    return promoted, reason, champion_metrics


def _champion_metrics(conf, client, spec: Spec, valid_full) -> dict[str, float] | None:
    """The current champion's metrics on the challenger's validation rows (or, failing that, as logged)."""
    champ = registry.champion(client, spec.name)
    if champ is None:
        return None
    try:
        model = load_version(conf, spec.name, champ.version)
        hist = histogram(model.transform(valid_full), probability(spec.name), LABEL, HIGH_VALUE)
        out = _with_hv(binary_metrics(hist), hist)
        out["rescored"] = 1.0
        return out
    except Exception as exc:  # the champion cannot score these rows: compare with its logged metrics
        logged = dict(client.get_run(champ.run_id).data.metrics)
        logged["rescored"] = 0.0
        print(f"[inlife] {spec.name}: champion v{champ.version} cannot score the validation rows "
              f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); comparing with its logged metrics",
              file=sys.stderr)
        return logged


def _reference(conf, spec: Spec, plan: FeaturePlan, split, fitted, train, imp) -> dict[str, Any]:
    """What scoring needs from training: features, medians/modes (reason codes), drift bins.

    Medians come from the fitted Imputer and modes from the fitted StringIndexer (training rows), so they
    cost no extra pass; the drift reference costs two (quantiles, then shares) over the training month."""
    from pyspark.ml.feature import ImputerModel, StringIndexerModel

    p = prefix(spec.name)
    medians, modes, categories = {}, {}, {}
    for st in fitted.stages:
        if isinstance(st, ImputerModel):
            row = st.surrogateDF.first().asDict()
            medians = {c: row.get(f"{p}n_{c}") for c in plan.numeric}
        if isinstance(st, StringIndexerModel):
            for c, labels in zip(plan.categorical, st.labelsArray):
                real = [x for x in labels if x != MISSING]
                modes[c] = real[0] if real else None
                categories[c] = real[:20]
    if split["mode"] == "time":
        ref_month = split["train"][-1]
        ref_rows = train.where(F.col(spec.month_column).cast("string") == ref_month)
    else:
        ref_rows, ref_month = train, ",".join(split["months"])
    scored = fitted.transform(ref_rows).withColumn("_p", probability(spec.name))
    top = [c for c, _ in imp[: int(conf.get("models.drift_features"))]]
    ref = drift.numeric_reference(scored, {"score": "_p", **{c: c for c in top if c in plan.numeric}},
                                  extra={c: {"type": "categorical", "column": c, "categories": categories[c]}
                                         for c in top if c in plan.categorical})
    return {"model": spec.name, "kind": spec.kind, "table": spec.table, "keys": spec.keys,
            "month_column": spec.month_column, "numeric": plan.numeric, "categorical": plan.categorical,
            "importance": imp, "medians": medians, "modes": modes, "reference_month": ref_month,
            "drift": ref}

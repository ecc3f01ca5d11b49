"""scores.model_scores for a month: every model's champion applied to the month's feature rows.

    from inlife.models.scoring import score_month
    summary = score_month(spark, conf, "2024-03")

For every spec in ``models.specs_dir`` whose registered model has a ``champion`` (others are skipped, and
said so), the champion version is resolved once and its pipeline loaded once. Models reading the same
feature table are chained on one read of the month (each appends its probability), the frame is cached,
and everything else reads the cache: decile cut points (one approxQuantile for all models), drift shares
(one aggregation), reason codes for abnormal churn rows, and the write. No row is collected to the driver.

Per row (schema lib/inlife/scores/schemas.py MODEL_SCORES): probability; score = 100 x probability;
decile 1-10 (1 = the 10 % most likely, from approximate quantiles); grade by the model's kind:
churn "abnormal" when score > ``models.churn_abnormal_score`` else "normal"; stickiness "high" when
score >= ``models.stickiness_high``, "mid" when >= ``models.stickiness_mid``, else "none"; propensity
"high" when score >= ``models.propensity_high`` else "low"; reasons (churn "abnormal" rows only); the
model's name, version and run id. The frame is validated (expectations/scores/model_scores.json) and
committed through Publication, replacing the month's partition.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.errors import InlifeError
from inlife.models import drift, registry
from inlife.models.features import probability
from inlife.models.reasons import reason_codes
from inlife.models.spec import Spec, load_spec, spec_names
from inlife.progress import stage
from inlife.publish import Publication
from inlife.scores import schemas
from inlife.session import CACHE
from inlife.tables import Tables
from inlife.tables.catalogue import MODEL_SCORES


@dataclass
class Champion:
    spec: Spec
    version: str
    run_id: str
    model: Any
    reference: dict[str, Any]


def champions(conf: Config) -> tuple[list[Champion], list[str]]:
    """The champion of every spec in models.specs_dir, loaded once; and the specs without one."""
    import mlflow.artifacts

    c = registry.client(conf)
    found, skipped = [], []
    for name in spec_names(conf):
        spec = load_spec(conf, name)
        mv = registry.champion(c, name)
        if mv is None:
            skipped.append(name)
            continue
        model = registry.load_version(conf, name, mv.version)
        text = mlflow.artifacts.load_text(f"{c.get_run(mv.run_id).info.artifact_uri}/reference.json")
        found.append(Champion(spec, str(mv.version), mv.run_id, model, json.loads(text)))
    return found, skipped


def grade(conf: Config, kind: str, score: Column) -> Column:
    if kind == "churn":
        return F.when(score > F.lit(float(conf.get("models.churn_abnormal_score"))), "abnormal").otherwise("normal")
    if kind == "stickiness":
        return (F.when(score >= F.lit(float(conf.get("models.stickiness_high"))), "high")
                .when(score >= F.lit(float(conf.get("models.stickiness_mid"))), "mid").otherwise("none"))
    return F.when(score >= F.lit(float(conf.get("models.propensity_high"))), "high").otherwise("low")


def decile(p: Column, cuts: list[float]) -> Column:
    """1 + the number of cut points (deciles 0.1..0.9 of the month) above p: 1 = the most likely 10 %."""
    out = F.lit(1)
    for q in cuts:
        out = out + F.when(p < F.lit(q), 1).otherwise(0)
    return out.cast("int")


def score_month(spark, conf: Config, month: str, tables: Tables | None = None) -> dict[str, Any]:
    tables = tables or Tables(spark, conf)
    found, skipped = champions(conf)
    for name in skipped:
        print(f"[inlife] score: {name}: no champion in the registry, not scored", file=sys.stderr)
    if not found:
        raise InlifeError(f"no model has a champion (specs in {conf.get('models.specs_dir')}: "
                          f"{', '.join(skipped) or 'none'}): train one first (inlife train --model NAME)")
    groups: dict[tuple, list[Champion]] = {}
    for ch in found:
        if "subscriber_id" not in ch.spec.keys or not ch.spec.month_column:
            raise InlifeError(f"{ch.spec.path}: scoring into {MODEL_SCORES} needs subscriber_id among the keys "
                              f"and a month column")
        groups.setdefault((ch.spec.table, ch.spec.month_column, tuple(ch.spec.keys)), []).append(ch)

    outputs, cached, psi_all = [], [], {}
    try:
        for (table, mcol, keys), group in groups.items():
            out, wide, psi = _score_table(conf, tables, table, mcol, list(keys), month, group)
            outputs.append(out)
            cached.append(wide)
            psi_all.update(psi)
        result = outputs[0]
        for o in outputs[1:]:
            result = result.unionByName(o)
        with Publication(tables, conf, batch=month) as pub:
            info = pub.add(MODEL_SCORES, result)
    finally:
        for w in cached:
            w.unpersist()
    _log_drift(conf, month, found, psi_all)
    return {"table": MODEL_SCORES, "month": month, "rows": info.rows,
            "models": {ch.spec.name: ch.version for ch in found}, "skipped": skipped,
            "psi": {k: round(v, 4) for k, v in psi_all.items()}}


def _score_table(conf, tables, table, mcol, keys, month, group: list[Champion]):
    parts = {mcol: month} if tables.partition_columns(table) == [mcol] else None
    view = tables.read(table, partitions=parts).where(F.col(mcol).cast("string") == month)
    needed = list(dict.fromkeys(keys + [c for ch in group for c in ch.reference["numeric"] + ch.reference["categorical"]]))
    missing = [c for c in needed if c not in view.columns]
    if missing:
        raise InlifeError(f"{table}: column(s) {', '.join(missing)} needed by the champion(s) "
                          f"{', '.join(ch.spec.name + ' v' + ch.version for ch in group)} are missing")
    base = view.select(*needed)
    cur, pcols = base, []
    for i, ch in enumerate(group):  # one chained plan: one read of the month for every model
        pcol = f"_p{i}"
        cur = ch.model.transform(cur).select(*needed, *pcols, probability(ch.spec.name).alias(pcol))
        pcols.append(pcol)
    wide = cur.persist(CACHE)

    with stage(f"score {table} {month}", conf) as st:
        cuts = wide.approxQuantile(pcols, [k / 10 for k in range(9, 0, -1)], 0.001)  # also fills the cache
        st.rows = None
    # drift: every model's score and top features in one aggregation
    ref, cols = {}, {}
    for i, ch in enumerate(group):
        for k, entry in ch.reference.get("drift", {}).items():
            key = f"{ch.spec.name}.{k}"
            ref[key] = entry
            cols[key] = F.col(pcols[i]) if k == "score" else F.col(entry["column"])
    actual = drift.proportions(wide, ref, cols)
    psi = {k: drift.psi(ref[k]["expected"], actual[k]) for k in ref}

    outs = []
    reasons_schema = schemas.MODEL_SCORES["reasons"].dataType
    for i, ch in enumerate(group):
        p = F.col(pcols[i])
        score = F.round(p * 100, 4)
        scored = wide.select(*keys, *[c for c in needed if c not in keys], p.alias("probability"),
                             score.alias("score"), decile(p, cuts[i]).alias("decile"),
                             grade(conf, ch.spec.kind, score).alias("grade"))
        if ch.spec.kind == "churn":
            abnormal = scored.where(F.col("grade") == "abnormal")
            codes = reason_codes(ch.model, ch.spec.name, ch.reference, abnormal.drop("probability", "decile", "grade"),
                                 keys, "score", int(conf.get("models.reasons")),
                                 int(conf.get("models.reason_candidates")))
            scored = scored.join(codes, keys, "left")
        else:
            scored = scored.withColumn("reasons", F.lit(None).cast(reasons_schema))
        outs.append(scored.select(
            F.col("subscriber_id").cast("long"), F.lit(month).alias("month"), F.lit(ch.spec.name).alias("model"),
            F.col("probability").cast("double"), F.col("score").cast("double"), F.col("decile").cast("int"),
            F.col("grade"), F.col("reasons").cast(reasons_schema), F.lit(ch.version).alias("model_version"),
            F.lit(ch.run_id).alias("run_id")))
    out = outs[0]
    for o in outs[1:]:
        out = out.unionByName(o)
    return out, wide, psi


def _log_drift(conf: Config, month: str, found: list[Champion], psi: dict[str, float]) -> None:
    """One MLflow run per scoring: PSI of each model's score and top features against its training month."""
    import mlflow

    limit = float(conf.get("models.drift_warn_psi"))
    experiment_id = registry.setup(conf)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"score-{month}"):
        mlflow.set_tags({"inlife.kind": "scoring", "month": month})
        mlflow.log_params({f"version.{ch.spec.name}": ch.version for ch in found})
        mlflow.log_params({f"reference_month.{ch.spec.name}": ch.reference.get("reference_month", "")
                           for ch in found})
        mlflow.log_metrics({f"psi.{k}": round(v, 6) for k, v in psi.items()})
    for k, v in sorted(psi.items()):
        if v > limit:
            model, what = k.split(".", 1)
            print(f"[inlife] WARNING drift: {model} {what} PSI {v:.3f} > {limit} against its training month",
                  file=sys.stderr, flush=True)

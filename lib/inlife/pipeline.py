"""The monthly pipeline: ingest -> intermediate -> view -> scores -> tags and matrices -> targets and exports
-> evaluation of the previous month's campaigns, one month at a time.

Each stage is the same code its own job runs, and each publishes validated tables (a failed suite stops
the run with every table of that stage at its previous version). A progress line per stage gives rows and
seconds; the summary at the end says what was produced and where.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.months import check_month, month_end, month_start
from inlife.tables.catalogue import MODEL_SCORES, RECOMMENDATIONS, TARGETS, VALUE


@dataclass
class StageResult:
    stage: str
    seconds: float
    rows: int | None = None
    note: str = ""


@dataclass
class MonthResult:
    month: str
    stages: list[StageResult] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)
    targets: Any = None
    evaluation: Any = None


def _stage(result: MonthResult, name: str, fn, rows_of=None, note_of=None):
    started = time.time()
    out = fn()
    st = StageResult(name, round(time.time() - started, 1), rows_of(out) if rows_of else None,
                     note_of(out) if note_of else "")
    result.stages.append(st)
    rows = f"  rows={st.rows:,}" if st.rows is not None else ""
    print(f"[pipeline] {result.month} {name:<22}{rows}  {st.seconds:.1f}s  {st.note}".rstrip(), flush=True)
    return out


def _published_rows(results) -> int:
    return sum(r.rows or 0 for r in results)


def ingest_months(spark: SparkSession, conf: Config, months: list[str], source: str = "all") -> MonthResult:
    """Every batch of ``months`` (``source``: ``all`` or one source's name) as one ingestion: each source
    read in one pass (as ingest.max_bytes_per_pass allows) and committed once, raw and quarantine, where
    month by month would pay each source's fixed cost (file checks, validation, two commits) every month.
    Records of a month that arrive in the next month's batches then count when the month is built."""
    from inlife.ingest.pipeline import Ingestion, date_range

    result = MonthResult(months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}")
    days = date_range(month_start(months[0]), month_end(months[-1]))
    _stage(result, "ingest", lambda: Ingestion(spark, conf).run(source, days),
           rows_of=lambda reps: sum(r.totals()["rows_written"] for r in reps),
           note_of=lambda reps: f"quarantined={sum(sum(r.totals()['quarantined'].values()) for r in reps):,}")
    return result


def run_month(spark: SparkSession, conf: Config, month: str, ingest: str | None = "all", score: bool = True,
              rules: bool = True, targets: bool = True, evaluate: bool = True, before_scoring=None,
              after_targets=None) -> MonthResult:
    """Every stage of one month. ``ingest``: the sources whose batches of the month are ingested first
    (``all``, one source's name, or None when the raw tables are loaded already). Models are scored with
    their champions if there are any; ``before_scoring(result)`` runs just before (the demo trains there),
    ``after_targets(result)`` after the target lists (the demo simulates the channels' responses there).
    The previous month's campaigns are evaluated once this month's responses are ingested and its view is
    built."""
    from inlife.intermediate.build import build_intermediate
    from inlife.scores.build import build_segments, build_value
    from inlife.unified.build import build_view_and_outcomes

    month = check_month(month)
    result = MonthResult(month)
    if ingest is not None:
        # the month's batches; records of the month that arrive later count when the month is rebuilt
        result.stages += ingest_months(spark, conf, [month], ingest).stages
    _stage(result, "intermediate", lambda: build_intermediate(spark, conf, month), rows_of=_published_rows)
    _stage(result, "customer view", lambda: build_view_and_outcomes(spark, conf, month), rows_of=_published_rows)
    _stage(result, "value index", lambda: build_value(spark, conf, month), rows_of=_published_rows)
    _stage(result, "segments", lambda: build_segments(spark, conf, month), rows_of=_published_rows)
    if before_scoring is not None:
        before_scoring(result)
    if score:
        from inlife.models.scoring import champions, score_month
        if not champions(conf)[0]:
            print(f"[pipeline] {month} model scores: no champion model yet, not scored", flush=True)
            score = False
    if score:
        scored = _stage(result, "model scores", lambda: score_month(spark, conf, month),
                        rows_of=lambda r: r.get("rows"), note_of=lambda r: f"models={r.get('models')}")
        result.models = scored.get("models") or {}
    if rules:
        from inlife.marketing.build import build_recommendations
        _stage(result, "tags and matrices", lambda: build_recommendations(spark, conf, month),
               rows_of=lambda r: _published_rows(r.published))
    if rules and targets:
        from inlife.marketing.targeting import targets_month
        out = _stage(result, "targets and exports", lambda: targets_month(spark, conf, month),
                     rows_of=lambda r: sum(r.counts.values()),
                     note_of=lambda r: "contacted; " + ", ".join(f"{e['channel']}={e['rows']:,}" for e in r.exports))
        result.targets = out
        if after_targets is not None:
            after_targets(result)
    if evaluate:
        evaluate_previous(spark, conf, result)
    if conf.get("quality.enabled") and conf.get("quality.data_docs") == "end":
        from inlife.quality import Validator
        started = time.time()
        docs = Validator.shared(conf).build_docs()
        if docs:
            print(f"[pipeline] {month} Data Docs            {time.time() - started:.1f}s  {docs}", flush=True)
    return result


def evaluate_previous(spark: SparkSession, conf: Config, result: MonthResult, month: str | None = None) -> None:
    """Evaluate the campaigns issued from ``month`` (default: the month before ``result.month``), if any."""
    from inlife.evaluation.build import build_evaluation
    from inlife.months import add_months
    from inlife.tables import Tables

    prev = month or add_months(result.month, -1)
    tables = Tables(spark, conf)
    if not tables.exists(TARGETS) or \
            not tables.read(TARGETS).where(F.col("month") == prev).limit(1).count():
        print(f"[pipeline] {result.month} campaign evaluation: no targets issued from {prev}, nothing to evaluate",
              flush=True)
        return
    out = _stage(result, f"evaluation of {prev}", lambda: build_evaluation(spark, conf, prev),
                 rows_of=lambda r: _published_rows(r.published))
    result.evaluation = out
    print("\n".join(out.lines()), flush=True)


def sample_recommendations(rec, n: int) -> list[str]:
    """A few subscribers with a main policy, each with the rules that chose its outputs (its reasons): the
    lowest ids, so that reruns print the same rows."""
    if n <= 0:
        return []
    rows = rec.where(F.col("main_policy").isNotNull()).orderBy("subscriber_id").limit(n).collect()
    out = [f"sample recommendations (of those with a main policy, {len(rows)} shown) with their reasons:"] if rows else []
    for r in rows:
        extra = [f"group {r['policy_group']} by {r['policy_group_rule']}"] if r["policy_group"] else []
        extra += [f"new business {', '.join(r['new_business_policies'])} by {', '.join(r['new_business_rules'])}"] \
            if r["new_business_policies"] else []
        extra += [f"traffic {', '.join(r['traffic_policies'])} by {', '.join(r['traffic_rules'])}"] if r["traffic_policies"] else []
        extra += [f"vpn {r['vpn_policy']} by {r['vpn_rule']}"] if r["vpn_policy"] else []
        out.append(f"  {r['subscriber_id']}: priority {'>'.join(r['priority_order'] or [])} ({r['priority_rule']}); "
                   f"main {r['main_policy']} by {r['main_policy_rule']}"
                   + "".join(f"; {e}" for e in extra) + f"; tags {', '.join(r['tags']) or '-'}")
    return out


def summary(spark: SparkSession, conf: Config, month: str) -> str:
    """What the month produced: tiers x churn grades, model versions, recommendations, where things are."""
    from inlife.tables import Tables

    tables = Tables(spark, conf)
    lines = [f"== inlife: month {month} =="]
    value = tables.read(VALUE, partitions={"month": month})
    churn = None
    if tables.exists(MODEL_SCORES):
        ms = tables.read(MODEL_SCORES, partitions={"month": month})
        churn = ms.where(F.col("model") == "churn").select("subscriber_id", F.col("grade").alias("churn_grade"))
        versions = {r.model: r.model_version for r in ms.select("model", "model_version").distinct().collect()}
        lines.append("models used: " + (", ".join(f"{m} v{v}" for m, v in sorted(versions.items())) or "none"))
    grid = value.join(churn, "subscriber_id", "left") if churn is not None else value.withColumn("churn_grade", F.lit(None))
    counts = {(r.value_tier, r.churn_grade): r["count"] for r in grid.groupBy("value_tier", "churn_grade").count().collect()}
    tiers = ["high", "mid_high", "mid", "low"]
    grades = sorted({g for _, g in counts}, key=lambda g: (g is None, g or ""))
    lines.append("subscribers by value tier x churn grade:")
    lines.append("  " + f"{'tier':<10}" + "".join(f"{g or 'not scored':>12}" for g in grades))
    for t in tiers:
        lines.append("  " + f"{t:<10}" + "".join(f"{counts.get((t, g), 0):>12,}" for g in grades))
    if tables.exists(RECOMMENDATIONS):
        rec = tables.read(RECOMMENDATIONS, partitions={"month": month})
        main_col = "main_policy" if "main_policy" in rec.columns else None
        if main_col:
            top = rec.groupBy(main_col).count().orderBy(F.desc("count")).limit(12).collect()
            lines.append("recommendations by main policy:")
            lines += [f"  {r[main_col] or '(no policy matched)':<28}{r['count']:>10,}" for r in top]
            lines += sample_recommendations(rec, int(conf.get("run.summary_samples")))
    if tables.exists(TARGETS):
        t = tables.read(TARGETS, partitions={"batch": month})
        per = t.groupBy("campaign_id", "channel").agg(F.sum(F.col("contacted").cast("int")).alias("contacted"),
                                                       F.sum((F.col("selected") & F.col("holdout")).cast("int")).alias("held"))
        rows = per.where("contacted > 0 or held > 0").orderBy("campaign_id", "channel").collect()
        if rows:
            lines.append("targets by campaign and channel (contacted / held out):")
            lines += [f"  {r['campaign_id']:<24}{r['channel']:<18}{r['contacted']:>9,}{r['held']:>9,}" for r in rows]
        by_channel = t.where("contacted").groupBy("channel").count().orderBy("channel").collect()
        lines.append("targets per channel: " + (", ".join(f"{r['channel']} {r['count']:,}" for r in by_channel) or "none"))
    lines.append(f"tables:     {conf.path('lake.root')} (Delta Lake, {tables.engine.name} engine)")
    if tables.catalog_enabled:
        lines.append(f"by name:    spark.sql(\"select * from unified.customer_view where month = '{month}'\") "
                     f"(catalog: {conf.path('lake.metastore_dir')})")
    lines.append(f"exports:    {conf.path('campaigns.exports_root')}/<channel>/{month}/ (each with _manifest.json)")
    lines.append(f"MLflow UI:  make mlflow-ui   (tracking {conf.get('mlflow.tracking_uri')})")
    lines.append(f"Data Docs:  {conf.path('quality.data_docs_dir')}/index.html (quality.data_docs: {conf.get('quality.data_docs')})")
    return "\n".join(lines)

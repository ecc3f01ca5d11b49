"""The monthly and daily rule runs: state -> rule table -> evaluation -> validated, committed outputs.

    result = build_recommendations(spark, conf, "2024-03")             # scores.tags + marketing.recommendations
    result = build_daily_tags(spark, conf, "2024-03-15")            # scores.tags_daily (screening tags)

``state`` may be given (tests, benchmarks); otherwise it is built from unified.customer_view and the
scores tables of the month (lib/inlife/scores/state.py) plus the rules' derived columns (derived.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.errors import TableError
from inlife.marketing.recommendations import recommendations, tag_rows
from inlife.months import add_months
from inlife.publish import Publication
from inlife.rules.columns import kinds_of, state_names
from inlife.rules.compile import Paths, check, load_ruleset, read_rule_table, sync_rule_table
from inlife.rules.derived import add_derived
from inlife.rules.evaluate import evaluate_state, plan
from inlife.tables import Tables
from inlife.tables.catalogue import CUSTOMER_VIEW, MODEL_SCORES, RECOMMENDATIONS, SEGMENTS, TAGS, TAGS_DAILY, VALUE


@dataclass
class RunResult:
    month: str
    rules_version: int
    rules_written: bool
    published: list


def build_state(spark: SparkSession, tables: Tables, month: str) -> DataFrame:
    """The month's subscriber state: the view, the scores of the models and value criteria in config."""
    from inlife.scores.state import subscriber_state

    if not tables.exists(CUSTOMER_VIEW):
        raise TableError(f"{CUSTOMER_VIEW} does not exist: build the view first (inlife build_view --month {month})")
    view = tables.read(CUSTOMER_VIEW, partitions={"month": month})

    def opt(name: str):
        return tables.read(name, partitions={"month": month}) if tables.exists(name) else None
    state = subscriber_state(view, opt(VALUE), opt(MODEL_SCORES), opt(SEGMENTS), *state_names(tables.conf))
    history = tables.read(CUSTOMER_VIEW, partitions={"month": [add_months(month, -n) for n in range(1, 10)]}) \
        .select("subscriber_id", "month", "return_rate")
    return add_derived(state, month, history)


def prepare(spark: SparkSession, conf: Config, tables: Tables, state: DataFrame, month: str):
    """Check the rule files against the state's columns, sync marketing.rules, read the rules back."""
    kinds = kinds_of(state.schema)
    ruleset, catalogue = load_ruleset(Paths.from_conf(conf), conf.get("rules.params"))
    check(ruleset, kinds)                                   # fail before writing anything
    version, written = sync_rule_table(spark, tables, ruleset)
    stored = read_rule_table(tables, version)
    nodes = check(stored, kinds)
    return stored, catalogue, nodes, version, written


def build_recommendations(spark: SparkSession, conf: Config, month: str, state: DataFrame | None = None) -> RunResult:
    tables = Tables(spark, conf)
    state = state if state is not None else build_state(spark, tables, month)
    state = add_derived(state, month)          # keeps quarters already present
    ruleset, catalogue, nodes, version, written = prepare(spark, conf, tables, state, month)
    plans = plan(ruleset, nodes, catalogue, month, max_cells=int(conf.get("rules.max_cells")))
    # not cached: each output reads only the columns it needs of the state (caching the whole evaluated
    # state, hundreds of columns, cost more than evaluating twice)
    evaluated = evaluate_state(spark, state, ruleset, plans)
    with Publication(tables, conf, workers=int(conf.get("run.parallel_tables")), batch=month) as pub:
        pub.add(TAGS, tag_rows(evaluated, plans["tags"], month, version))
        pub.add(RECOMMENDATIONS, recommendations(evaluated, plans, catalogue, month, version))
    return RunResult(month, version, written, pub.results)


def build_daily_tags(spark: SparkSession, conf: Config, day: str, state: DataFrame | None = None,
                 state_month: str | None = None) -> RunResult:
    """Screening tags for ``day`` over the latest state at or before it (the view is monthly: the day's
    month if built, else the month before)."""
    tables = Tables(spark, conf)
    month = state_month or day[:7]
    if state is None:
        if not tables.exists(CUSTOMER_VIEW):
            raise TableError(f"{CUSTOMER_VIEW} does not exist")
        months = [r["month"] for r in tables.read(CUSTOMER_VIEW).select("month").distinct().collect() if r["month"] <= month]
        if not months:
            raise TableError(f"{CUSTOMER_VIEW} has no month at or before {month}")
        month = max(months)
        state = build_state(spark, tables, month)
    state = add_derived(state, month)          # keeps quarters already present
    # counted from the day, not the state month's end (the nightly run refreshes factors as of the day)
    state = state.withColumn("days_since_activation", F.datediff(F.to_date(F.lit(day)), F.col("activation_date")))
    ruleset, catalogue, nodes, version, written = prepare(spark, conf, tables, state, month)
    plans = plan(ruleset, nodes, catalogue, month, matrices=["tags"],
                 rule_filter=lambda r: bool(r.outputs.get("screening")))
    evaluated = evaluate_state(spark, state, ruleset, plans)
    with Publication(tables, conf, batch=day) as pub:
        pub.add(TAGS_DAILY, tag_rows(evaluated, plans["tags"], month, version, day=day))
    return RunResult(month, version, written, pub.results)

"""The targets runs: a month's recommendations, or a night's screening tags -> marketing.targets,
marketing.contact_history and the channel exports.

    result = targets_month(spark, conf, "2024-03")      # contacts worked from 2024-04-01
    result = daily(spark, conf, "2024-04-15")           # ingest the day, refresh, screen, work orders for 04-16

Both tables are partitioned by ``batch`` (the month or the day) and a rerun replaces its batch only, so
rerunning a batch gives the same tables; contact limits count the other batches' contacts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.errors import TableError
from inlife.marketing import exports
from inlife.marketing import work_orders as wo
from inlife.marketing.campaigns import CampaignConfig, CampaignError, load_campaigns
from inlife.marketing.lifecycle import Lifecycle, load_lifecycle
from inlife.marketing.targets import DND_SCHEMA, build_targets, history_rows
from inlife.months import add_months, check_month, month_end, month_start
from inlife.progress import stage
from inlife.publish import Publication
from inlife.tables import Tables
from inlife.tables.catalogue import (BALANCES, CONTACT_HISTORY, CUSTOMER_VIEW, MODEL_SCORES, RECHARGES, RECOMMENDATIONS,
                                     SERVICE_CONTACTS, TAGS_DAILY, TARGETS, WORK_ORDER_EVENTS, WORK_ORDERS)


@dataclass
class TargetsResult:
    batch: str
    batch_kind: str
    month: str
    contact_date: date
    published: list = field(default_factory=list)
    exports: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)      # (campaign, channel) -> contacted
    suppressed: dict = field(default_factory=dict)  # reason -> rows

    def lines(self) -> list[str]:
        out = [f"targets {self.batch} ({self.batch_kind}, state month {self.month}, contacts on {self.contact_date}):"]
        for (camp, ch), n in sorted(self.counts.items()):
            out.append(f"  {camp:<24}{ch or '-':<18}{n:>9,} contacted")
        if self.suppressed:
            out.append("  left out: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.suppressed.items())))
        for e in self.exports:
            out.append(f"  export {e['channel']:<17}{e['rows']:>9,} rows  {e['path']}")
        return out


def campaign_config(conf: Config) -> CampaignConfig:
    from inlife.rules.catalogue import load_catalogue
    from inlife.rules.compile import Paths

    catalogue = load_catalogue(Paths.from_conf(conf).policies)
    return load_campaigns(Path(conf.conf_dir) / conf.get("campaigns.file"), set(catalogue.policies))


@dataclass(frozen=True)
class OptOuts:
    """The do-not-disturb / opt-out list as read: its rows, and the file and checksum each export records."""
    rows: list[tuple[int, str, str]]
    file: str
    sha256: str

    def frame(self, spark: SparkSession) -> DataFrame:
        return spark.createDataFrame(self.rows, DND_SCHEMA)

    def manifest(self) -> dict:
        return {"file": self.file, "rows": len(self.rows), "sha256": self.sha256}


def read_opt_outs(conf: Config, cfg: CampaignConfig) -> OptOuts:
    """The opt-out list (CSV subscriber_id,channel,reason under landing.root). Consent fails closed: without
    the file no target is issued (nobody opted out is a header-only file); a bad line stops the run naming
    the file and line. A byte-order mark (a list saved by Excel) is read past."""
    import hashlib

    name = cfg.policy.do_not_disturb_file
    if not name:
        raise CampaignError(f"{cfg.path}: policy.do_not_disturb_file names no opt-out list: targets are not "
                            f"issued without one (a header-only file says nobody opted out)")
    path = Path(conf.path("landing.root")) / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{path}: the opt-out list (policy.do_not_disturb_file) is missing: no target is "
                            f"issued without it (a header-only file says nobody opted out)") from None
    lines = data.decode("utf-8-sig").splitlines()
    if not lines or [h.strip() for h in lines[0].split(",")] != ["subscriber_id", "channel", "reason"]:
        raise CampaignError(f"{path}: the header must be 'subscriber_id,channel,reason'")
    rows, allowed = [], set(cfg.channels) | {"all"}
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[0].isdigit() or parts[1] not in allowed:
            raise CampaignError(f"{path}, line {n}: expected subscriber_id,channel,reason with channel one of "
                                f"{', '.join(sorted(allowed))}; got {line!r}")
        rows.append((int(parts[0]), parts[1], parts[2]))
    return OptOuts(rows, name, hashlib.sha256(data).hexdigest())


MIN_KEY_CHARS = 16


def contact_key(conf: Config) -> bytes:
    """The secret contact ids are keyed with, from the environment variable campaigns.contact_key_env
    names. Fails closed: without it no target is issued (an unkeyed id could be traced to its subscriber)."""
    import os

    name = conf.get("campaigns.contact_key_env")
    value = os.environ.get(name or "", "")
    if len(value) < MIN_KEY_CHARS:
        raise CampaignError(f"campaigns.contact_key_env: the environment variable {name} "
                            f"{'holds fewer than ' + str(MIN_KEY_CHARS) + ' characters' if value else 'is not set'}: "
                            f"contact ids are keyed hashes (HMAC) of batch, campaign and subscriber, and no target "
                            f"is issued without a secret key of at least {MIN_KEY_CHARS} characters")
    return value.encode("utf-8")


def _policies_frame(spark: SparkSession, conf: Config) -> DataFrame:
    from inlife.rules.catalogue import load_catalogue
    from inlife.rules.compile import Paths

    cat = load_catalogue(Paths.from_conf(conf).policies)
    return spark.createDataFrame([(p.id, p.name, p.script or None) for p in cat.policies.values()],
                                 "policy_id string, policy_name string, policy_script string")


def _churn_reasons(tables: Tables, month: str) -> DataFrame | None:
    if not tables.exists(MODEL_SCORES):
        return None
    ms = tables.read(MODEL_SCORES, partitions={"month": month}).where(F.col("model") == "churn")
    return ms.select("subscriber_id", F.transform(F.coalesce("reasons", F.array()), lambda r: r["factor"])
                     .alias("churn_reasons"))


def _base(state: DataFrame, recs: DataFrame, reasons: DataFrame | None, tags: DataFrame | None = None) -> DataFrame:
    rec_cols = ["main_policy", "main_policy_rule", "policy_group", "new_business_policies", "new_business_rules",
                "traffic_policies", "traffic_rules", "vpn_policy", "vpn_rule", "priority_order", "tags"]
    base = state.drop(*[c for c in rec_cols if c in state.columns]).join(
        recs.select("subscriber_id", *rec_cols), "subscriber_id", "inner")
    if tags is not None:   # the night's tags replace the month's screening tags
        base = base.drop("tags").join(tags, "subscriber_id", "left").withColumn("tags", F.coalesce("tags", F.array()))
    if reasons is not None:
        base = base.join(reasons, "subscriber_id", "left")
    else:
        base = base.withColumn("churn_reasons", F.array().cast("array<string>"))
    if "msisdn" not in base.columns:
        base = base.withColumn("msisdn", F.lit(None).cast("string"))
    return base


def run_batch(spark: SparkSession, conf: Config, base: DataFrame, kinds_state: DataFrame, *, batch: str,
              batch_kind: str, month: str, contact_date: date, capacity_days: int, first: date, last: date,
              write_exports: bool = True) -> TargetsResult:
    from inlife.marketing.campaigns import check_expressions
    from inlife.marketing.reasons import reason_texts
    from inlife.rules.columns import kinds_of
    from inlife.rules.compile import Paths, load_ruleset

    cfg = campaign_config(conf)
    lc = load_lifecycle(conf)
    tables = Tables(spark, conf)
    ruleset, _ = load_ruleset(Paths.from_conf(conf), conf.get("rules.params"))
    kinds = kinds_of(kinds_state.schema)
    expressions = check_expressions(cfg, kinds, ruleset.tag_ids())
    campaigns = cfg.runs(batch_kind, first, last)
    result = TargetsResult(batch, batch_kind, month, contact_date)
    if not campaigns:
        print(f"[targets] {batch}: no {batch_kind} campaign runs in {first}..{last}", flush=True)
        return result
    history = tables.read(CONTACT_HISTORY) if tables.exists(CONTACT_HISTORY) else None
    opt_outs = read_opt_outs(conf, cfg)
    targets = build_targets(base, campaigns, expressions, _policies_frame(spark, conf), opt_outs.frame(spark),
                            history, cfg.policy, batch=batch, batch_kind=batch_kind, month=month,
                            contact_date=contact_date, capacity_days=capacity_days, key=contact_key(conf))
    targets = targets.persist()          # both tables come from the same rows: compute them once
    try:
        with Publication(tables, conf, workers=int(conf.get("run.parallel_tables")), batch=batch) as pub:
            pub.add(TARGETS, targets)
            pub.add(CONTACT_HISTORY, history_rows(targets))
            events, orders = _work_orders(spark, tables, lc, targets, batch, contact_date)
            pub.add(WORK_ORDER_EVENTS, events, parameters=lc.suite_parameters())
            pub.add(WORK_ORDERS, orders, parameters=lc.suite_parameters())
    finally:
        targets.unpersist()
    result.published = pub.results
    written = tables.read(TARGETS, partitions={"batch": batch})
    for r in written.groupBy("campaign_id", "channel", "suppression").count().collect():
        if r["suppression"] is None:
            result.counts[(r["campaign_id"], r["channel"])] = r["count"]
        else:
            result.suppressed[r["suppression"]] = result.suppressed.get(r["suppression"], 0) + r["count"]
    if write_exports:
        channels = sorted({ch for c in campaigns for ch in c.channels})
        with stage(f"exports {batch}", conf) as st:
            result.exports = exports.export_batch(
                written, tables.read(CONTACT_HISTORY), exports.Destination.from_conf(conf), batch, channels,
                contact_date, {"targets_version": tables.version(TARGETS), "campaigns": [c.id for c in campaigns],
                               "do_not_disturb": opt_outs.manifest()},
                int(conf.get("campaigns.desk_contacts_days")), reason_texts(ruleset))
            st.rows = sum(e["rows"] for e in result.exports)
    return result


def _work_orders(spark: SparkSession, tables: Tables, lc: Lifecycle, targets: DataFrame, batch: str,
                 contact_date: date) -> tuple[DataFrame, DataFrame]:
    """The batch's work-order events and every order's state after them. Its timers run as of the morning
    the batch is worked, so that a rerun makes the same moves."""
    def others(table: str, schema) -> DataFrame:
        if not tables.exists(table):
            return spark.createDataFrame([], schema)
        return tables.read(table).where(F.col("batch") != batch).select(*schema.fieldNames())

    new = wo.new_orders(targets, lc)
    earlier_orders, earlier_events = others(WORK_ORDERS, wo.ORDER_SCHEMA), others(WORK_ORDER_EVENTS, wo.EVENT_SCHEMA)
    events = wo.batch_events(new, earlier_orders, earlier_events, lc, batch,
                             F.lit(contact_date.isoformat()).cast("timestamp"))
    orders = wo.current(earlier_orders.unionByName(new), earlier_events.unionByName(events.drop("batch")))
    return events, orders


def targets_month(spark: SparkSession, conf: Config, month: str, state: DataFrame | None = None,
                  write_exports: bool = True) -> TargetsResult:
    """The monthly campaigns over month ``month``'s recommendations; the channels work them the next month."""
    from inlife.marketing.build import build_state

    month = check_month(month)
    tables = Tables(spark, conf)
    if not tables.exists(RECOMMENDATIONS):
        raise TableError(f"{RECOMMENDATIONS} does not exist: evaluate the matrices first "
                         f"(inlife evaluate_rules --month {month})")
    state = state if state is not None else build_state(spark, tables, month)
    recs = tables.read(RECOMMENDATIONS, partitions={"month": month})
    first, last = month_start(add_months(month, 1)), month_end(add_months(month, 1))   # the month after
    base = _base(state, recs, _churn_reasons(tables, month))
    return run_batch(spark, conf, base, state, batch=month, batch_kind="monthly", month=month, contact_date=first,
                     capacity_days=(last - first).days + 1, first=first, last=last, write_exports=write_exports)


def latest_state_month(tables: Tables, day: date) -> str:
    """The latest month of the view wholly before ``day``'s month (a month's view uses the whole month)."""
    if not tables.exists(CUSTOMER_VIEW):
        raise TableError(f"{CUSTOMER_VIEW} does not exist: build a month first (inlife pipeline --month YYYY-MM)")
    months = sorted(r["month"] for r in tables.read(CUSTOMER_VIEW).select("month").distinct().collect()
                    if r["month"] < day.isoformat()[:7])
    if not months:
        raise TableError(f"{CUSTOMER_VIEW} has no month before {day.isoformat()[:7]}: the nightly run needs last month's view")
    return months[-1]


def daily(spark: SparkSession, conf: Config, day: str, ingest: bool = True, write_exports: bool = True) -> TargetsResult:
    """The nightly run for ``day``: ingest the day's batches, refresh the fast-moving factors, evaluate the
    screening tags (scores.tags_daily), and build the next morning's daily campaign targets and work orders."""
    import time

    from inlife.marketing.build import build_daily_tags, build_state
    from inlife.marketing.nightly import refresh_fast_factors
    from inlife.rules.compile import Paths, load_ruleset

    d = date.fromisoformat(day)
    tables = Tables(spark, conf)
    started = time.time()
    if ingest:
        from inlife.ingest.pipeline import Ingestion
        with stage(f"daily ingest {day}", conf) as st:
            reports = Ingestion(spark, conf).run("all", [d])
            st.rows = sum(r.totals()["rows_written"] for r in reports)
    month = latest_state_month(tables, d)
    with stage(f"daily refresh {day}", conf) as st:
        state = refresh_fast_factors(
            build_state(spark, tables, month), tables.read(BALANCES), tables.read(RECHARGES),
            tables.read(SERVICE_CONTACTS), d,
            {"low_balance": conf.get("intermediate.low_balance"), **conf.get("campaigns.nightly")}).cache()
        st.rows = state.count()
    build_daily_tags(spark, conf, day, state=state, state_month=month)
    ruleset, _ = load_ruleset(Paths.from_conf(conf), conf.get("rules.params"))
    screening = [r.outputs["tag_id"] for r in ruleset.rules if r.family == "tag" and r.outputs.get("screening")]
    recs = tables.read(RECOMMENDATIONS, partitions={"month": month})
    day_tags = (tables.read(TAGS_DAILY, partitions={"day": day}).groupBy("subscriber_id")
                .agg(F.collect_set("tag_id").alias("_day_tags")))
    tags = (recs.select("subscriber_id", F.filter("tags", lambda t: ~t.isin(*screening)).alias("_month_tags"))
            .join(day_tags, "subscriber_id", "left")
            .select("subscriber_id", F.array_union("_month_tags", F.coalesce("_day_tags", F.array().cast("array<string>")))
                    .alias("tags")))
    base = _base(state, recs, _churn_reasons(tables, month), tags)
    nxt = d + timedelta(days=1)
    result = run_batch(spark, conf, base, state, batch=day, batch_kind="daily", month=month, contact_date=nxt,
                       capacity_days=1, first=nxt, last=nxt, write_exports=write_exports)
    state.unpersist()
    print(f"[daily] {day} finished in {time.time() - started:.1f}s", flush=True)
    return result

"""The sample-data generator: landing extracts of a simulated Zhejiang mobile operator, and their truth.

``generate(spark, conf, ...)`` runs month by month (a loop over months on the driver; everything per
subscriber or per event is a Spark job):

1. the population's static attributes are computed once (population.py) and staged as Parquet;
2. each month, every living subscriber's drivers, true churn probability and churn draw
   (state.py, its coefficients in coefficients.py) are computed from the population, the previous
   month's state and the peers who churned, and staged as Parquet;
3. each source of conf/sources.yaml is generated from the month's state (calls.py, vas.py, billing.py,
   service.py, subscribers.py, groups.py), turned into lines with planted defects (badrows.py) and
   written into the landing layout (writer.py);
4. the month's truth is written (truth.py); the manifest at the end.

All randomness is hash-based (rand.py): the same arguments give the same rows on any partitioning.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.generator import badrows, billing, calls, groups, service, subscribers, truth, vas
from inlife.generator.params import Month, Params
from inlife.generator.population import add_attributes
from inlife.generator.state import month_state
from inlife.generator.writer import Manifest, fill_empty_batches, write_lines
from inlife.progress import stage
from inlife.sources import load_sources


@contextmanager
def _sql_conf(spark: SparkSession, settings: dict):
    old = {k: spark.conf.get(k, None) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


# The monthly state has ~150 columns of wide expressions; whole-stage code generation would compile one
# enormous method (over the JVM's 64 KB limit, then a slow fallback). Per-operator code generation copes.
STATE_SQL = {"spark.sql.codegen.wholeStage": "false"}
# Spark 4 only lets the CSV writer use a short list of charsets unless this is set (GBK extracts).
WRITE_SQL = {"spark.sql.legacy.javaCharsets": "true",
             # partitionBy(batch_date) would otherwise sort every task's rows by date before writing
             # (tens of millions of lines, spilled to disk); concurrent writers keep one file open per date.
             "spark.sql.maxConcurrentOutputFileWriters": "64"}
# The population is narrow enough for whole-stage code generation, which is much faster per row.
POPULATION_SQL = {"spark.sql.codegen.wholeStage": "true"}


def generate(spark: SparkSession, conf: Config, p: Params) -> dict:
    # The writer counts rows with DataFrame.observe. In Spark 4.0 a session that has used an Observation
    # can no longer run MLlib (Task not serializable: ObservationManager), so the generator works in a
    # session of its own on the same SparkContext and leaves the caller's session fit for training.
    from inlife.session import fresh_session

    spark = fresh_session(spark)
    contract = load_sources(conf)
    landing = Path(conf.path("landing.root"))
    truth_root = Path(conf.path("truth.root"))
    staging = truth_root / "_staging"
    unknown = sorted(set(p.only) - set(contract.order))
    if unknown:
        raise ValueError(f"generator: no source {unknown} in sources.yaml (sources: {', '.join(contract.order)})")
    for name in (p.only or contract.order):
        shutil.rmtree(landing / name, ignore_errors=True)
    shutil.rmtree(truth_root / "subscriber_month", ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    landing.mkdir(parents=True, exist_ok=True)
    generated = [n for n in contract.order if not contract[n].optional   # responses come from simulate_responses
                 and (not p.only or n in p.only)]
    manifest = Manifest(p, generated)

    with stage("population", conf) as st_:
        with _sql_conf(spark, POPULATION_SQL):
            base = spark.range(0, p.total_ids, numPartitions=p.partitions(p.total_ids)).withColumnRenamed("id", "idx")
            add_attributes(p, base).write.mode("overwrite").parquet(str(staging / "population"))
        st_.rows = p.total_ids
    pop = spark.read.parquet(str(staging / "population"))
    if not p.only:
        write_opt_outs(conf, p, pop, landing)

    prev: DataFrame | None = None
    churned_before: DataFrame | None = None
    for month in p.month_list:
        with stage(f"state {month.label}", conf) as st_:
            with _sql_conf(spark, STATE_SQL):
                month_pop = pop.filter(F.col("activation_date") <= F.lit(month.end))
                state = month_state(spark, p, month, prev, churned_before, population=month_pop)
                state.write.mode("overwrite").parquet(str(staging / f"state_{month.label}"))
            st = spark.read.parquet(str(staging / f"state_{month.label}"))
            st_.rows = st.count()
        # Every subscriber who has churned by the end of this month: churn_day 0 = before this month.
        now = st.filter("churned").select("idx", "churn_day")
        churn = now if churned_before is None else churned_before.select("idx", F.lit(0).alias("churn_day")).unionByName(now)
        churn.write.mode("overwrite").parquet(str(staging / f"churned_{month.label}"))
        churn = spark.read.parquet(str(staging / f"churned_{month.label}"))

        with _sql_conf(spark, WRITE_SQL):
            members = groups.group_members(p, month, st)
            records = {
                "subscribers": lambda: subscribers.subscribers(p, month, st),
                "groups": lambda: groups.groups(spark, p, month, members),
                "group_members": lambda: members,
                "contracts": lambda: billing.contracts(p, month, st),
                "billing": lambda: billing.billing(p, month, st),
                "voice_cdr": lambda: calls.voice_cdr(p, month, st, churn),
                "sms_data": lambda: calls.sms_data(p, month, st),
                "vas_usage": lambda: vas.vas_usage(p, month, st),
                "service_orders": lambda: vas.service_orders(p, month, st),
                "recharges": lambda: billing.recharges(p, month, st),
                "balances": lambda: billing.balances(p, month, st),
                "service_contacts": lambda: service.service_contacts(p, month, st),
                "echannel_events": lambda: service.echannel_events(p, month, st),
            }
            for name in generated:
                src = contract[name]
                with stage(f"{name} {month.label}", conf) as st_:
                    lines = badrows.to_lines(records[name](), src, p, month)
                    counts, batches = write_lines(lines, src, p, month, landing)
                    fill_empty_batches(src, month, landing, p.encoding)
                    manifest.add(name, counts, batches)
                    st_.rows = counts["lines"]

        with stage(f"truth {month.label}", conf) as st_:
            truth.subscriber_month(month, st).write.mode("append").parquet(str(truth_root / "subscriber_month"))
        prev = st
        churned_before = churn

    path = manifest.write(landing)
    shutil.rmtree(staging, ignore_errors=True)
    return {"manifest": str(path), **manifest.as_dict()}


def write_opt_outs(conf: Config, p: Params, pop: DataFrame, landing: Path) -> None:
    """The CRM's do-not-disturb list (campaigns' policy.do_not_disturb_file): about one subscriber in a
    hundred has asked not to be called, texted, or contacted at all."""
    from inlife.marketing.targeting import campaign_config

    name = campaign_config(conf).policy.do_not_disturb_file
    if not name:
        return                  # the campaigns name no list: targeting says so when it runs
    h = F.abs(F.xxhash64("idx", F.lit(p.seed)))
    asked = pop.where(h % 100 == 0).select("subscriber_id", (F.floor(h / 100) % 3).cast("int").alias("k"))
    kinds = [("outbound_call", "asked not to be called"), ("sms", "asked for no messages"), ("all", "complaint")]
    lines = ["subscriber_id,channel,reason"] + [f"{r['subscriber_id']},{kinds[r['k']][0]},{kinds[r['k']][1]}"
                                                for r in asked.orderBy("subscriber_id").collect()]
    (landing / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


__all__ = ["Params", "Month", "generate"]

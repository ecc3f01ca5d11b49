"""Building the intermediate layer for one month: read raw, run the transforms, validate, publish.

Which raw batches a month reads: event tables, every batch from the month's first day to ``late_days``
after its last (late records count in their event month); month-end snapshots (billing, contracts,
groups), the batch of the month's last day; subscribers, the month's batches (a full snapshot on the 1st
plus the daily changes), and for churned peers the two months before too. Only the month and earlier
months are read: nothing after the month enters its rows, except records of the month that arrived late.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.intermediate import billing, recharge, service, social, subscriber, vas, voice
from inlife.intermediate.common import in_month
from inlife.months import add_months, batch_window, check_month, month_end, month_start
from inlife.publish import Publication
from inlife.session import input_bytes, shuffle_partitions_for
from inlife.sources import load_sources
from inlife.tables import Between, Tables
from inlife.tables.catalogue import (BILLING_MONTHLY, RECHARGE_MONTHLY, SERVICE_MONTHLY, SOCIAL_CIRCLE,
                                     SUBSCRIBER_MONTHLY, VAS_MONTHLY, VOICE_MONTHLY, in_layer, raw)
from inlife.unified.dictionary import dimensions

TABLES = [name.split(".")[1] for name in in_layer("intermediate")]


class RawReader:
    """raw.<source> by batch range, with clear errors when a table was never ingested."""

    def __init__(self, tables: Tables):
        self.tables = tables

    def between(self, source: str, first, last) -> DataFrame:
        return self.tables.read(raw(source), partitions={"batch_date": Between(first.isoformat(), last.isoformat())})

    def on(self, source: str, day) -> DataFrame:
        return self.tables.read(raw(source), partitions={"batch_date": day.isoformat()})


def previous(tables: Tables, name: str, month: str, months_back: int = 1) -> DataFrame | None:
    """Earlier months of an intermediate table (None when there are none yet)."""
    if not tables.exists(name):
        return None
    return tables.read(name, partitions={"month": [add_months(month, -k) for k in range(1, months_back + 1)]})


def build_intermediate(spark: SparkSession, conf: Config, month: str, only: list[str] | None = None) -> list:
    """Build, validate and commit the month's intermediate tables (all, or ``only`` those named)."""
    month = check_month(month)
    wanted = only or TABLES
    unknown = [t for t in wanted if t not in TABLES]
    if unknown:
        from inlife.errors import InlifeError
        raise InlifeError(f"unknown intermediate table(s) {unknown} (have {', '.join(TABLES)})")
    tables = Tables(spark, conf)
    raw = RawReader(tables)
    contract = load_sources(conf)
    ic = conf["intermediate"]
    dims = dimensions()
    first, last = batch_window(month, ic["late_days"])
    end = month_end(month)

    subscribers_month = raw.between("subscribers", month_start(month), end)
    cdr = raw.between("voice_cdr", first, last)

    # The month's CDR is the build's largest input: its size sets the shuffle partitions of every table
    # (one setting for the build: with run.parallel_tables > 1 tables are planned at the same time). When
    # it is large enough to raise them, each table's shuffle files are let go before the next table.
    configured = int(spark.conf.get("spark.sql.shuffle.partitions"))
    with shuffle_partitions_for(spark, input_bytes(cdr), int(conf.get("spark.input_bytes_per_shuffle_partition"))) as n, \
            Publication(tables, conf, workers=int(conf.get("run.parallel_tables")), release=n > configured,
                        batch=month) as pub:
        if "subscriber_monthly" in wanted:
            subs = subscriber.subscriber_monthly(
                subscribers_month, raw.on("contracts", end), raw.on("group_members", end),
                raw.between("echannel_events", first, last), month)
            pub.add(SUBSCRIBER_MONTHLY, subs)
        if "voice_monthly" in wanted:
            def reconciliation():
                raw_minutes = (cdr.where(in_month("start_time", month))
                               .agg(F.sum(F.col("duration_sec") / 60.0).alias("m")).first()["m"]) or 0.0
                tolerance = max(1e-6 * raw_minutes, 0.01)
                return {"raw_minutes_min": raw_minutes - tolerance, "raw_minutes_max": raw_minutes + tolerance}
            pub.add(VOICE_MONTHLY,
                    voice.voice_monthly(cdr, month, dims["ct"], contract.competitor_service_numbers,
                                        ic["peak_hours"], ic["late_month_day"]),
                    parameters=reconciliation)
        if "social_circle" in wanted:
            def social_frame():   # runs jobs (checkpoints) while defined: inside the table's stage
                numbers = subscriber.latest_state(subscribers_month, end).select("subscriber_id", "msisdn")
                churn_window = raw.between("subscribers", month_start(add_months(month, -2)), end)
                churned = (churn_window.where((F.col("status") == "CHURNED")
                                              & (F.col("status_date") >= F.lit(month_start(add_months(month, -2)).isoformat()).cast("date"))
                                              & (F.col("status_date") <= F.lit(end.isoformat()).cast("date")))
                           .select("subscriber_id").distinct())
                return social.social_circle(cdr, month, numbers, raw.on("group_members", end), churned,
                                            ic["own_operator"], ic["pagerank_iterations"])
            pub.add(SOCIAL_CIRCLE, social_frame)
        if "vas_monthly" in wanted:
            pub.add(VAS_MONTHLY,
                    vas.vas_monthly(raw.between("vas_usage", first, last), raw.between("service_orders", first, last),
                                    raw.between("sms_data", first, last), month, dims["p"],
                                    previous(tables, VAS_MONTHLY, month, 1),
                                    previous(tables, VAS_MONTHLY, month, 3)))
        if "billing_monthly" in wanted:
            pub.add(BILLING_MONTHLY, billing.billing_monthly(raw.on("billing", end), month))
        if "recharge_monthly" in wanted:
            pub.add(RECHARGE_MONTHLY,
                    recharge.recharge_monthly(raw.between("recharges", first, last), raw.between("balances", first, last),
                                              month, ic["low_balance"],
                                              previous(tables, RECHARGE_MONTHLY, month, 1)))
        if "service_monthly" in wanted:
            pub.add(SERVICE_MONTHLY,
                    service.service_monthly(raw.between("service_contacts", first, last), month))
    return pub.results

"""Building unified.customer_view and unified.outcomes for one month."""
from __future__ import annotations

import math

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.intermediate.common import add_months, check_month
from inlife.publish import Publication
from inlife.session import input_bytes, shuffle_partitions_for
from inlife.tables import Tables
from inlife.unified import outcomes as outcomes_mod
from inlife.unified import view as view_mod
from inlife.unified.dictionary import dimensions, view_columns

PARTS = ["voice_monthly", "social_circle", "vas_monthly", "billing_monthly", "recharge_monthly",
         "service_monthly"]
VIEW = "unified.customer_view"
OUTCOMES = "unified.outcomes"


def _month_of(tables: Tables, name: str, month: str):
    if not tables.exists(name):
        return None
    df = tables.read(name, partitions={"month": month})
    return df if df.limit(1).count() else None


def build_view(spark: SparkSession, conf: Config, month: str) -> list:
    month = check_month(month)
    tables = Tables(spark, conf)
    subs = tables.read("intermediate.subscriber_monthly", partitions={"month": month})
    parts = {p: tables.read(f"intermediate.{p}", partitions={"month": month}) for p in PARTS}
    history = None
    if tables.exists(VIEW):
        history = tables.read(VIEW, partitions={"month": [add_months(month, -k) for k in range(1, 7)]})
    active = subs.where(F.col("status") != "CHURNED").count()
    df = view_mod.customer_view(subs, parts, history, month, dimensions()["m"], conf.get("view.lifecycle"),
                                view_columns())
    inputs = sum(input_bytes(f) for f in [subs, *parts.values()] + ([history] if history is not None else []))
    configured = int(spark.conf.get("spark.sql.shuffle.partitions"))
    # The view is ~220 columns wide: its rows in memory are ~10x its inputs' compressed bytes, so its row
    # count sets the partitions too (at 5M subscribers the bytes alone gave 9 partitions of ~1 GiB).
    by_rows = math.ceil(active / int(conf.get("view.subscribers_per_partition")))
    with shuffle_partitions_for(spark, inputs, int(conf.get("spark.input_bytes_per_shuffle_partition")),
                                at_least=by_rows) as n, \
            Publication(tables, conf, release=n > configured) as pub:
        pub.add(VIEW, df, parameters={"active_subscribers": active})
    return pub.results


def build_outcomes(spark: SparkSession, conf: Config, month: str) -> list:
    """Labels for ``month`` from whatever later months are built; rerun as later months arrive."""
    month = check_month(month)
    tables = Tables(spark, conf)
    view = tables.read(VIEW, partitions={"month": month})
    later = {k: _month_of(tables, "intermediate.subscriber_monthly", add_months(month, k)) for k in (1, 2)}
    df = outcomes_mod.outcomes(view, later, _month_of(tables, "intermediate.vas_monthly", add_months(month, 1)),
                               _month_of(tables, VIEW, add_months(month, 6)), dimensions()["p"],
                               conf.get("outcomes.engaged_min_minutes"), conf.get("outcomes.data_up_share"))
    with Publication(tables, conf) as pub:
        pub.add(OUTCOMES, df)
    return pub.results

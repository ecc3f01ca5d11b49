"""Building unified.customer_view and unified.outcomes for one month."""
from __future__ import annotations

import math

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.months import add_months, check_month
from inlife.publish import Publication
from inlife.session import input_bytes, shuffle_partitions_for
from inlife.tables import Tables
from inlife.tables.catalogue import (BILLING_MONTHLY, CUSTOMER_VIEW, OUTCOMES, RECHARGE_MONTHLY, SERVICE_MONTHLY,
                                     SOCIAL_CIRCLE, SUBSCRIBER_MONTHLY, VAS_MONTHLY, VOICE_MONTHLY)
from inlife.unified import outcomes as outcomes_mod
from inlife.unified import view as view_mod
from inlife.unified.dictionary import dimensions, view_columns

PARTS = [VOICE_MONTHLY, SOCIAL_CIRCLE, VAS_MONTHLY, BILLING_MONTHLY, RECHARGE_MONTHLY, SERVICE_MONTHLY]
# The outcomes of a month look ahead: churn 1 and 2 months on, the view 6 months on. So each new month
# completes the outcomes of the months that many before it.
CHURN_HORIZONS = (1, 2)
VIEW_HORIZON = 6
OUTCOME_HORIZONS = (*CHURN_HORIZONS, VIEW_HORIZON)


def _month_of(tables: Tables, name: str, month: str):
    if not tables.exists(name):
        return None
    df = tables.read(name, partitions={"month": month})
    return df if df.limit(1).count() else None


def build_view(spark: SparkSession, conf: Config, month: str) -> list:
    month = check_month(month)
    tables = Tables(spark, conf)
    subs = tables.read(SUBSCRIBER_MONTHLY, partitions={"month": month})
    parts = {p: tables.read(p, partitions={"month": month}) for p in PARTS}
    history = None
    if tables.exists(CUSTOMER_VIEW):
        history = tables.read(CUSTOMER_VIEW, partitions={"month": [add_months(month, -k) for k in range(1, 7)]})
    active = subs.where(F.col("status") != "CHURNED").count()
    df = view_mod.customer_view(subs, parts, history, month, dimensions()["m"], conf.get("view.lifecycle"),
                                view_columns())
    inputs = sum(input_bytes(f) for f in [subs, *parts.values()] + ([history] if history is not None else []))
    configured = int(spark.conf.get("spark.sql.shuffle.partitions"))
    # The view is ~220 columns wide: its rows in memory are ~10x its inputs' compressed bytes, so its row
    # count sets the partitions too (by bytes alone, a month of millions of subscribers gets partitions of
    # about a GiB each).
    by_rows = math.ceil(active / int(conf.get("view.subscribers_per_partition")))
    with shuffle_partitions_for(spark, inputs, int(conf.get("spark.input_bytes_per_shuffle_partition")),
                                at_least=by_rows) as n, \
            Publication(tables, conf, release=n > configured, batch=month) as pub:
        pub.add(CUSTOMER_VIEW, df, parameters={"active_subscribers": active})
    return pub.results


def build_outcomes(spark: SparkSession, conf: Config, month: str) -> list:
    """Labels for ``month`` from whatever later months are built; rerun as later months arrive."""
    month = check_month(month)
    tables = Tables(spark, conf)
    view = tables.read(CUSTOMER_VIEW, partitions={"month": month})
    later = {k: _month_of(tables, SUBSCRIBER_MONTHLY, add_months(month, k)) for k in CHURN_HORIZONS}
    df = outcomes_mod.outcomes(view, later, _month_of(tables, VAS_MONTHLY, add_months(month, 1)),
                               _month_of(tables, CUSTOMER_VIEW, add_months(month, VIEW_HORIZON)), dimensions()["p"],
                               conf.get("outcomes.engaged_min_minutes"), conf.get("outcomes.data_up_share"))
    with Publication(tables, conf, batch=month) as pub:
        pub.add(OUTCOMES, df)
    return pub.results


def build_view_and_outcomes(spark: SparkSession, conf: Config, month: str, outcomes: bool = True) -> list:
    """The month's view; then the outcomes of the earlier months this month completes, and its own."""
    results = list(build_view(spark, conf, month))
    if not outcomes:
        return results
    tables = Tables(spark, conf)
    for k in OUTCOME_HORIZONS:
        earlier = add_months(month, -k)
        if _month_of(tables, CUSTOMER_VIEW, earlier) is not None:
            results += build_outcomes(spark, conf, earlier)
    return results + build_outcomes(spark, conf, month)

"""marketing.work_orders and its events: orders from the contacted targets of the work-order channels, issued,
then moved by the timers of later batches; a rerun of a batch replaces its own events."""
from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from inlife.marketing import work_orders as wo
from inlife.marketing.lifecycle import load_lifecycle
from tests.marketing.frames import clock

TARGETS = ("batch string, batch_kind string, contact_date date, subscriber_id long, msisdn string, "
           "campaign_id string, channel string, rank int, policy_id string, policy_name string, "
           "reasons array<string>, contacted boolean, contact_id string")


@pytest.fixture
def lc(conf):
    return load_lifecycle(conf)


def _targets(spark, rows):
    return spark.createDataFrame(rows, TARGETS)


def at(text: str):
    """A moment on the operator's clock (the session's time zone), as the jobs compute them."""
    return F.lit(text).cast("timestamp")


def like(spark, df, rows):
    """Hand-written rows in ``clock(df)``'s schema."""
    return spark.createDataFrame(rows, clock(df).schema)


def _events(spark, rows):
    raw = spark.createDataFrame(rows, clock(spark.createDataFrame([], wo.EVENT_SCHEMA)).schema)
    return raw.withColumn("event_time", F.col("event_time").cast("timestamp")).select(*wo.EVENT_COLUMNS)


MARCH = [  # the monthly batch of March, worked in April
    ("2024-03", "monthly", date(2024, 4, 1), 1, "1381", "RET", "customer_manager", 1, "P1", "offer 1", ["r1"], True, "A"),
    ("2024-03", "monthly", date(2024, 4, 1), 2, "1382", "RET", "outbound_call", 1, "P1", "offer 1", ["r1"], True, "B"),
    ("2024-03", "monthly", date(2024, 4, 1), 3, "1383", "RET", "customer_manager", 2, "P2", "offer 2", [], False, "C"),
]
NIGHT = [  # the nightly batch of May 2, worked on May 3
    ("2024-05-02", "daily", date(2024, 5, 3), 4, "1384", "DAILY", "customer_manager", 1, None, None, ["t"], True, "D"),
]


def test_orders_are_the_contacted_targets_of_work_order_channels_due_at_the_end_of_their_window(spark, lc):
    got = wo.new_orders(_targets(spark, MARCH + NIGHT), lc)
    assert got.schema == wo.ORDER_SCHEMA
    assertDataFrameEqual(clock(got), like(spark, got, [
        # a monthly batch is worked through the month after it; a nightly one the next day
        ("A", "2024-03", 1, "1381", "RET", "customer_manager", 1, "P1", "offer 1", ["r1"], "2024-04-01 00:00",
         "2024-05-01 00:00"),
        ("D", "2024-05-02", 4, "1384", "DAILY", "customer_manager", 1, None, None, ["t"], "2024-05-03 00:00",
         "2024-05-04 00:00"),
    ]))


def test_a_later_batch_issues_its_orders_and_moves_the_overdue_ones(spark, lc):
    march = wo.new_orders(_targets(spark, MARCH), lc)
    first = wo.batch_events(march, march.limit(0), _events(spark, []), lc, "2024-03", at("2024-04-01 00:00"))
    assertDataFrameEqual(clock(first), like(spark, first, [
        ("2024-03", "A", "2024-04-01 00:00", None, "issued", None, None, None, None, None)]))

    # May 3: A fell due on May 1 and is 48 hours past it (conf/work_orders.yaml): it expires then
    night = wo.new_orders(_targets(spark, NIGHT), lc)
    second = wo.batch_events(night, march, first.drop("batch"), lc, "2024-05-02", at("2024-05-03 00:00"))
    assertDataFrameEqual(clock(second), like(spark, second, [
        ("2024-05-02", "D", "2024-05-03 00:00", None, "issued", None, None, None, None, None),
        ("2024-05-02", "A", "2024-05-03 00:00", "issued", "expired", None, None, None, "timer", None),
    ]))

    orders = clock(wo.current(march.unionByName(night), first.unionByName(second).drop("batch"))
                   .select("order_id", "status", "status_time"))
    assertDataFrameEqual(orders, like(spark, orders, [("A", "expired", "2024-05-03 00:00"),
                                                      ("D", "issued", "2024-05-03 00:00")]))


def test_refused_feedback_leaves_the_status_and_an_escalation_comes_at_the_due_time(spark, lc):
    night = wo.new_orders(_targets(spark, NIGHT), lc)
    events = _events(spark, [
        ("D", "2024-05-03 00:00", None, "issued", None, None, None, None, None),
        ("D", "2024-05-03 09:00", "issued", "retained", "s1", "RETAINED", None, None, "no move from issued to retained"),
    ])
    now = clock(wo.current(night, events).select("order_id", "status", "status_time"))
    assertDataFrameEqual(now, like(spark, now, [("D", "issued", "2024-05-03 00:00")]))
    # the next night, May 4 at 00:00, is D's due time: escalated to the owner's supervisor, not yet expired
    later = wo.batch_events(night.limit(0), night, events, lc, "2024-05-03", at("2024-05-04 00:00"))
    assertDataFrameEqual(clock(later), like(spark, later, [
        ("2024-05-03", "D", "2024-05-04 00:00", "issued", "escalated", None, None, None, "timer", None)]))

    # two nights on it expires; a rerun of the May 3 batch after that one still escalates it on May 4
    expiry = wo.batch_events(night.limit(0), night, events.unionByName(later.drop("batch")), lc, "2024-05-05",
                             at("2024-05-06 00:00"))
    assertDataFrameEqual(clock(expiry), like(spark, expiry, [
        ("2024-05-05", "D", "2024-05-06 00:00", "escalated", "expired", None, None, None, "timer", None)]))
    again = wo.batch_events(night.limit(0), night, events.unionByName(expiry.drop("batch")), lc, "2024-05-03",
                            at("2024-05-04 00:00"))
    assertDataFrameEqual(clock(again), clock(later))

"""A work order's life: feedback moves it along conf/work_orders.yaml, anything else is set aside with the reason."""
from __future__ import annotations

from datetime import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from inlife.errors import ConfigError
from inlife.marketing.lifecycle import MOVE_COLUMNS, apply_feedback, load_lifecycle, timers

ORDERS = "order_id string, status string, status_time timestamp, due_time timestamp"
FEEDBACK = "order_id string, staff_id string, event_time timestamp, result_code string, churn_reason string, note string"
MOVES = ("order_id string, staff_id string, event_time timestamp, result_code string, churn_reason string, "
         "note string, from_status string, status string, reason string")


@pytest.fixture
def lc(conf):
    return load_lifecycle(conf)


def _orders(spark):
    return spark.createDataFrame([
        ("O1", "issued", dt(2024, 4, 1, 9), dt(2024, 4, 2, 18)),
        ("O2", "accepted", dt(2024, 4, 1, 10), dt(2024, 4, 5, 18)),
        ("O3", "closed", dt(2024, 3, 20, 9), dt(2024, 3, 21, 18)),
        ("O4", "issued", dt(2024, 3, 29, 9), dt(2024, 3, 30, 8)),
        ("O5", "escalated", dt(2024, 3, 31, 12), dt(2024, 3, 31, 12)),
    ], ORDERS)


def test_feedback_moves_each_order_in_event_order_and_sets_aside_the_rest(spark, lc):
    feedback = spark.createDataFrame([
        ("O1", "s1", dt(2024, 4, 2, 11), "CONTACT", None, "reached him"),   # listed before its ACCEPT
        ("O1", "s1", dt(2024, 4, 2, 10), "ACCEPT", None, None),
        ("O1", "s1", dt(2024, 4, 2, 12), "LOST", None, None),
        ("O1", "s1", dt(2024, 4, 2, 12, 30), "LOST", "switched operator", "moving to a rival plan"),
        ("O1", "s1", dt(2024, 4, 2, 13), "XYZ", None, None),
        ("O2", "s2", dt(2024, 4, 2, 9), "RETAINED", None, None),
        ("O2", "s2", dt(2024, 4, 2, 9, 30), "ACCEPT", None, None),
        ("O2", "s2", dt(2024, 4, 1, 9), "CONTACT", None, None),
        ("O3", "s3", dt(2024, 4, 2, 9), "CONTACT", None, None),
        ("O9", "s9", dt(2024, 4, 2, 9), "ACCEPT", None, None),
    ], FEEDBACK)
    expected = spark.createDataFrame([
        ("O1", "s1", dt(2024, 4, 2, 10), "ACCEPT", None, None, "issued", "accepted", None),
        ("O1", "s1", dt(2024, 4, 2, 11), "CONTACT", None, "reached him", "accepted", "contacted", None),
        ("O1", "s1", dt(2024, 4, 2, 12), "LOST", None, None, "contacted", "lost", "no churn reason for lost"),
        ("O1", "s1", dt(2024, 4, 2, 12, 30), "LOST", "switched operator", "moving to a rival plan", "contacted",
         "lost", None),
        ("O1", "s1", dt(2024, 4, 2, 13), "XYZ", None, None, "lost", None, "unknown result code XYZ"),
        ("O2", "s2", dt(2024, 4, 1, 9), "CONTACT", None, None, "accepted", "contacted",
         "out of order: before the order became accepted"),
        ("O2", "s2", dt(2024, 4, 2, 9), "RETAINED", None, None, "accepted", "retained",
         "no move from accepted to retained"),
        ("O2", "s2", dt(2024, 4, 2, 9, 30), "ACCEPT", None, None, "accepted", "accepted",
         "repeated: the order is already accepted"),
        ("O3", "s3", dt(2024, 4, 2, 9), "CONTACT", None, None, "closed", "contacted",
         "late: the order is already closed"),
        ("O9", "s9", dt(2024, 4, 2, 9), "ACCEPT", None, None, None, "accepted", "unknown order"),
    ], MOVES)
    got = apply_feedback(_orders(spark), feedback, lc)
    assert got.columns == MOVE_COLUMNS
    assertDataFrameEqual(got, expected)


def test_timers_escalate_then_expire_open_orders(spark, lc):
    now = F.lit(dt(2024, 4, 3)).cast("timestamp")     # escalate at the due time, expire 48 hours after it
    expected = spark.createDataFrame([
        ("O1", None, dt(2024, 4, 2, 18), None, None, "timer", "issued", "escalated", None),
        ("O4", None, dt(2024, 4, 1, 8), None, None, "timer", "issued", "expired", None),
        ("O5", None, dt(2024, 4, 2, 12), None, None, "timer", "escalated", "expired", None),
    ], MOVES)
    assertDataFrameEqual(timers(_orders(spark), now, lc), expected)


def test_a_lifecycle_naming_unknown_statuses_is_refused(conf, tmp_path):
    bad = tmp_path / "conf"
    bad.mkdir()
    (bad / "work_orders.yaml").write_text(
        "channels: [customer_manager]\nresults: {ACCEPT: acepted}\nmoves: {issued: [accepted, escalated, expired], escalated: [expired]}\n"
        "expire_after_hours: 1\nescalate_after_hours: 2\n", encoding="utf-8")
    conf = conf.with_overrides({"campaigns.work_orders_file": str(bad / "work_orders.yaml")})
    with pytest.raises(ConfigError, match=r"work_orders\.yaml: .*results: status\(es\) acepted appear in no move"):
        load_lifecycle(conf)

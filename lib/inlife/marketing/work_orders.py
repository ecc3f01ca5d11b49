"""marketing.work_orders and marketing.work_order_events: the orders a batch gives staff (the contacted
targets of a work-order channel, ``channels`` in conf/work_orders.yaml), each with its status, and every
change of status.

    events = batch_events(new_orders, earlier_orders, earlier_events, lc, batch, now)
    orders = current(all_orders, all_events)

A batch's run writes its own partition of the events: the orders it issues, then the moves its timers make by
``now`` (an order nobody finished is escalated, then expires: ``inlife.marketing.lifecycle``), replayed against
the state the other batches' events had left by then. So a rerun of a batch replaces its events with the
same ones (a rerun that finds no event at all commits nothing and leaves the old partition: runs are
deterministic, so it had none either). Time moves orders only when a batch runs: timers are part of the
batches, with the moment each move fell due.
``marketing.work_orders`` is the state every event so far leaves each order in, one row per order.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, LongType, StringType, StructField, StructType, TimestampType

from inlife.marketing.lifecycle import ISSUED, Lifecycle, timers

_S, _T = StringType(), TimestampType()
EVENT_SCHEMA = StructType([StructField("order_id", _S), StructField("event_time", _T),
                           StructField("from_status", _S), StructField("status", _S), StructField("staff_id", _S),
                           StructField("result_code", _S), StructField("churn_reason", _S), StructField("note", _S),
                           StructField("reason", _S)])      # why feedback moved nothing (null: it moved the order)
ORDER_SCHEMA = StructType([StructField("order_id", _S), StructField("batch", _S),
                           StructField("subscriber_id", LongType()), StructField("msisdn", _S),
                           StructField("campaign_id", _S), StructField("channel", _S),
                           StructField("priority", IntegerType()), StructField("policy_id", _S),
                           StructField("policy_name", _S), StructField("reasons", ArrayType(_S)),
                           StructField("issued_time", _T), StructField("due_time", _T)])
EVENT_COLUMNS = EVENT_SCHEMA.fieldNames()
ORDER_COLUMNS = ORDER_SCHEMA.fieldNames()


def due_time(batch_kind: Column, contact_date: Column) -> Column:
    """When an order falls due: the end of the window its batch is worked in (a monthly batch: its month;
    a nightly batch: its day)."""
    last = F.when(batch_kind == "monthly", F.last_day(contact_date)).otherwise(contact_date)
    return F.date_add(last, 1).cast("timestamp")


def new_orders(targets: DataFrame, lc: Lifecycle) -> DataFrame:
    """The orders of a batch: its contacted targets on the work-order channels."""
    return (targets.where(F.col("contacted") & F.col("channel").isin(*lc.channels))
            .select(F.col("contact_id").alias("order_id"), "batch", "subscriber_id", "msisdn", "campaign_id",
                    "channel", F.col("rank").alias("priority"), "policy_id", "policy_name", "reasons",
                    F.col("contact_date").cast("timestamp").alias("issued_time"),
                    due_time(F.col("batch_kind"), F.col("contact_date")).alias("due_time")))


def issued(orders: DataFrame) -> DataFrame:
    """The event that starts each order."""
    none = F.lit(None).cast("string")
    return orders.select("order_id", F.col("issued_time").alias("event_time"), none.alias("from_status"),
                         F.lit(ISSUED).alias("status"), none.alias("staff_id"), none.alias("result_code"),
                         none.alias("churn_reason"), none.alias("note"), none.alias("reason"))


def current(orders: DataFrame, events: DataFrame) -> DataFrame:
    """Each order with the status its last applied event left it in (refused feedback changes nothing)."""
    last = (events.where(F.col("reason").isNull()).groupBy("order_id")
            .agg(F.max_by(F.struct("status", "event_time"), "event_time").alias("_last")))
    return (orders.join(last, "order_id", "left")
            .select(*ORDER_COLUMNS, F.coalesce(F.col("_last.status"), F.lit(ISSUED)).alias("status"),
                    F.coalesce(F.col("_last.event_time"), F.col("issued_time")).alias("status_time")))


def batch_events(new: DataFrame, earlier_orders: DataFrame, earlier_events: DataFrame, lc: Lifecycle,
                 batch: str, now: Column) -> DataFrame:
    """The batch's partition of marketing.work_order_events: ``new`` orders issued, then the timer moves due
    by ``now`` of every order, in the state the other batches' events up to ``now`` left it (so a rerun of an
    older batch after newer ones makes the moves it made the first time)."""
    happened = earlier_events.where(F.col("event_time") <= now).select(*EVENT_COLUMNS)
    state = current(earlier_orders.select(*ORDER_COLUMNS).unionByName(new.select(*ORDER_COLUMNS)),
                    happened.unionByName(issued(new)))
    return (issued(new).unionByName(timers(state, now, lc).select(*EVENT_COLUMNS))
            .select(F.lit(batch).alias("batch"), *EVENT_COLUMNS))

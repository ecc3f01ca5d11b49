"""The life of a work order: feedback and timers move it from status to status (conf/work_orders.yaml).

    lc = load_lifecycle(conf)
    moved = apply_feedback(orders, feedback, lc)     # every feedback row: its move, or why it makes none
    timed = timers(orders, now, lc)                  # escalations and expiries due by ``now``

``orders`` holds each order's current state: ``order_id``, ``status``, ``status_time`` (when it took that
status) and ``due_time``. Feedback rows are applied per order in the order of their event times, each
against the status the previous one left, so a night's ``ACCEPT`` then ``CONTACT`` then ``RETAINED`` moves an
order three times, while a ``RETAINED`` for an order nobody has contacted yet is set aside naming the move it
asked for. Everything is Spark columns: the walk through one order's feedback is an ``aggregate`` over its
sorted rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, model_validator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.yamlschema import Schema, read

ISSUED, ESCALATED, EXPIRED = "issued", "escalated", "expired"
FEEDBACK_COLUMNS = ["order_id", "staff_id", "event_time", "result_code", "churn_reason", "note"]
MOVE_COLUMNS = [*FEEDBACK_COLUMNS, "from_status", "status", "reason"]


class _File(Schema):
    channels: list[str] = Field(min_length=1)
    results: dict[str, str]
    moves: dict[str, list[str]]
    needs_churn_reason: list[str] = []
    escalate_after_hours: float = Field(0, ge=0)
    expire_after_hours: float = Field(48, ge=0)

    @model_validator(mode="after")
    def _statuses_known(self) -> _File:
        known = set(self.moves) | {s for to in self.moves.values() for s in to}
        for where, names in (("results", self.results.values()), ("needs_churn_reason", self.needs_churn_reason)):
            unknown = sorted(set(names) - known)
            if unknown:
                raise ValueError(f"{where}: status(es) {', '.join(unknown)} appear in no move")
        for needed in (ISSUED, ESCALATED, EXPIRED):
            if needed not in known:
                raise ValueError(f"moves: the status '{needed}' must be in them (orders start issued; timers "
                                 f"escalate and expire them)")
        if self.expire_after_hours < self.escalate_after_hours:
            raise ValueError("expire_after_hours is before escalate_after_hours")
        return self


@dataclass(frozen=True)
class Lifecycle:
    channels: tuple[str, ...]
    results: dict[str, str]
    moves: dict[str, tuple[str, ...]]
    needs_churn_reason: tuple[str, ...]
    escalate_after_hours: float
    expire_after_hours: float

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.moves) | {s for to in self.moves.values() for s in to}))

    @property
    def final(self) -> tuple[str, ...]:
        """Statuses with no move out."""
        return tuple(s for s in self.statuses if not self.moves.get(s))

    def suite_parameters(self) -> dict[str, list[str]]:
        """The values the work-order suites check against (expectations/marketing/work_order*.json)."""
        return {"statuses": list(self.statuses), "channels": list(self.channels)}


def load_lifecycle(conf: Config) -> Lifecycle:
    path = Path(conf.conf_dir) / conf.get("campaigns.work_orders_file")
    doc = read(_File, path, "work-order lifecycle")
    return Lifecycle(tuple(doc.channels), dict(doc.results), {k: tuple(v) for k, v in doc.moves.items()},
                     tuple(doc.needs_churn_reason),
                     float(doc.escalate_after_hours), float(doc.expire_after_hours))


def _strings(values) -> Column:
    return F.array(*[F.lit(v) for v in sorted(values)]) if values else F.array().cast("array<string>")


def _move(a: Column, b: Column) -> Column:
    return F.concat_ws(">", a, b)


def _allowed(lc: Lifecycle) -> Column:
    return _strings({f"{a}>{b}" for a, to in lc.moves.items() for b in to})


def refusal(lc: Lifecycle, current: Column, since: Column, e: Column) -> Column:
    """Why feedback ``e`` cannot move an order that is in ``current`` since ``since`` (null: it can)."""
    return (F.when(e["status"].isNull(), F.concat(F.lit("unknown result code "), F.coalesce(e["result_code"], F.lit("(none)"))))
            .when(F.array_contains(_strings(lc.final), current),
                  F.concat(F.lit("late: the order is already "), current))
            .when(e["event_time"] < since, F.concat(F.lit("out of order: before the order became "), current))
            .when(~F.array_contains(_allowed(lc), _move(current, e["status"])),
                  F.when(current == e["status"], F.concat(F.lit("repeated: the order is already "), current))
                  .otherwise(F.concat(F.lit("no move from "), current, F.lit(" to "), e["status"])))
            .when(F.array_contains(_strings(lc.needs_churn_reason), e["status"])
                  & (F.trim(F.coalesce(e["churn_reason"], F.lit(""))) == ""),
                  F.concat(F.lit("no churn reason for "), e["status"])))


def apply_feedback(orders: DataFrame, feedback: DataFrame, lc: Lifecycle) -> DataFrame:
    """Every feedback row with the status it came from and moved to, or the ``reason`` it moved nothing
    (then ``status`` is the one it asked for). Rows of unknown orders are refused as such."""
    fb = feedback.select(*FEEDBACK_COLUMNS).withColumn(
        "status", F.element_at(F.create_map(*[F.lit(x) for kv in sorted(lc.results.items()) for x in kv]),
                               F.col("result_code")))
    known = fb.join(orders.select("order_id", F.lit(True).alias("_known")), "order_id", "left")
    unknown = known.where(F.col("_known").isNull()).select(
        *FEEDBACK_COLUMNS, F.lit(None).cast("string").alias("from_status"), "status",
        F.lit("unknown order").alias("reason"))
    walked = (known.where(F.col("_known")).groupBy("order_id")
              .agg(F.sort_array(F.collect_list(F.struct("event_time", *[c for c in fb.columns if c != "event_time"])))
                   .alias("_events"))
              .join(orders.select("order_id", "status", "status_time"), "order_id"))
    start = F.struct(F.col("status").alias("status"), F.col("status_time").alias("since"),
                     F.array().cast(f"array<{_move_type(fb)}>").alias("out"))

    def step(acc: Column, e: Column) -> Column:
        reason = refusal(lc, acc["status"], acc["since"], e)
        ok = reason.isNull()
        row = F.struct(*[e[c].alias(c) for c in FEEDBACK_COLUMNS], acc["status"].alias("from_status"),
                       e["status"].alias("status"), reason.alias("reason"))
        return F.struct(F.when(ok, e["status"]).otherwise(acc["status"]).alias("status"),
                        F.when(ok, e["event_time"]).otherwise(acc["since"]).alias("since"),
                        F.concat(acc["out"], F.array(row)).alias("out"))

    moves = (walked.select(F.explode(F.aggregate("_events", start, step)["out"]).alias("m"))
             .select(*[F.col(f"m.{c}").alias(c) for c in MOVE_COLUMNS]))
    return moves.unionByName(unknown).select(*MOVE_COLUMNS)


def _move_type(fb: DataFrame) -> str:
    types = dict(fb.dtypes)
    fields = [f"{c}: {types[c]}" for c in FEEDBACK_COLUMNS] + ["from_status: string", "status: string",
                                                                 "reason: string"]
    return "struct<" + ", ".join(fields) + ">"


def timers(orders: DataFrame, now: Column, lc: Lifecycle) -> DataFrame:
    """The moves time makes by ``now``: an open order past its due time by ``escalate_after_hours`` is
    escalated, by ``expire_after_hours`` expired (whichever is the later due; at the moment it fell due)."""
    def due(hours: float) -> Column:
        return F.col("due_time") + F.make_interval(secs=F.lit(hours * 3600.0))

    allowed = _allowed(lc)
    to = (F.when((due(lc.expire_after_hours) <= now)
                 & F.array_contains(allowed, _move(F.col("status"), F.lit(EXPIRED))), F.lit(EXPIRED))
          .when((due(lc.escalate_after_hours) <= now)
                & F.array_contains(allowed, _move(F.col("status"), F.lit(ESCALATED))), F.lit(ESCALATED)))
    # never dated before the status it leaves: the order's latest event is always its current status
    at = F.greatest(F.when(to == EXPIRED, due(lc.expire_after_hours)).otherwise(due(lc.escalate_after_hours)),
                    F.col("status_time"))
    return (orders.where(to.isNotNull())
            .select("order_id", F.lit(None).cast("string").alias("staff_id"), at.alias("event_time"),
                    F.lit(None).cast("string").alias("result_code"), F.lit(None).cast("string").alias("churn_reason"),
                    F.lit("timer").alias("note"), F.col("status").alias("from_status"), to.alias("status"),
                    F.lit(None).cast("string").alias("reason")))

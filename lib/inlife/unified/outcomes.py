"""unified.outcomes: training labels per subscriber-month, built from later months' data.

Kept apart from the view so that nothing after month M ever enters the view for M. A label is null while
its horizon is not yet available (the later month has not been built), never a guessed 0.

- churned_next_1m / churned_next_2m: the subscriber's status turned CHURNED within the next 1 / 2 months
  (abnormal change, 异动);
- active_engaged_6m: still not churned six months later and using the service (stickiness, 粘性);
- took_<product>_next_1m: ordered the product next month while not subscribed this month (response);
- <product>_silent_to_active_next_1m: subscribed but silent this month, used it next month;
- data_up_next_1m: mobile data volume next month above this month's by the configured share (fluctuation).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def outcome_columns(products: Sequence[str]) -> list[str]:
    cols = ["churned_next_1m", "churned_next_2m", "active_engaged_6m"]
    cols += [f"took_{p.lower()}_next_1m" for p in products]
    cols += [f"{p.lower()}_silent_to_active_next_1m" for p in products]
    return cols + ["data_up_next_1m"]


def outcomes(view: DataFrame, later_subscribers: Mapping[int, DataFrame | None], next_vas: DataFrame | None,
             view_6: DataFrame | None, products: Sequence[str], engaged_min_minutes: float,
             data_up_share: float) -> DataFrame:
    """Labels for the subscribers of ``view`` (the month's customer view).

    later_subscribers[k]: intermediate.subscriber_monthly of month+k (k = 1, 2), None if not built yet;
    next_vas: intermediate.vas_monthly of month+1; view_6: the customer view of month+6 (or None)."""
    base = view.select("subscriber_id", "month",
                       *[F.col(f"vas_{p.lower()}_subscribed").alias(f"_sub_{p.lower()}") for p in products],
                       *[F.col(f"vas_{p.lower()}_silent").alias(f"_silent_{p.lower()}") for p in products],
                       F.col("data_volume_mb").alias("_data_now"))

    def churned_by(k: int) -> DataFrame | None:
        frames = [later_subscribers.get(i) for i in range(1, k + 1)]
        if any(f is None for f in frames):
            return None
        out = None
        for i, f in enumerate(frames, start=1):
            c = f.select("subscriber_id", (F.col("status") == "CHURNED").cast("int").alias(f"_c{i}"))
            out = c if out is None else out.join(c, "subscriber_id", "full")
        flags = [F.coalesce(F.col(f"_c{i}"), F.lit(0)) for i in range(1, k + 1)]
        return out.select("subscriber_id", (F.greatest(*flags) if k > 1 else flags[0]).alias(f"_churn{k}"))

    labels = base
    for k in (1, 2):
        c = churned_by(k)
        if c is None:
            labels = labels.withColumn(f"churned_next_{k}m", F.lit(None).cast("int"))
        else:
            # absent from every later month's subscriber rows: gone without a churn record, counted as churned
            labels = (labels.join(c, "subscriber_id", "left")
                      .withColumn(f"churned_next_{k}m", F.coalesce(F.col(f"_churn{k}"), F.lit(1)).cast("int"))
                      .drop(f"_churn{k}"))

    if view_6 is None:
        labels = labels.withColumn("active_engaged_6m", F.lit(None).cast("int"))
    else:
        # in the view six months on (not churned) and still calling
        v6 = view_6.select("subscriber_id", F.col("voice_total_min").alias("_min6"))
        labels = (labels.join(v6, "subscriber_id", "left")
                  .withColumn("active_engaged_6m",
                              (F.coalesce(F.col("_min6"), F.lit(-1.0)) >= engaged_min_minutes).cast("int"))
                  .drop("_min6"))

    nxt = next_vas
    if nxt is None:
        for p in products:
            labels = (labels.withColumn(f"took_{p.lower()}_next_1m", F.lit(None).cast("int"))
                      .withColumn(f"{p.lower()}_silent_to_active_next_1m", F.lit(None).cast("int")))
        labels = labels.withColumn("data_up_next_1m", F.lit(None).cast("int"))
    else:
        n = nxt.select("subscriber_id",
                       *[F.col(f"vas_{p.lower()}_ordered").alias(f"_ord_{p.lower()}") for p in products],
                       *[F.col(f"vas_{p.lower()}_events").alias(f"_ev_{p.lower()}") for p in products],
                       F.col("data_volume_mb").alias("_data_next"))
        labels = labels.join(n, "subscriber_id", "left")
        for p in products:
            k = p.lower()
            labels = (labels
                      .withColumn(f"took_{k}_next_1m",
                                  ((F.col(f"_sub_{k}") == 0) & (F.coalesce(F.col(f"_ord_{k}"), F.lit(0)) == 1)).cast("int"))
                      .withColumn(f"{k}_silent_to_active_next_1m",
                                  F.when(F.col(f"_silent_{k}") == 1,
                                         (F.coalesce(F.col(f"_ev_{k}"), F.lit(0)) > 0).cast("int"))))
        labels = labels.withColumn(
            "data_up_next_1m",
            (F.coalesce(F.col("_data_next"), F.lit(0.0)) > F.col("_data_now") * (1 + data_up_share) + 1.0).cast("int"))
    return labels.select("subscriber_id", "month", *outcome_columns(products))

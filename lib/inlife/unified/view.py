"""unified.customer_view: one row per active subscriber-month, the factor library (用户统一客户视图).

The month's intermediate summaries joined on the subscriber, plus windows over the previous 3 and 6
months of the view itself (averages, month-over-month change, trend, ratio to the recent past), derived
ratios, and the lifecycle stage. Only the month and earlier months are read, so the view for month M
never sees anything after M (point-in-time correct).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import safe_div
from inlife.months import add_months

KEYS = ["subscriber_id", "month"]

# Factors that are ratios, levels or dates: an absent source row leaves them unknown (null), not zero.
NOT_ZERO_FILLED = {
    "voice_peak_share", "voice_late_share", "voice_avg_call_min", "ld_unit_price", "top_ld_province", "top_ld_province_share",
    "circle_depth_hhi", "circle_top_peer_share", "vpn_depth_hhi", "onnet_peer_share", "peers_churned_3m_share",
    "influence_pagerank", "return_rate", "data_fluctuation", "month_end_balance", "min_balance",
    "avg_balance", "days_since_recharge", "last_recharge_date",
}
WINDOW_SUFFIXES = ["avg3", "avg6", "mom", "trend6", "vs_avg3"]


def window_columns(metrics: Sequence[str]) -> list[str]:
    return [f"{m}_{s}" for m in metrics for s in WINDOW_SUFFIXES]


def join_month(subscribers: DataFrame, parts: Mapping[str, DataFrame]) -> DataFrame:
    """Active subscribers (not churned at the month's end) left-joined with each intermediate table.

    Counts and amounts absent from a table are zero (no calls is 0 minutes); ratios stay null."""
    view = subscribers.where(F.col("status") != "CHURNED").drop("churned_in_month")
    for df in parts.values():
        cols = [c for c in df.columns if c not in KEYS]
        view = view.join(df.select("subscriber_id", *cols), "subscriber_id", "left")
        fill = {c: 0 for c, t in df.select(*cols).dtypes
                if c not in NOT_ZERO_FILLED and not c.endswith("_fluctuation")
                and t in ("int", "bigint", "double", "float", "smallint")}
        if fill:
            view = view.fillna(fill)
    return view


# The factors' names carry these numbers: prepaid_no_recharge_30d, bundle_ends_within_2m.
NO_RECHARGE_DAYS = 30
BUNDLE_ENDING_MONTHS = 2


def balance_to_arpu() -> Column:
    return safe_div(F.col("month_end_balance"), F.col("arpu"))


def prepaid_no_recharge() -> Column:
    """A prepaid subscriber with no recharge for more than NO_RECHARGE_DAYS days (or never)."""
    days = F.col("days_since_recharge")
    return ((F.col("prepaid_flag") == 1) & (days.isNull() | (days > NO_RECHARGE_DAYS))).cast("int")


def bundle_ends_soon() -> Column:
    return ((F.col("has_bundle") == 1) & (F.col("bundle_months_left") <= BUNDLE_ENDING_MONTHS)).cast("int")


def complained_unresolved() -> Column:
    return (F.col("complaints_unresolved") > 0).cast("int")


def with_derived(view: DataFrame, lifecycle: Mapping) -> DataFrame:
    """Factors computed from other factors of the same month (the nightly run recomputes the fast-moving
    ones with the same helpers: inlife.marketing.nightly)."""
    return (view
            .withColumn("arpm", safe_div(F.col("arpu"), F.col("voice_total_min")))
            .withColumn("balance_to_arpu", balance_to_arpu())
            .withColumn("prepaid_no_recharge_30d", prepaid_no_recharge())
            .withColumn("bundle_ends_within_2m", bundle_ends_soon())
            .withColumn("complained_unresolved", complained_unresolved())
            .withColumn("competitor_calls_rising",
                        (F.col("competitor_service_calls") > F.coalesce(F.col("competitor_service_calls_avg3"),
                                                                         F.lit(0.0)) + 0.5).cast("int"))
            .withColumn("lifecycle_stage", lifecycle_stage(lifecycle)))


def lifecycle_stage(rule: Mapping) -> F.Column:
    """Entry (young tenure), decline (ARPU or minutes well below the recent past), growth (ARPU well above),
    else stable. Thresholds from config ``view.lifecycle``."""
    arpu_ratio = F.col("arpu_vs_avg3")
    mou_ratio = F.col("voice_total_min_vs_avg3")
    return (F.when(F.col("tenure_months") < rule["entry_tenure_months"], "entry")
            .when((arpu_ratio < rule["decline_ratio"]) | (mou_ratio < rule["decline_ratio"]), "decline")
            .when(arpu_ratio > rule["growth_ratio"], "growth")
            .otherwise("stable"))


def with_windows(current: DataFrame, history: DataFrame | None, month: str, metrics: Sequence[str]) -> DataFrame:
    """Per metric: average of the previous 3 and 6 months, change against last month, slope over the last 6
    months (this one included, per month), and this month against the previous-3 average.

    history: earlier months of the view (at least the metric columns); absent months simply don't count.

    Only ``history`` is aggregated: the slope's sums are taken over the previous 5 months and this month's
    point (at t = 0) is added to them afterwards, so ``current`` (the month's wide join) is computed once.
    Grouping a union of both makes Spark compute the join twice (at millions of subscribers, enough to run
    the driver out of heap).
    """
    metrics = list(metrics)
    if history is None:
        return current.select("*", *[F.lit(None).cast("double").alias(c) for c in window_columns(metrics)])
    offsets = F.create_map(*[x for k in range(1, 7) for x in (F.lit(add_months(month, -k)), F.lit(k))])
    hist = (history.where(F.col("month").isin(*[add_months(month, -k) for k in range(1, 7)]))
            .select("subscriber_id", *[F.col(m).cast("double") for m in metrics],
                    offsets[F.col("month")].cast("double").alias("_off")))
    off = F.col("_off")
    aggs = []
    for m in metrics:
        x = F.col(m)
        in5 = (off <= 5) & x.isNotNull()     # the slope's points: t = -off, y = x
        aggs += [F.avg(F.when(off <= 3, x)).alias(f"{m}_avg3"),
                 F.avg(x).alias(f"{m}_avg6"),
                 F.max(F.when(off == 1, x)).alias(f"_{m}_last"),
                 F.count(F.when(in5, x)).alias(f"_{m}_n"),
                 F.sum(F.when(in5, -off)).alias(f"_{m}_st"),
                 F.sum(F.when(in5, x)).alias(f"_{m}_sy"),
                 F.sum(F.when(in5, -off * x)).alias(f"_{m}_sty"),
                 F.sum(F.when(in5, off * off)).alias(f"_{m}_stt")]
    w = hist.groupBy("subscriber_id").agg(*aggs)
    out = current.join(w, "subscriber_id", "left")
    derived = []
    for m in metrics:
        now = F.col(m).cast("double")
        z = lambda c: F.coalesce(F.col(f"_{m}_{c}"), F.lit(0.0))   # noqa: E731 - no earlier point: empty sums
        # this month's point has t = 0: it adds to n and to the sum of y only
        n = z("n") + now.isNotNull().cast("double")
        sy = z("sy") + F.coalesce(now, F.lit(0.0))
        # least squares: slope = (n·Σty − Σt·Σy) / (n·Σt² − (Σt)²), unknown with fewer than two points
        slope = safe_div(n * z("sty") - z("st") * sy, n * z("stt") - z("st") * z("st"))
        derived += [slope.alias(f"{m}_trend6"),
                    safe_div(now - F.col(f"_{m}_last"), F.abs(F.col(f"_{m}_last"))).alias(f"{m}_mom"),
                    safe_div(now, F.col(f"{m}_avg3")).alias(f"{m}_vs_avg3")]
    hidden = [f"_{m}_{c}" for m in metrics for c in ("last", "n", "st", "sy", "sty", "stt")]
    return out.select("*", *derived).drop(*hidden)


def customer_view(subscribers: DataFrame, parts: Mapping[str, DataFrame], history: DataFrame | None,
                  month: str, window_metrics: Sequence[str], lifecycle: Mapping,
                  columns: Sequence[str]) -> DataFrame:
    """The view for ``month``; ``columns`` is the data dictionary's order (the table's schema)."""
    joined = join_month(subscribers, parts)
    windowed = with_windows(joined, history, month, window_metrics)
    return with_derived(windowed, lifecycle).select(*columns)

"""When events happen: streams of events with strictly increasing times, and the weekly/daily rhythm.

A *stream* is one subscriber's events of one kind (calls to one peer in one direction, SMS sent, recharges
...). Its n events are spread over the subscriber's window by stratification — event k falls in the k-th
n-th of the window, rotated by a random phase of the stream — so times within a stream never collide (no
accidental duplicate natural keys) while still looking random. The phase matters: without it every
stream's events sit in the first 80 % of each n-th, and the last days of a month (most streams have one
to three events) would get a fraction of the others' records. Times are seconds from the start of the
month.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Month, Params
from inlife.generator.rand import pick, uniform

DAY = 86400
EPOCH = dt.date(1970, 1, 1)


def month_epoch(month: Month) -> int:
    """Local wall-clock seconds of the month's first midnight since 1970-01-01 (timezone-free)."""
    return (month.start - EPOCH).days * DAY


def explode_stream(df: DataFrame, p: Params, salt: str, keys: list[Column], n: str, start: Column, end: Column,
                   t_name: str = "t") -> DataFrame:
    """One row per event of each stream: ``n`` events between ``start`` and ``end`` (seconds, end exclusive).

    Adds ``_k`` (event number) and ``t_name``. Events are at least 0.2 * window / n apart.
    """
    out = df.filter(F.col(n) > 0).select("*", F.explode(F.sequence(F.lit(0), F.col(n) - 1)).alias("_k"))
    v = uniform(p.seed, salt, *keys, F.col("_k"))
    phase = uniform(p.seed, salt + "-phase", *keys)
    width = (end - start).cast("double")
    pos = (F.col("_k") + 0.8 * v) / F.col(n) + phase
    t = start + F.floor((pos - F.floor(pos)) * width).cast("long")
    return out.select("*", t.alias(t_name))


def rhythm_weight(month: Month, t: Column, profile: Column) -> Column:
    """Relative activity at time t (weekday profile x hour of day), at most 1: used to thin events."""
    first_dow = month.start.weekday()  # Monday = 0
    dow = ((t / DAY).cast("int") + first_dow) % 7
    hour = ((t % DAY) / 3600).cast("int")
    flat = [w for prof in R.WEEKDAY_WEIGHTS for w in prof]
    return pick(flat, profile * 7 + dow) * pick(R.HOUR_WEIGHTS, hour)


def mean_rhythm(profile: int) -> float:
    """Average acceptance of the thinning for a weekday profile (to scale rates up before thinning)."""
    return (sum(R.WEEKDAY_WEIGHTS[profile]) / 7) * (sum(R.HOUR_WEIGHTS) / 24)

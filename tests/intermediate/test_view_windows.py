"""Windows over earlier months and the lifecycle rule, on hand-built frames."""
from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.unified.view import lifecycle_stage, with_windows


def test_windows_by_hand(spark):
    current = spark.createDataFrame([(1, "2024-07", 60.0), (2, "2024-07", 10.0), (4, "2024-07", None),
                                     (5, "2024-07", 50.0)],
                                    "subscriber_id long, month string, arpu double")
    history = spark.createDataFrame(
        [(1, m, v) for m, v in [("2024-06", 100.0), ("2024-05", 80.0), ("2024-04", 60.0), ("2024-03", 40.0),
                                ("2024-02", 20.0), ("2023-12", 999.0)]]        # 7 months back: ignored
        + [(3, "2024-06", 5.0)]                                              # not in the current month
        + [(4, "2024-06", 30.0), (4, "2024-05", None), (4, "2024-04", 10.0)]   # unknown months don't count
        + [(5, "2024-06", None)],
        "subscriber_id long, month string, arpu double")
    got = with_windows(current, history, "2024-07", ["arpu"])
    # sub 1: avg3 (100+80+60)/3 = 80; avg6 over the 5 months present = 60; mom (60-100)/100 = -0.4;
    # slope over (0,60) (-1,100) (-2,80) (-3,60) (-4,40) (-5,20): Sxy 200 / Sxx 17.5; 60/80 = 0.75
    expected = spark.createDataFrame(
        [(1, "2024-07", 60.0, 80.0, 60.0, 200 / 17.5, -0.4, 0.75),
         (2, "2024-07", 10.0, None, None, None, None, None),
         # sub 4: avg (30+10)/2; no value this month, so the slope is over (-1,30) (-3,10): 20/2 = 10
         (4, "2024-07", None, 20.0, 20.0, 10.0, None, None),
         # sub 5: one known point (this month) makes no slope
         (5, "2024-07", 50.0, None, None, None, None, None)],
        "subscriber_id long, month string, arpu double, arpu_avg3 double, arpu_avg6 double, "
        "arpu_trend6 double, arpu_mom double, arpu_vs_avg3 double")
    assertDataFrameEqual(got.select(*expected.columns), expected)


def test_windows_compute_the_month_once(spark):
    """The month's frame (in the view, a join of seven tables) is read once: only history is aggregated.
    Each of its rows passes a counting filter, so a second computation would count them twice."""
    from pyspark.sql import functions as F

    seen = spark.sparkContext.accumulator(0)

    def count_row(_):
        seen.add(1)
        return True

    counting = F.udf(count_row, "boolean").asNondeterministic()
    current = spark.createDataFrame([(i, "2024-07", float(i)) for i in range(1, 5)],
                                    "subscriber_id long, month string, arpu double")
    history = spark.createDataFrame([(i, "2024-06", 2.0 * i) for i in range(1, 5)],
                                    "subscriber_id long, month string, arpu double")
    got = with_windows(current.where(counting("subscriber_id")), history, "2024-07", ["arpu"]).collect()
    assert sorted((r.subscriber_id, r.arpu_mom) for r in got) == [(i, -0.5) for i in range(1, 5)]
    assert seen.value == 4


def test_windows_without_history(spark):
    current = spark.createDataFrame([(1, "2024-07", 60.0)], "subscriber_id long, month string, arpu double")
    row = with_windows(current, None, "2024-07", ["arpu"]).first().asDict()
    assert {k: row[k] for k in ("arpu_avg3", "arpu_avg6", "arpu_mom", "arpu_trend6", "arpu_vs_avg3")} == \
        {"arpu_avg3": None, "arpu_avg6": None, "arpu_mom": None, "arpu_trend6": None, "arpu_vs_avg3": None}


@pytest.mark.parametrize("tenure, arpu_ratio, mou_ratio, stage", [
    (3, 2.0, 2.0, "entry"),        # young tenure wins over everything
    (24, 0.5, 1.0, "decline"),     # ARPU fell below 0.7 of its recent average
    (24, 1.0, 0.6, "decline"),     # minutes fell
    (24, 1.5, 1.0, "growth"),
    (24, 1.0, 1.0, "stable"),
    (24, None, None, "stable"),    # no history yet: nothing says otherwise
])
def test_lifecycle_stage(spark, tenure, arpu_ratio, mou_ratio, stage):
    df = spark.createDataFrame([(tenure, arpu_ratio, mou_ratio)],
                               "tenure_months int, arpu_vs_avg3 double, voice_total_min_vs_avg3 double")
    rule = {"entry_tenure_months": 6, "decline_ratio": 0.7, "growth_ratio": 1.2}
    assert df.select(lifecycle_stage(rule).alias("s")).first().s == stage

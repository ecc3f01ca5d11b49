"""The planted truth, per subscriber-month, written as Parquet under <truth.root>/subscriber_month/.

Only the generator writes it and only benchmarks read it (tests/test_truth_isolation.py keeps pipeline
code away from it): it is the answer key the churn and propensity models are scored against.
``true_churn_prob`` of month M is the probability of churning during M; it was set by the ``driver_*``
columns of month M-1 (state.py), which is what a model on the view of M-1 can see.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Month
from inlife.generator.rand import pick

DRIVERS = ["tenure_months", "decline", "n_complaint_resolved", "n_complaint_unresolved", "n_unsatisfied",
           "n_comp_month", "n_comp_prev", "n_recharges", "balance_level", "contract_ends_soon", "peers_churned",
           "prepaid", "dissatisfaction"]


def subscriber_month(month: Month, st: DataFrame) -> DataFrame:
    col = F.col
    return st.select(
        "subscriber_id", F.lit(month.label).alias("month"),
        "true_churn_prob", "churned",
        F.when(col("churned"), F.date_add(F.lit(month.start), col("churn_day") - 1)).alias("churn_date"),
        "true_stickiness",
        *[col(f"prop_{x}").alias(f"true_propensity_{x.lower()}") for x in R.PROPENSITY_PRODUCTS],
        *[col(f"took_{x}").alias(f"took_{x.lower()}") for x in R.PROPENSITY_PRODUCTS],
        *[col(f"held_{x}").alias(f"held_{x.lower()}") for x in R.PROPENSITY_PRODUCTS],
        pick(R.SEGMENTS, col("segment_idx")).alias("segment"),
        *[col(c).cast("double").alias(f"driver_{c}") for c in DRIVERS],
    )

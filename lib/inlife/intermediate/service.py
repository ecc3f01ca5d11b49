"""intermediate.service_monthly: contacts with customer service (客服) per subscriber-month.

Complaints (and how many stayed unresolved), consultations, 10086 calls, and SMS satisfaction survey
replies ("不满意" = unsatisfied), by which conf/tags.yaml tags sensitive and suggestion-type customers.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import in_month

SERVICE_COLUMNS = ["service_contacts", "hotline_calls", "complaints", "complaints_unresolved",
                   "complaints_billing", "complaints_network", "consultations", "survey_replies",
                   "survey_unsatisfied", "survey_satisfied"]


def service_monthly(contacts: DataFrame, month: str) -> DataFrame:
    c = contacts.where(in_month("contact_time", month))
    is_complaint = F.col("contact_type") == "COMPLAINT"
    is_survey = F.col("contact_type") == "SMS_SURVEY"

    def n(cond):
        return F.sum(cond.cast("int")).cast("long")

    out = (c.groupBy("subscriber_id").agg(
        F.count(F.lit(1)).cast("long").alias("service_contacts"),
        n(F.col("contact_type") == "CALL_10086").alias("hotline_calls"),
        n(is_complaint).alias("complaints"),
        n(is_complaint & (F.col("resolved") == "N")).alias("complaints_unresolved"),
        n(is_complaint & (F.col("category") == "BILLING")).alias("complaints_billing"),
        n(is_complaint & (F.col("category") == "NETWORK")).alias("complaints_network"),
        n(F.col("contact_type") == "CONSULT").alias("consultations"),
        n(is_survey).alias("survey_replies"),
        n(is_survey & (F.col("satisfaction") == "UNSATISFIED")).alias("survey_unsatisfied"),
        n(is_survey & (F.col("satisfaction") == "SATISFIED")).alias("survey_satisfied"))
        .withColumn("month", F.lit(month)))
    return out.select("subscriber_id", "month", *SERVICE_COLUMNS)

"""Hand-built inputs of the targets transforms: recommendation-bearing subscriber rows and campaign files."""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from pyspark.sql.types import ArrayType, DoubleType, LongType, StringType, StructField, StructType

BASE = StructType([
    StructField("subscriber_id", LongType()), StructField("msisdn", StringType()),
    StructField("main_policy", StringType()), StructField("main_policy_rule", StringType()),
    StructField("policy_group", StringType()),
    StructField("new_business_policies", ArrayType(StringType())), StructField("new_business_rules", ArrayType(StringType())),
    StructField("traffic_policies", ArrayType(StringType())), StructField("traffic_rules", ArrayType(StringType())),
    StructField("vpn_policy", StringType()), StructField("vpn_rule", StringType()),
    StructField("priority_order", ArrayType(StringType())), StructField("tags", ArrayType(StringType())),
    StructField("churn_reasons", ArrayType(StringType())),
    StructField("value_tier", StringType()), StructField("churn_grade", StringType()),
    StructField("value_score", DoubleType()), StructField("churn_probability", DoubleType()),
    StructField("arpu", DoubleType()),
])


def base_frame(spark, rows: list[dict]):
    full = []
    for i, row in enumerate(rows, start=1):
        r = {f.name: None for f in BASE.fields}
        r.update({"subscriber_id": i, "msisdn": f"1390000{i:04d}", "main_policy": "P_PREPAY100_GET260",
                  "main_policy_rule": "retention.r1", "policy_group": "G6", "new_business_policies": [],
                  "new_business_rules": [], "traffic_policies": [], "traffic_rules": [],
                  "priority_order": ["retention", "traffic", "new_business", "vpn"], "tags": [],
                  "churn_reasons": [], "value_tier": "mid", "churn_grade": "abnormal", "value_score": 50.0,
                  "churn_probability": 0.2, "arpu": 50.0})
        r.update(row)
        full.append(r)
    return spark.createDataFrame(full, BASE)


POLICY = """
contact_policy:
  window_days: 30
  max_contacts: {max_contacts}
  max_per_channel: {{outbound_call: 1, sms: 2, customer_manager: 1, front_desk: 2}}
  quiet_hours: {{sms: ["21:00", "08:00"]}}
  sensitive_tags: [sensitive]
  sensitive_channels: [customer_manager, front_desk]
  do_not_disturb_file: do_not_disturb.csv
channels: [outbound_call, sms, front_desk, customer_manager]
"""


def campaigns_file(tmp: Path, campaigns: str, max_contacts: int = 2) -> Path:
    path = tmp / "campaigns.yaml"
    path.write_text(POLICY.format(max_contacts=max_contacts) + "campaigns:\n" + textwrap.indent(
        textwrap.dedent(campaigns).strip() + "\n", "  "), encoding="utf-8")
    return path


def campaign(id_: str, channels: str = "[outbound_call]", holdout: float = 0.0, capacity: str = "{}",
             rank: str = "churn_probability * value_score", takes: str = "{matrix: retention}",
             every: str = "monthly") -> str:
    return textwrap.dedent(f"""\
        - id: {id_}
          objective: retention
          takes: {takes}
          rank: "{rank}"
          channels: {channels}
          cycle: {{every: {every}}}
          capacity: {capacity}
          holdout: {holdout}
          script: "{{policy_name}} / {{policy_script}}"
        """)


DAY = dt.date(2024, 4, 1)


def clock(df):
    """``df`` with its timestamps as the operator's clock (the session's time zone) reads them, to compare
    with hand-written times."""
    from pyspark.sql import functions as F

    return df.select(*[F.date_format(c, "yyyy-MM-dd HH:mm").alias(c) if t == "timestamp" else F.col(c)
                       for c, t in df.dtypes])

"""Small synthetic feature and label tables with a planted signal, for the model tests.

Columns are real factors of unified.customer_view (so reason codes can be checked against the data
dictionary); churn is driven by complaints, competitor service calls and a falling ARPU, stickiness by
tenure and minutes, newspaper response by SMS use. ``noise`` columns carry no signal.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import yaml

from inlife.tables.catalogue import CUSTOMER_VIEW, OUTCOMES

VIEW_SCHEMA = ("subscriber_id long, month string, msisdn string, status string, tenure_months int, "
               "brand string, vip_level string, arpu double, arpu_mom double, complaints int, "
               "competitor_service_calls int, voice_total_min double, sms_mo_count double, "
               "month_end_balance double, circle_breadth int")
OUTCOME_SCHEMA = ("subscriber_id long, month string, churned_next_1m int, active_engaged_6m int, "
                  "took_newspaper_next_1m int")
SIGNAL = ["complaints", "competitor_service_calls", "arpu_mom"]
NOISE = ["month_end_balance", "circle_breadth", "voice_total_min"]


def frames(months=("2024-01", "2024-02", "2024-03"), n=300, seed=7):
    rng = np.random.default_rng(seed)
    views, outs = [], []
    for month in months:
        ids = np.arange(1, n + 1, dtype=np.int64)
        complaints = rng.poisson(0.6, n)
        competitor = rng.poisson(0.4, n)
        arpu = np.round(rng.gamma(2.0, 30.0, n), 2)
        arpu_mom = np.round(rng.normal(0, 0.3, n), 3)
        tenure = rng.integers(1, 120, n)
        minutes = np.round(rng.gamma(2.0, 80.0, n), 1)
        sms = np.round(rng.gamma(1.5, 20.0, n), 0)
        logit = -2.6 + 1.3 * complaints + 1.1 * competitor - 2.5 * np.minimum(arpu_mom, 0) - 0.01 * tenure
        churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        stick_logit = -1.0 + 0.03 * tenure + 0.006 * minutes - 0.8 * complaints
        sticky = (rng.random(n) < 1 / (1 + np.exp(-stick_logit))).astype(int)
        news_logit = -2.5 + 0.05 * sms
        news = (rng.random(n) < 1 / (1 + np.exp(-news_logit))).astype(int)
        balance = np.round(rng.normal(30, 10, n), 2)
        balance[rng.random(n) < 0.05] = np.nan  # some missing values: imputed inside the pipeline
        views.append(pd.DataFrame({
            "subscriber_id": ids, "month": month,
            "msisdn": [f"1380000{i:04d}" for i in ids], "status": "ACTIVE",
            "tenure_months": tenure.astype("int32"),
            "brand": rng.choice(["GOTONE", "MZONE", "EASYOWN"], n),
            "vip_level": rng.choice(["NONE", "SILVER", "GOLD"], n, p=[0.7, 0.2, 0.1]),
            "arpu": arpu, "arpu_mom": arpu_mom, "complaints": complaints.astype("int32"),
            "competitor_service_calls": competitor.astype("int32"), "voice_total_min": minutes,
            "sms_mo_count": sms, "month_end_balance": balance,
            "circle_breadth": rng.integers(0, 40, n).astype("int32"),
        }))
        outs.append(pd.DataFrame({"subscriber_id": ids, "month": month, "churned_next_1m": churn,
                                  "active_engaged_6m": sticky, "took_newspaper_next_1m": news}))
    return pd.concat(views, ignore_index=True), pd.concat(outs, ignore_index=True)


def _spark_frame(spark, pdf, schema):
    rows = [tuple(None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v)
                  for v in r) for r in pdf.itertuples(index=False)]
    return spark.createDataFrame(rows, schema)


def write_tables(spark, tables, months=("2024-01", "2024-02", "2024-03"), n=300, seed=7,
                 view=CUSTOMER_VIEW, outcomes=OUTCOMES):
    v, o = frames(months, n, seed)
    tables.overwrite(view, _spark_frame(spark, v, VIEW_SCHEMA), partition_by=["month"])
    tables.overwrite(outcomes, _spark_frame(spark, o, OUTCOME_SCHEMA), partition_by=["month"])
    return v, o


def spec(kind="churn", label="churned_next_1m", columns="all_numeric", algorithms=None, tolerance=0.02,
         **extra) -> dict:
    d = {
        "kind": kind,
        "features": {"table": CUSTOMER_VIEW, "keys": ["subscriber_id", "month"],
                     "month_column": "month", "columns": columns,
                     "exclude": ["subscriber_id", "msisdn", "status"], "categorical": ["brand", "vip_level"]},
        "label": {"column": label, "table": OUTCOMES},
        "split": {"seed": 1},
        "algorithms": algorithms or {"logistic_regression": {"regParam": [0.01], "maxIter": [30]},
                                     "gbt": {"maxDepth": [2], "maxIter": [5]}},
        "imbalance": "class_weight",
        "promotion": {"metric": "auc_pr", "tolerance": tolerance},
    }
    for k, v in extra.items():
        d[k] = v
    return d


def write_spec(folder, name, data) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)

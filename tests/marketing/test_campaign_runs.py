"""The campaign runs on real tables: monthly targets -> simulated responses landing and ingested like any
source -> evaluation, whose measured uplift must cover the simulator's true effect; and the nightly run,
which must give a work order to a subscriber whose balance dropped that day and to nobody else."""
from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.tables.catalogue import (BALANCES, CAMPAIGN_RESULTS, CONTACT_HISTORY, CUSTOMER_VIEW, RECHARGES, SUBSCRIBERS,
                                     TAGS_DAILY, TARGETS, UPLIFT_CURVE, WORK_ORDER_EVENTS, WORK_ORDERS, raw)
from inlife.unified.dictionary import view_columns
from tests.intermediate.rawframes import raw_frame
from tests.marketing.frames import campaign, campaigns_file, clock
from tests.rules.stateframes import state_frame

MONTH = "2024-03"
N = 2000
# with these, the shipped retention matrix recommends P_PREPAY100_GET260 (tests/marketing/test_recommendations_runs.py)
PROFILE = {"tenure_months": 5, "return_rate": 90.0, "arpu": 25.0, "vip_level": "GOLD", "value_tier": "mid",
           "prepaid_flag": 1, "month_end_balance": 50.0, "activation_date": "2023-10-15", "status": "ACTIVE"}


@pytest.fixture(scope="module")
def lake(spark, base_conf, tmp_path_factory):
    from inlife.marketing.build import build_recommendations
    from inlife.tables import Tables

    tmp = tmp_path_factory.mktemp("campaign_runs")
    rnd = random.Random(5)
    cfile = campaigns_file(tmp, campaign("RET_CALL", "[outbound_call]", holdout=0.2)
                           + campaign("RET_SMS", "[sms]", holdout=0.25, rank="arpu * 1.0")
                           + campaign("DAILY", "[customer_manager]", every="daily", rank="coalesce(value_score, 1)",
                                      takes="{matrix: retention, tags_any: [screen_low_month_end_balance]}"),
                           max_contacts=5)
    conf = base_conf.with_overrides({
        "lake.root": str(tmp / "lake"), "landing.root": str(tmp / "landing"), "truth.root": str(tmp / "truth"),
        "quality.data_docs_dir": str(tmp / "docs"), "campaigns.exports_root": str(tmp / "exports"),
        "campaigns.file": str(cfile), "lake.engine": "delta-rs"})
    (tmp / "landing").mkdir()
    (tmp / "landing" / "do_not_disturb.csv").write_text("subscriber_id,channel,reason\n", encoding="utf-8")
    tables = Tables(spark, conf)
    rows = [dict(PROFILE) for _ in range(N)]
    state = state_frame(spark, rows, MONTH).cache()
    tables.overwrite(CUSTOMER_VIEW, state.select(*view_columns()), partition_by=["month"])
    build_recommendations(spark, conf, MONTH, state=state)    # marketing.recommendations and scores.tags
    tables.overwrite(SUBSCRIBERS, raw_frame(spark, "subscribers", [
        {"subscriber_id": i, "snapshot_date": "2024-03-01", "status": "ACTIVE"} for i in range(1, N + 1)],
        "2024-03-01"), partition_by=["batch_date"])
    truth = spark.createDataFrame([(i, MONTH, 0.05, rnd.random() * 0.2, rnd.random() * 0.2, rnd.random() * 0.2,
                                    rnd.random() * 0.2) for i in range(1, N + 1)],
                                  "subscriber_id long, month string, true_churn_prob double, "
                                  "true_propensity_newspaper double, true_propensity_crbt double, "
                                  "true_propensity_ringtone_change double, true_propensity_mobile_internet double")
    truth.write.parquet(str(tmp / "truth" / "subscriber_month"))
    yield conf, tables, state
    state.unpersist()


def test_uplift_measured_on_simulated_responses_covers_the_true_effect(spark, lake):
    from inlife.evaluation.build import build_evaluation
    from inlife.generator.responses import simulate
    from inlife.ingest.pipeline import Ingestion
    from inlife.marketing.targeting import targets_month

    conf, tables, state = lake
    first = targets_month(spark, conf, MONTH, state=state)
    t = tables.read(TARGETS, partitions={"batch": MONTH})
    assert t.count() == 2 * N and {k[0] for k in first.counts} == {"RET_CALL", "RET_SMS"}
    again = targets_month(spark, conf, MONTH, state=state)   # a rerun replaces its batch, same rows
    assert again.counts == first.counts
    assert tables.read(CONTACT_HISTORY).count() == sum(first.counts.values())
    for e in first.exports:
        from inlife.marketing.exports import verify
        assert verify(Path(e["path"]))["rows"] == e["rows"]

    sim = simulate(spark, conf, MONTH, seed=11)
    days = [date(2024, 4, 1) + timedelta(days=k) for k in range(7)]
    reports = Ingestion(spark, conf).run("campaign_responses", days)
    landed = sum(sim["answers"].values())
    assert sum(r.totals()["rows_written"] for r in reports) == landed > 0
    result = build_evaluation(spark, conf, MONTH)
    measured = {r["campaign_id"]: r for r in result.campaigns}
    assert set(measured) == {"RET_CALL", "RET_SMS"}
    for cid, truth in sim["true_effects"].items():
        m = measured[cid]
        assert m["contacted"] + m["holdout"] == truth["selected"]
        assert m["uplift_ci_low"] <= truth["true_uplift"] <= m["uplift_ci_high"], (cid, m, truth)
        assert m["uplift_ci_low"] > 0                             # and the effect is detected
    curve = tables.read(UPLIFT_CURVE, partitions={"month": MONTH}).where("campaign_id = 'RET_CALL'")
    assert [r["fraction"] for r in curve.orderBy("fraction").collect()] == [0.1, 0.2, 0.3, 0.5, 1.0]
    cells = tables.read(CAMPAIGN_RESULTS, partitions={"month": MONTH}).where("level = 'cell'").collect()
    assert {(r["campaign_id"], r["policy_id"]) for r in cells} == {("RET_CALL", "P_PREPAY100_GET260"),
                                                                   ("RET_SMS", "P_PREPAY100_GET260")}


def test_nightly_run_gives_a_work_order_to_the_subscriber_whose_balance_dropped(spark, lake):
    from inlife.marketing.targeting import daily

    conf, tables, _ = lake
    day = "2024-04-03"
    balances = [{"subscriber_id": i, "balance_date": d, "balance": 50.0}
                for i in (7, 8, 9) for d in ("2024-04-01", "2024-04-02")]
    balances += [{"subscriber_id": 7, "balance_date": day, "balance": 0.5},       # dropped tonight
                 {"subscriber_id": 8, "balance_date": day, "balance": 48.0},
                 {"subscriber_id": 9, "balance_date": "2024-04-04", "balance": 0.1},  # tomorrow: not seen yet
                 # tonight's balance, but it arrives in tomorrow's batch: the night does not read it
                 {"subscriber_id": 9, "balance_date": day, "balance": 0.3, "batch_date": "2024-04-04"}]
    tables.overwrite(BALANCES, raw_frame(spark, "balances", balances, day), partition_by=["batch_date"])
    tables.overwrite(RECHARGES, raw_frame(spark, "recharges", [], day), partition_by=["batch_date"])
    tables.overwrite(raw("service_contacts"), raw_frame(spark, "service_contacts", [], day), partition_by=["batch_date"])
    result = daily(spark, conf, day, ingest=False)
    tags = tables.read(TAGS_DAILY, partitions={"day": day}).where("tag_id = 'screen_low_month_end_balance'")
    assert [r["subscriber_id"] for r in tags.collect()] == [7]
    assert result.counts == {("DAILY", "customer_manager"): 1}
    folder = Path(conf.path("campaigns.exports_root")) / "customer_manager" / day
    orders = list(csv.DictReader((folder / "work_orders.csv").open(encoding="utf-8")))
    [order] = tables.read(TARGETS, partitions={"batch": day}).where("contacted").collect()
    assert order["subscriber_id"] == 7
    assert [(o["order_id"], o["due_date"], o["policy_id"]) for o in orders] == [
        (order["contact_id"], "2024-04-04", "P_PREPAY100_GET260")]
    # the manager reads the matrix cell's and the tag's names, not their ids
    assert orders[0]["reasons"] == ("在网时长<12月, 86<回报率<=100, ARPU<30 -> 预缴100元得260元话费; "
                                    "月末余额低 (low month-end balance)")
    assert json.loads((folder / "_manifest.json").read_text())["rows"] == 1
    # the order is kept with its status: issued the morning it is worked, due at that day's end (the
    # operator's clock)
    orders, events = (clock(tables.read(t)) for t in (WORK_ORDERS, WORK_ORDER_EVENTS))
    assertDataFrameEqual(orders, spark.createDataFrame(
        [(order["contact_id"], day, 7, order["msisdn"], "DAILY", "customer_manager", order["rank"],
          "P_PREPAY100_GET260", order["policy_name"], order["reasons"], "2024-04-04 00:00", "2024-04-05 00:00",
          "issued", "2024-04-04 00:00")], orders.schema))
    assertDataFrameEqual(events, spark.createDataFrame(
        [(day, order["contact_id"], "2024-04-04 00:00", None, "issued", None, None, None, None, None)],
        events.schema))

"""The intermediate layer and the view built from raw Delta tables, month by month, as the jobs do."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from inlife.intermediate.build import build_intermediate
from inlife.quality import QualityError, Validator
from inlife.tables import Tables, catalogue
from inlife.tables.catalogue import CUSTOMER_VIEW, OUTCOMES, VOICE_CDR, VOICE_MONTHLY
from inlife.unified.build import build_outcomes, build_view
from inlife.unified.dictionary import view_columns
from tests.intermediate.rawframes import CONTRACT, raw_frame

SUB = dict(plan_name="套餐", region="杭州", county="西湖区", grid="g", birth_date="1990-01-01", gender="M",
           vip_level="NONE", status="ACTIVE")


def subscriber(sid, snap, **kw):
    row = dict(SUB, subscriber_id=sid, msisdn=f"1380000000{sid}", snapshot_date=snap, batch_date=snap,
               activation_date="2022-01-01", status_date="2022-01-01", brand="GOTONE", plan_code="GT88",
               prepaid_flag=0)
    row.update(kw)
    return row


def call(sub, peer, start, secs, batch=None):
    return dict(subscriber_id=sub, peer_number=peer, peer_operator="CMCC", peer_province="浙江", direction="MO",
                call_type="LOCAL", start_time=start, duration_sec=secs, charge=0.1, cell_id="c",
                batch_date=batch or start[:10])


def bill(sub, month, day, total, discount=0.0):
    return dict(subscriber_id=sub, bill_month=month, bill_date=f"{month}-{day}", total_charge=total,
                rental_charge=total, voice_charge=0.0, sms_charge=0.0, data_charge=0.0, vas_charge=0.0,
                discount=discount, arrears=0.0, batch_date=f"{month}-{day}")


RAW = {
    "subscribers": [
        subscriber(1, "2024-02-01"), subscriber(2, "2024-02-01", brand="EASYOWN", plan_code="EO19", prepaid_flag=1),
        subscriber(1, "2024-03-01"), subscriber(2, "2024-03-01", brand="EASYOWN", plan_code="EO19", prepaid_flag=1),
        subscriber(3, "2024-03-05", activation_date="2024-03-05", status_date="2024-03-05", brand="MZONE",
                   plan_code="MZ18"),
        subscriber(2, "2024-03-20", brand="EASYOWN", plan_code="EO19", prepaid_flag=1, status="CHURNED",
                   status_date="2024-03-20"),
        subscriber(1, "2024-04-01"),
        subscriber(3, "2024-04-01", activation_date="2024-03-05", status_date="2024-03-05", brand="MZONE",
                   plan_code="MZ18"),
    ],
    "voice_cdr": [
        call(1, "13800000002", "2024-02-10 10:00:00", 60), call(1, "13800000002", "2024-02-10 11:00:00", 60),
        call(1, "13800000002", "2024-03-03 10:00:00", 120), call(1, "13800000003", "2024-03-15 10:00:00", 180),
        call(3, "13800000001", "2024-03-16 10:00:00", 60),
        call(1, "13800000003", "2024-03-31 23:00:00", 60, batch="2024-04-02"),   # late: counts in March
        call(1, "13800000003", "2024-04-05 10:00:00", 600),
    ],
    "billing": [bill(1, "2024-02", 29, 100.0), bill(2, "2024-02", 29, 30.0),
                bill(1, "2024-03", 31, 80.0, 8.0), bill(2, "2024-03", 31, 30.0), bill(3, "2024-03", 31, 20.0),
                bill(1, "2024-04", 30, 120.0), bill(3, "2024-04", 30, 25.0)],
}


def seed_raw(spark, tables, raw, only=None):
    for name in only or CONTRACT.order:
        tables.overwrite(catalogue.raw(name), raw_frame(spark, name, raw.get(name, [])), partition_by=["batch_date"])


def build_months(spark, conf, months):
    for m in months:
        build_intermediate(spark, conf, m)
        build_view(spark, conf, m)


@pytest.fixture(scope="module")
def lake(spark, base_conf, tmp_path_factory):
    # Suites are exercised by the failure and reconciliation tests below; building without them keeps
    # this module quick (Great Expectations costs more than these tiny builds).
    conf = base_conf.with_overrides({"lake.root": str(tmp_path_factory.mktemp("build") / "lake"),
                                     "quality.data_docs_dir": str(tmp_path_factory.mktemp("docs")),
                                     "quality.enabled": False, "lake.engine": "delta-rs"})
    tables = Tables(spark, conf)
    seed_raw(spark, tables, RAW)
    build_months(spark, conf, ["2024-02", "2024-03"])
    build_outcomes(spark, conf, "2024-02")
    return conf, tables


def march_view(tables):
    return tables.read(CUSTOMER_VIEW, partitions={"month": "2024-03"})


def test_view_has_dictionary_columns_and_one_row_per_active_subscriber(lake):
    conf, tables = lake
    view = march_view(tables)
    assert view.columns == view_columns()
    assert len(view.columns) >= 150
    # 2 churned on 2024-03-20; 3 joined on 2024-03-05
    assert sorted(r.subscriber_id for r in view.select("subscriber_id").collect()) == [1, 3]


def test_view_values_by_hand(lake):
    conf, tables = lake
    cols = ["subscriber_id", "voice_total_min", "voice_local_mo_calls", "arpu", "arpu_avg3", "arpu_mom",
            "arpu_vs_avg3", "return_rate", "tenure_months", "is_new", "lifecycle_stage", "circle_breadth",
            "peers_churned_3m", "recharge_count", "complaints"]
    got = [tuple(r) for r in march_view(tables).select(*cols).orderBy("subscriber_id").collect()]
    assert got == [
        # 120 + 180 + 60 (late, arrived 2024-04-02) seconds = 6 minutes in 3 calls; ARPU 80 after 100 in
        # February: mom -0.2, 0.8 of avg3; keeps 72 of 80 = 90 %; 26 months in; peers 2 and 3, 2 churned
        (1, 6.0, 3, 80.0, 100.0, -0.2, 0.8, 90.0, 26, 0, "stable", 2, 1, 0, 0),
        # new this month: entry stage, no history
        (3, 1.0, 1, 20.0, None, None, None, 100.0, 0, 1, "entry", 1, 0, 0, 0),
    ]


def test_outcomes_label_the_churner(lake):
    conf, tables = lake
    rows = {r.subscriber_id: (r.churned_next_1m, r.churned_next_2m, r.active_engaged_6m) for r in
            tables.read(OUTCOMES, partitions={"month": "2024-02"}).collect()}
    # April is not built yet: the 2-month label is unknown, not 0; six months on is unknown too
    assert rows == {1: (0, None, None), 2: (1, None, None)}


def test_later_months_do_not_change_an_earlier_view(spark, lake):
    conf, tables = lake
    before = sorted(tuple(r) for r in march_view(tables).collect())
    # April arrives, with very different numbers, and is built; then March is rebuilt
    later = dict(RAW)
    later["voice_cdr"] = RAW["voice_cdr"] + [call(1, "13800000002", "2024-04-09 10:00:00", 5000),
                                             call(3, "13800000001", "2024-04-10 10:00:00", 7000)]
    later["billing"] = RAW["billing"] + [bill(3, "2024-04", 30, 999.0)]
    seed_raw(spark, tables, later, only=["voice_cdr", "billing"])
    build_months(spark, conf, ["2024-04", "2024-03"])
    assert sorted(tuple(r) for r in march_view(tables).collect()) == before


def test_failed_suite_commits_nothing(spark, lake):
    conf, tables = lake
    conf = conf.with_overrides({"quality.enabled": True})
    versions = {t: tables.version(t) for t in catalogue.in_layer("intermediate")}
    broken = raw_frame(spark, "voice_cdr", [call(None, "13800000001", "2024-03-07 10:00:00", 60)])
    tables.append(VOICE_CDR, broken)
    try:
        with pytest.raises(QualityError, match=r"intermediate\.voice_monthly: .*expect_(compound_columns_to_be_unique|column_values_to_not_be_null)"):
            build_intermediate(spark, conf, "2024-03")
        assert {t: tables.version(t) for t in catalogue.in_layer("intermediate")} == versions
    finally:
        # the table's old files stay until vacuum, so it can be rewritten from its own read
        tables.overwrite(VOICE_CDR, tables.read(VOICE_CDR).where("subscriber_id is not null"))


def test_reconciliation_fails_when_minutes_go_missing(spark, lake):
    conf, tables = lake
    voice = tables.read(VOICE_MONTHLY, partitions={"month": "2024-03"})
    raw_minutes = 6.0 + 1.0   # every March CDR minute (sub 1: 6, sub 3: 1)
    params = {"raw_minutes_min": raw_minutes - 0.01, "raw_minutes_max": raw_minutes + 0.01}
    validator = Validator(conf)
    assert validator.validate(VOICE_MONTHLY, voice, params).success
    broken = voice.where(F.col("subscriber_id") != 3)    # a join that lost a subscriber's minutes
    outcome = validator.validate(VOICE_MONTHLY, broken, params)
    assert not outcome.success
    assert [f.expectation for f in outcome.failures] == ["expect_column_sum_to_be_between"]
    assert "expect_column_sum_to_be_between(voice_total_min)" in outcome.message()

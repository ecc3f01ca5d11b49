"""voice_monthly on hand-built CDRs; every expected value worked out by hand in the comments."""
from __future__ import annotations

import numpy as np
import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.intermediate.voice import VOICE_TOTALS, call_type_columns, voice_monthly
from inlife.unified.dictionary import dimensions
from tests.intermediate.rawframes import raw_frame

CALL_TYPES = dimensions()["ct"]
COMPETITOR = ["10000", "10010"]


def cdr(sub, peer, op, prov, direction, ctype, start, secs, charge):
    return dict(subscriber_id=sub, peer_number=peer, peer_operator=op, peer_province=prov, direction=direction,
                call_type=ctype, start_time=start, duration_sec=secs, charge=charge, cell_id="c1",
                batch_date=start[:10])


CALLS = [
    cdr(1, "13800000002", "CMCC", "浙江", "MO", "LOCAL", "2024-03-04 09:00:00", 120, 0.2),    # Mon, peak
    cdr(1, "13900000003", "CMCC", "安徽", "MO", "LD_INTER", "2024-03-09 20:30:00", 300, 1.5),  # Sat, peak
    cdr(1, "13900000003", "CMCC", "安徽", "MT", "LD_INTER", "2024-03-09 23:00:00", 60, 0.0),   # Sat, off-peak
    cdr(1, "10010", "CU", "浙江", "MO", "LOCAL", "2024-03-20 07:00:00", 30, 0.1),              # Wed, off-peak, competitor
    cdr(1, "15000000004", "CT", "河南", "MT", "LD_INTER", "2024-03-21 12:00:00", 240, 0.0),    # Thu, peak
    cdr(1, "13800000002", "CMCC", "浙江", "MO", "LOCAL", "2024-02-29 10:00:00", 999, 9.9),    # February: not counted
    cdr(1, "13800000002", "CMCC", "浙江", "MO", "LOCAL", "2024-04-01 10:00:00", 999, 9.9),    # April: not counted
    cdr(2, "13800000001", "CMCC", "浙江", "MO", "VPN", "2024-03-05 10:00:00", 600, 0.0),       # Tue, peak
]


def expected_row(sub, per_type, **totals):
    row = {"subscriber_id": sub, "month": "2024-03"}
    for c in call_type_columns(CALL_TYPES):
        row[c] = per_type.get(c, 0 if c.endswith("_calls") else 0.0)
    row.update(totals)
    return row


def test_ld_unit_price_is_over_billed_minutes(spark):
    """Calls are billed per started minute: 8 seconds charged 0.35 is 0.35 a minute, not 2.625."""
    calls = [cdr(3, "13900000003", "CMCC", "安徽", "MO", "LD_INTER", "2024-03-09 20:30:00", 8, 0.35),
             cdr(4, "13900000003", "CMCC", "安徽", "MO", "LD_INTER", "2024-03-09 20:30:00", 8, 0.35),
             cdr(4, "13900000003", "CMCC", "安徽", "MO", "LD_INTRA", "2024-03-10 20:30:00", 61, 0.5)]
    got = {r["subscriber_id"]: r for r in voice_monthly(raw_frame(spark, "voice_cdr", calls), "2024-03", CALL_TYPES,
                                                        COMPETITOR, [8, 22]).collect()}
    assert got[3]["ld_unit_price"] == pytest.approx(0.35) and got[3]["voice_ld_mo_min"] == pytest.approx(8 / 60)
    assert got[4]["ld_unit_price"] == pytest.approx(0.85 / 3)         # 1 + 2 billed minutes


def test_voice_monthly_by_hand(spark):
    got = voice_monthly(raw_frame(spark, "voice_cdr", CALLS), "2024-03", CALL_TYPES, COMPETITOR, [8, 22])
    sub1 = expected_row(
        1,
        {"voice_local_mo_min": 2.5, "voice_local_mo_calls": 2,            # (120 + 30) / 60
         "voice_ld_inter_mo_min": 5.0, "voice_ld_inter_mo_calls": 1,      # 300 / 60
         "voice_ld_inter_mt_min": 5.0, "voice_ld_inter_mt_calls": 2},     # (60 + 240) / 60
        voice_mo_min=7.5, voice_mt_min=5.0, voice_total_min=12.5, voice_mo_calls=3, voice_mt_calls=2,
        voice_total_calls=5, voice_charge=1.8, voice_active_days=4,       # days 4, 9, 20, 21
        voice_peak_min=11.0, voice_offpeak_min=1.5, voice_peak_share=0.88,  # (120+300+240)/60; 11/12.5
        voice_late_share=0.32,                                            # day 21's 4 minutes of 12.5
        voice_weekend_min=6.0, voice_avg_call_min=2.5,                    # the two calls of Sat 9th
        voice_ld_mo_min=5.0, voice_ld_mo_charge=1.5, ld_unit_price=0.3,   # 1.5 yuan / 5 minutes
        voice_roam_min=0.0, top_ld_province="安徽", top_ld_province_share=0.6,  # 6 of 10 LD_INTER minutes
        competitor_service_calls=1)
    sub2 = expected_row(
        2, {"voice_vpn_mo_min": 10.0, "voice_vpn_mo_calls": 1},
        voice_mo_min=10.0, voice_mt_min=0.0, voice_total_min=10.0, voice_mo_calls=1, voice_mt_calls=0,
        voice_total_calls=1, voice_charge=0.0, voice_active_days=1, voice_peak_min=10.0, voice_offpeak_min=0.0,
        voice_peak_share=1.0, voice_late_share=0.0, voice_weekend_min=0.0, voice_avg_call_min=10.0, voice_ld_mo_min=0.0,
        voice_ld_mo_charge=0.0, ld_unit_price=None, voice_roam_min=0.0, top_ld_province=None,
        top_ld_province_share=None, competitor_service_calls=0)
    columns = ["subscriber_id", "month", *call_type_columns(CALL_TYPES), *VOICE_TOTALS]
    assert got.columns == columns
    expected = spark.createDataFrame([tuple(r[c] for c in columns) for r in (sub1, sub2)], got.schema)
    assertDataFrameEqual(got, expected)


def test_the_benchmarks_duckdb_query_agrees(spark, tmp_path):
    """benchmarks/unified_view.py times voice_monthly against a DuckDB query; the two must stay the same
    summary (the benchmark also checks this at scale, but only when someone runs it)."""
    import duckdb

    from benchmarks.unified_view import duckdb_voice_sql

    calls = CALLS + [cdr(3, "13900000003", "CMCC", "安徽", "MO", "LD_INTER", "2024-03-09 20:30:00", 8, 0.35),
                     cdr(3, "10000", "CT", "浙江", "MO", "LOCAL", "2024-03-31 23:59:59", 45, 0.0)]
    raw_frame(spark, "voice_cdr", calls).write.parquet(str(tmp_path / "cdr"))
    files = sorted(str(f) for f in (tmp_path / "cdr").glob("*.parquet"))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    duck = con.execute(duckdb_voice_sql(files, "2024-03", CALL_TYPES, COMPETITOR, [8, 22])).fetchdf()
    got = voice_monthly(spark.read.parquet(str(tmp_path / "cdr")), "2024-03", CALL_TYPES, COMPETITOR,
                        [8, 22]).toPandas()
    assert sorted(duck.subscriber_id) == sorted(got.subscriber_id) == [1, 2, 3]
    duck, got = duck.set_index("subscriber_id").sort_index(), got.set_index("subscriber_id").sort_index()
    assert set(duck.columns) == set(got.columns) - {"month"}
    for c in duck.columns:
        if c == "top_ld_province":
            assert list(duck[c].fillna("-")) == list(got[c].fillna("-")), c
        else:
            assert np.allclose(duck[c].astype(float), got[c].astype(float), equal_nan=True), c

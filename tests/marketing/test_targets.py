"""Targets: contact limits and opt-outs across overlapping campaigns, holdouts, capacity, exports.

Each test builds subscribers with their recommendations by hand and checks every row of the result."""
from __future__ import annotations

import dataclasses
import re

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from inlife.marketing.campaigns import CampaignError, check_expressions, load_campaigns
from inlife.marketing.targets import DND_SCHEMA, HISTORY_SCHEMA, build_targets, history_rows
from inlife.rules.columns import kinds_of
from tests.marketing.frames import DAY, base_frame, campaign, campaigns_file

TAG_IDS = {"sensitive", "screen_low_month_end_balance"}
KEY = b"a key for these tests only"


def policies(spark):
    return spark.createDataFrame([("P_PREPAY100_GET260", "预缴100元得260元", "预存100元即送260元话费"),
                                  ("P_CRBT_TRIAL", "彩铃体验", "彩铃免费体验一个月")],
                                 "policy_id string, policy_name string, policy_script string")


def run(spark, tmp_path, base, campaigns: str, dnd=(), history=(), max_contacts=2, batch="2024-03",
        capacity_days=1, contact_date=DAY):
    cfg = load_campaigns(campaigns_file(tmp_path, campaigns, max_contacts))
    exprs = check_expressions(cfg, kinds_of(base.schema), TAG_IDS)
    hist = spark.createDataFrame(list(history), HISTORY_SCHEMA) if history else None
    out = build_targets(base, list(cfg.campaigns), exprs, policies(spark), spark.createDataFrame(list(dnd), DND_SCHEMA),
                        hist, cfg.policy, batch=batch, batch_kind="monthly", month="2024-03",
                        contact_date=contact_date, capacity_days=capacity_days, key=KEY)
    return {(r["subscriber_id"], r["campaign_id"]): r for r in out.collect()}, out


def outcome(rows):
    return {k: (r["channel"], r["contacted"], r["suppression"]) for k, r in rows.items()}


def test_limits_and_opt_outs_hold_across_overlapping_campaigns(spark, tmp_path):
    base = base_frame(spark, [
        {},                                           # 1: in all three campaigns, at most 2 contacts
        {},                                           # 2: opted out of outbound calls -> SMS
        {},                                           # 3: opted out of everything
        {},                                           # 4: two contacts in the window already
        {"tags": ["sensitive"]},                      # 5: sensitive: customer manager only
    ])
    campaigns = (campaign("A", "[outbound_call, sms]") + campaign("B", "[sms]")
                 + campaign("C", "[customer_manager, outbound_call]"))
    d = dt.date(2024, 3, 20)
    history = [("2024-03-x", "h1", 4, "OLD", "sms", "P", d), ("2024-03-x", "h2", 4, "OLD", "outbound_call", "P", d),
               ("2024-02-x", "h3", 1, "OLD", "sms", "P", dt.date(2024, 2, 1))]      # outside the 30-day window
    rows, _ = run(spark, tmp_path, base, campaigns, dnd=[(2, "outbound_call", "asked"), (3, "all", "asked")],
                  history=history)
    assert outcome(rows) == {
        (1, "A"): ("outbound_call", True, None), (1, "B"): ("sms", True, None),
        (1, "C"): ("customer_manager", False, "contact_limit"),
        (2, "A"): ("sms", True, None), (2, "B"): ("sms", True, None),
        (2, "C"): ("customer_manager", False, "contact_limit"),
        (3, "A"): (None, False, "opted_out"), (3, "B"): (None, False, "opted_out"), (3, "C"): (None, False, "opted_out"),
        (4, "A"): ("outbound_call", False, "channel_limit"), (4, "B"): ("sms", False, "contact_limit"),
        (4, "C"): ("customer_manager", False, "contact_limit"),
        (5, "A"): (None, False, "sensitive"), (5, "B"): (None, False, "sensitive"),
        (5, "C"): ("customer_manager", True, None),
    }
    # per-channel limit: outbound_call allows 1 per window, so the second outbound campaign is cut
    rows, _ = run(spark, tmp_path, base_frame(spark, [{}]), campaign("A") + campaign("B"), max_contacts=5)
    assert outcome(rows) == {(1, "A"): ("outbound_call", True, None), (1, "B"): ("outbound_call", False, "channel_limit")}


def test_holdout_is_stable_never_contacted_and_about_its_share(spark, tmp_path):
    base = base_frame(spark, [{"churn_probability": (i % 97) / 100} for i in range(2000)])
    rows1, t1 = run(spark, tmp_path, base, campaign("A", "[sms]", holdout=0.2), max_contacts=9)
    rows2, _ = run(spark, tmp_path, base, campaign("A", "[sms]", holdout=0.2), max_contacts=9, batch="2024-04")
    held1 = {k for k, r in rows1.items() if r["holdout"]}
    held2 = {k for k, r in rows2.items() if r["holdout"]}
    assert held1 == held2                                     # the same people, batch after batch
    assert 2000 * 0.2 - 3 * (2000 * 0.2 * 0.8) ** 0.5 < len(held1) < 2000 * 0.2 + 3 * (2000 * 0.2 * 0.8) ** 0.5
    assert all(not rows1[k]["contacted"] and rows1[k]["suppression"] == "holdout" for k in held1)
    assert all(r["contacted"] for k, r in rows1.items() if k not in held1)
    contacted = {r["subscriber_id"] for r in history_rows(t1).collect()}
    assert contacted == {k[0] for k in rows1 if k not in held1}
    # another campaign holds out other people (the draw depends on the campaign)
    rows3, _ = run(spark, tmp_path, base, campaign("Z", "[sms]", holdout=0.2), max_contacts=9)
    assert {k[0] for k, r in rows3.items() if r["holdout"]} != {k[0] for k in held1}


def test_capacity_keeps_the_best_ranked(spark, tmp_path):
    base = base_frame(spark, [{"churn_probability": p} for p in
                              [0.31, 0.05, 0.9, 0.44, 0.12, 0.77, 0.5, 0.08, 0.66, 0.2]])
    rows, _ = run(spark, tmp_path, base, campaign("A", "[outbound_call]", capacity="{outbound_call: 2}"),
                  capacity_days=2)   # 2 a day for 2 days: the 4 best
    chosen = sorted((r["rank"], k[0]) for k, r in rows.items() if r["selected"])
    assert chosen == [(1, 3), (2, 6), (3, 9), (4, 7)]
    assert {k[0] for k, r in rows.items() if r["suppression"] == "capacity"} == {1, 2, 4, 5, 8, 10}


def test_offers_from_each_matrix_and_the_script(spark, tmp_path):
    base = base_frame(spark, [{"new_business_policies": ["P_NEWSPAPER_TRIAL", "P_CRBT_TRIAL"],
                               "new_business_rules": ["nb.r1", "nb.r2"], "churn_reasons": ["arpu_mom"]},
                              {"main_policy": None, "main_policy_rule": None}])
    campaigns = (campaign("NB", "[sms]", takes="{matrix: new_business, policies: [P_CRBT_TRIAL]}")
                 + campaign("RET", "[sms]"))
    rows, _ = run(spark, tmp_path, base, campaigns, max_contacts=5)
    assert set(rows) == {(1, "NB"), (1, "RET")}               # subscriber 2 has no retention offer
    nb = rows[(1, "NB")]
    assert (nb["policy_id"], nb["cell"], nb["reasons"]) == ("P_CRBT_TRIAL", "nb.r2", ["nb.r2", "arpu_mom"])
    assert nb["script"] == "彩铃体验 / 彩铃免费体验一个月" and nb["contact_window"] == "08:00-21:00"
    assert rows[(1, "RET")]["policy_group"] == "G6" and nb["policy_group"] is None


def test_campaign_file_errors_name_the_campaign_and_key(spark, tmp_path):
    with pytest.raises(CampaignError, match=r"campaign A: unknown channel 'fax'"):
        load_campaigns(campaigns_file(tmp_path, campaign("A", "[fax]")))
    with pytest.raises(CampaignError, match=r"campaigns\[0\]\.holdout: input should be less than 1, got 1\.5$"):
        load_campaigns(campaigns_file(tmp_path, campaign("A", holdout=1.5)))
    with pytest.raises(CampaignError, match=r"campaign A.takes.policies: unknown policy P_NOPE"):
        load_campaigns(campaigns_file(tmp_path, campaign("A", takes="{matrix: retention, policies: [P_NOPE]}")),
                       {"P_PREPAY100_GET260"})
    cfg = load_campaigns(campaigns_file(tmp_path, campaign("A", rank="value_tier")))
    base = base_frame(spark, [{}])
    with pytest.raises(CampaignError, match=r"campaign A.rank: must be a number"):
        check_expressions(cfg, kinds_of(base.schema), TAG_IDS)
    cfg = load_campaigns(campaigns_file(tmp_path, campaign("A", rank="reflect('java.lang.Runtime', 'x')")))
    with pytest.raises(CampaignError, match=r"campaign A.rank: .*reflect\(\) is not allowed"):
        check_expressions(cfg, kinds_of(base.schema), TAG_IDS)


def test_shipped_campaigns_file_loads(conf):
    from inlife.marketing.targeting import campaign_config

    cfg = campaign_config(conf)
    assert [c.id for c in cfg.campaigns][:2] == ["C_RETAIN_HIGH_VALUE", "C_RETAIN_CALL"]
    assert {c.every for c in cfg.campaigns} == {"monthly", "daily"}


def test_exports_match_their_manifests(spark, tmp_path):
    from inlife.marketing import exports

    base = base_frame(spark, [{"churn_probability": 0.1 * i} for i in range(1, 9)])
    campaigns = (campaign("CM", "[customer_manager]") + campaign("CALL", "[outbound_call]", holdout=0.3)
                 + campaign("SMS", "[sms]") + campaign("DESK", "[front_desk]"))
    _, t = run(spark, tmp_path, base, campaigns, max_contacts=9)
    history = spark.createDataFrame([("2024-02", "h1", 3, "OLD", "sms", "P_X", dt.date(2024, 2, 10))], HISTORY_SCHEMA)
    root = tmp_path / "exports"
    written = exports.export_batch(t, history, exports.Destination(root), "2024-03",
                                   ["outbound_call", "sms", "front_desk", "customer_manager"], DAY, {"targets_version": 0})
    contacted = {ch: {r["contact_id"] for r in t.where(F.col("contacted") & (F.col("channel") == ch)).collect()}
                 for ch in ("outbound_call", "sms", "customer_manager")}
    for w in written:
        folder = root / w["channel"] / "2024-03"
        m = exports.verify(folder)
        assert m["rows"] == w["rows"] and m["batch"] == "2024-03"
    import csv
    calls = list(csv.DictReader((root / "outbound_call/2024-03/call_list.csv").open(encoding="utf-8")))
    assert {r["contact_id"] for r in calls} == contacted["outbound_call"] and 0 < len(calls) < 8  # holdouts never
    # what an outsourced call centre needs, nothing more: no subscriber id, campaign, factors or rule names
    assert list(calls[0]) == ["contact_id", "msisdn", "priority", "offer", "script", "contact_window"]
    sms = list(csv.DictReader((root / "sms/2024-03/sms_batch.csv").open(encoding="utf-8")))
    assert list(sms[0]) == ["contact_id", "msisdn", "text", "contact_window"] and len(sms) == 8
    orders = list(csv.DictReader((root / "customer_manager/2024-03/work_orders.csv").open(encoding="utf-8")))
    assert {r["order_id"] for r in orders} == contacted["customer_manager"]
    assert list(orders[0]) == ["order_id", "msisdn", "campaign_id", "value_tier", "churn_grade", "expected_value",
                               "policy_id", "policy_name", "policy_group", "reasons", "script", "due_date"]
    # the owner's only, whatever the umask: folders 0700, files 0600
    modes = {p.relative_to(root).as_posix(): p.stat().st_mode & 0o777 for p in [*root.rglob("*")]}
    assert modes == {**{ch: 0o700 for ch in ("outbound_call", "sms", "front_desk", "customer_manager")},
                     **{f"{ch}/2024-03": 0o700 for ch in ("outbound_call", "sms", "front_desk", "customer_manager")},
                     **{f"{ch}/2024-03/{f}": 0o600 for ch, (name, _) in exports.FILES.items()
                        for f in (name, "_manifest.json")}}
    assert float(orders[0]["expected_value"]) == max(float(o["expected_value"]) for o in orders)
    desk = [json.loads(x) for x in (root / "front_desk/2024-03/lookup.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(desk) == 8 and desk[0]["areas"] == ["retention", "traffic", "new_business", "vpn"]
    by_sub = {d["subscriber_id"]: d for d in desk}
    assert by_sub[3]["recent_contacts"] == [{"contact_date": "2024-02-10", "campaign_id": "OLD", "channel": "sms",
                                             "policy_id": "P_X"}]
    # a tampered file no longer matches its manifest
    (root / "sms/2024-03/sms_batch.csv").open("a", encoding="utf-8").write("x,y,z,w\n")
    with pytest.raises(ValueError, match="checksum"):
        exports.verify(root / "sms/2024-03")


def test_the_opt_out_list_fails_closed_and_names_file_and_line(conf):
    """No list: no targets (the error names the file); a header-only list: nobody opted out; a bad line is
    named; a list saved by Excel (byte-order mark) reads as any other; its rows and checksum are recorded."""
    import hashlib

    from inlife.marketing.targeting import campaign_config, read_opt_outs

    cfg = campaign_config(conf)
    landing = Path(conf.path("landing.root"))
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / "do_not_disturb.csv"
    with pytest.raises(CampaignError, match=rf"{re.escape(str(path))}: the opt-out list .* is missing: no target"):
        read_opt_outs(conf, cfg)
    path.write_text("subscriber_id,channel,reason\n", encoding="utf-8")
    assert read_opt_outs(conf, cfg).manifest()["rows"] == 0
    path.write_text("subscriber_id,channel,reason\n5,sms,asked\n6,fax,asked\n", encoding="utf-8")
    with pytest.raises(CampaignError, match=r"do_not_disturb.csv, line 3: .*got '6,fax,asked'"):
        read_opt_outs(conf, cfg)
    data = "subscriber_id,channel,reason\r\n5,sms,asked\r\n7,all,\r\n".encode("utf-8-sig")
    path.write_bytes(data)
    got = read_opt_outs(conf, cfg)
    assert (got.rows, got.manifest()) == ([(5, "sms", "asked"), (7, "all", "")], {
        "file": "do_not_disturb.csv", "rows": 2, "sha256": hashlib.sha256(data).hexdigest()})
    with pytest.raises(CampaignError, match=r"campaigns.yaml: policy.do_not_disturb_file names no opt-out list"):
        read_opt_outs(conf, dataclasses.replace(cfg, policy=dataclasses.replace(cfg.policy, do_not_disturb_file=None)))


def test_csv_exports_are_rfc_4180_and_spreadsheet_safe(spark, tmp_path):
    """Quotes doubled, fields with a comma, quote or line break quoted, CRLF (a line break within a field
    too); text that a spreadsheet would run as a formula goes out behind an apostrophe; the manifest counts
    records, not lines."""
    from inlife.marketing import exports

    frame = spark.createDataFrame([
        ("c1", "13800000001", 'Say "hi", friend', "09-12"),
        ("c2", "13800000002", '=HYPERLINK("http://x")', "09-12"),
        ("c3", "13800000003", "line one\nline two", "-1"),
        ("c4", "13800000004", "@SUM(A1)", "+1"),
    ], "contact_id string, msisdn string, text string, contact_window string")
    out = exports.write_channel(frame, exports.Destination(tmp_path), "sms", "b1", {})
    path = tmp_path / "sms" / "b1" / "sms_batch.csv"
    assert path.read_bytes().decode("utf-8") == (
        'contact_id,msisdn,text,contact_window\r\n'
        'c1,13800000001,"Say ""hi"", friend",09-12\r\n'
        'c2,13800000002,"\'=HYPERLINK(""http://x"")",09-12\r\n'
        'c3,13800000003,"line one\r\nline two",\'-1\r\n'
        "c4,13800000004,'@SUM(A1),'+1\r\n")
    assert out["rows"] == 4
    assert exports.verify(tmp_path / "sms" / "b1")["rows"] == 4


def test_contact_ids_are_hmac_sha256_of_batch_campaign_and_subscriber(spark):
    """The id Spark computes is RFC 2104's HMAC (Python's hmac module gives the same), for a short key and
    for one longer than SHA-256's block."""
    import hmac

    from inlife.marketing.targets import keyed_id

    rows = [("2024-03", "C_RETAIN", 1000000001), ("2024-03-30", "C_DAILY", 7), ("2024-03", "C_RETAIN", 1000000002)]
    frame = spark.createDataFrame(rows, "batch string, campaign_id string, subscriber_id long")
    for key in (KEY, b"k" * 100):
        got = [r[0] for r in frame.select(keyed_id(key, F.col("batch"), F.col("campaign_id"),
                                                   F.col("subscriber_id").cast("string"))).collect()]
        assert got == [hmac.new(key, f"{b}|{c}|{s}".encode(), "sha256").hexdigest()[:20] for b, c, s in rows]


def test_no_target_without_the_contact_key(conf, monkeypatch):
    from inlife.marketing.targeting import contact_key

    monkeypatch.delenv("INLIFE_CONTACT_KEY")
    with pytest.raises(CampaignError, match=r"campaigns.contact_key_env: the environment variable "
                                            r"INLIFE_CONTACT_KEY is not set: .*no target is issued"):
        contact_key(conf)
    monkeypatch.setenv("INLIFE_CONTACT_KEY", "short")
    with pytest.raises(CampaignError, match=r"INLIFE_CONTACT_KEY holds fewer than 16 characters"):
        contact_key(conf)
    monkeypatch.setenv("INLIFE_CONTACT_KEY", "sixteen chars ok")
    assert contact_key(conf) == b"sixteen chars ok"


def test_reasons_read_as_text_in_their_order(spark):
    from inlife.marketing.reasons import readable, reason_texts
    from inlife.rules.model import Rule, RuleSet

    ruleset = RuleSet(rules=[Rule("retention.r1", "retention", "retention", 10, 0, name="在网<12月 -> 预缴送费"),
                             Rule("no_name", "retention", "retention", 20, 1)], dimensions={})
    texts = reason_texts(ruleset)
    df = spark.createDataFrame([(1, ["retention.r1", "arpu", "no_name", "unknown_code"]), (2, [])],
                               "id long, reasons array<string>")
    assertDataFrameEqual(df.select("id", readable(F.col("reasons"), texts).alias("reasons")),
                         spark.createDataFrame([(1, ["在网<12月 -> 预缴送费",
                                                     "Revenue of the month before discounts (ARPU)",  # the dictionary's
                                                     "no_name", "unknown_code"]),
                                                (2, [])], "id long, reasons array<string>"))

"""Precedence and ties, rule-table versions, lint on a deliberately bad matrix, the published outputs."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from inlife.marketing.recommendations import recommendations
from inlife.rules.compile import Paths, check, load_ruleset, sync_rule_table
from inlife.rules.derived import add_derived
from inlife.rules.evaluate import evaluate_state, plan
from inlife.rules.lint import lint, render_table, write_outputs
from inlife.tables.catalogue import RECOMMENDATIONS, RULES, TAGS, TAGS_DAILY
from tests.rules.stateframes import KINDS, MONTH, state_frame

ROOT = Path(__file__).resolve().parents[2]


def conf_copy(conf, tmp_path: Path):
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    return conf.with_overrides({}), Paths(tmp_path / "conf/tags.yaml", tmp_path / "conf/matrices",
                                          tmp_path / "conf/policies.yaml")


def edit(path: Path, fn) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_precedence_then_file_order_decides(spark, conf, tmp_path):
    _, paths = conf_copy(conf, tmp_path)
    edit(paths.matrices / "vpn.yaml", lambda raw: raw.update(rules=[
        {"id": "vpn.late_but_first", "precedence": 20, "condition": "arpu > 0", "policy": "P_VPN_ROAM"},
        {"id": "vpn.early", "precedence": 10, "condition": "arpu > 0", "policy": "P_VPN_JOIN"},
        {"id": "vpn.tie_first", "precedence": 5, "condition": "arpu > 100", "policy": "P_VPN_ROAM"},
        {"id": "vpn.tie_second", "precedence": 5, "condition": "arpu > 100", "policy": "P_VPN_JOIN"},
    ]))
    ruleset, catalogue = load_ruleset(paths)
    nodes = check(ruleset, KINDS)
    state = add_derived(state_frame(spark, [{"arpu": 50.0}, {"arpu": 500.0}, {"arpu": 0.0}]), MONTH)
    plans = plan(ruleset, nodes, catalogue, MONTH, matrices=["vpn"])
    got = [recommendations(evaluate_state(spark, state, ruleset, plans), plans, catalogue, MONTH, 1)
           .orderBy("subscriber_id").select("vpn_policy", "vpn_rule").collect() for _ in range(2)]
    assert got[0] == got[1]  # deterministic
    assert [tuple(r) for r in got[0]] == [("P_VPN_JOIN", "vpn.early"), ("P_VPN_ROAM", "vpn.tie_first"), (None, None)]
    overlaps = lint(conf, paths=paths).of("overlap")
    assert any(f.rule == "vpn.tie_first / vpn.tie_second" for f in overlaps), overlaps


def test_rule_table_versions_change_only_with_content(spark, conf, tables, tmp_path):
    _, paths = conf_copy(conf, tmp_path)
    ruleset, _ = load_ruleset(paths)
    v0, written = sync_rule_table(spark, tables, ruleset)
    assert written
    again, written = sync_rule_table(spark, tables, load_ruleset(paths)[0])
    assert (again, written) == (v0, False)
    assert tables.version(RULES) == v0
    # reformatting the file (same content) changes nothing
    edit(paths.matrices / "traffic.yaml", lambda raw: None)
    assert sync_rule_table(spark, tables, load_ruleset(paths)[0]) == (v0, False)
    # one threshold changes: a new table version, only that rule's version moves
    edit(paths.matrices / "retention.yaml", lambda raw: raw["rules"][0].update(condition=raw["rules"][0]["condition"]
                                                                               .replace("arpu < 30", "arpu < 35")))
    v1, written = sync_rule_table(spark, tables, load_ruleset(paths)[0])
    assert written and v1 == v0 + 1
    rows = {r["rule_id"]: r for r in tables.read(RULES).collect()}
    assert rows["retention.prepay100_get260"]["rule_version"] == 2
    assert {r["rule_version"] for k, r in rows.items() if k != "retention.prepay100_get260"} == {1}
    # a parameter override is content too
    v2, written = sync_rule_table(spark, tables, load_ruleset(paths, {"min_ld_unit_price": 0.3})[0])
    assert written and v2 == v1 + 1
    rows = {r["rule_id"]: r for r in tables.read(RULES).collect()}
    assert rows["traffic.anhui_ld_pass"]["rule_version"] == 2 and rows["vpn.join"]["rule_version"] == 1


BAD = {
    "matrix": "bad", "family": "vpn",
    "rules": [
        {"id": "bad.contradiction", "precedence": 10, "condition": "arpu < 30 and arpu > 50", "policy": "P_VPN_JOIN"},
        {"id": "bad.empty_range", "precedence": 11, "condition": "100 <= arpu < 100", "policy": "P_VPN_JOIN"},
        {"id": "bad.values", "precedence": 12, "condition": "brand = 'GOTONE' and brand in ('MZONE', 'EASYOWN')",
         "policy": "P_VPN_JOIN"},
        {"id": "bad.overlap_a", "precedence": 20, "when": {"value_tier": "high"}, "condition": "arpu > 100",
         "policy": "P_VPN_JOIN"},
        {"id": "bad.overlap_b", "precedence": 20, "condition": "arpu > 150", "policy": "P_VPN_ROAM"},
        {"id": "bad.disjoint_a", "precedence": 30, "condition": "arpu < 10", "policy": "P_VPN_JOIN"},
        {"id": "bad.disjoint_b", "precedence": 30, "condition": "arpu >= 10", "policy": "P_VPN_ROAM"},
        {"id": "bad.unknown_column", "precedence": 40, "condition": "foo > 1", "policy": "P_VPN_JOIN"},
        {"id": "bad.unknown_policy", "precedence": 41, "condition": "arpu > 1", "policy": "P_NOPE"},
        {"id": "bad.reflect", "precedence": 42, "condition": "reflect('java.lang.Runtime', 'exec', 'id') = 'x'",
         "policy": "P_VPN_JOIN"},
        {"id": "bad.dimension_value", "precedence": 43, "when": {"value_tier": "platinum"}, "policy": "P_VPN_JOIN"},
        {"id": "bad.string_vs_number", "precedence": 44, "condition": "vip_level > 2", "policy": "P_VPN_JOIN"},
        {"id": "bad.rare", "precedence": 50, "condition": "arpu > 100000", "policy": "P_VPN_JOIN"},
        {"id": "bad.expired", "precedence": 51, "condition": "arpu > 1", "policy": "P_VPN_2009_PROMO"},
    ],
}


def test_lint_finds_what_is_wrong_with_a_bad_matrix(spark, conf, tmp_path):
    _, paths = conf_copy(conf, tmp_path)
    (paths.matrices / "bad.yaml").write_text(yaml.safe_dump(BAD, allow_unicode=True), encoding="utf-8")
    state = state_frame(spark, [
        {"arpu": 5.0, "value_tier": "high", "churn_grade": "normal", "stickiness_grade": "high"},
        {"arpu": 200.0, "value_tier": "high", "churn_grade": "abnormal", "stickiness_grade": "mid"},
        {"arpu": 20.0, "value_tier": "low", "churn_grade": "normal", "stickiness_grade": "none",
         "is_group_member": 1, "is_vpn_member": 0},
    ])
    report = lint(conf, spark, state, MONTH, paths=paths)
    kinds = {}
    for f in report.findings:
        kinds.setdefault(f.kind, set()).add(f.rule)
    assert {"bad.unknown_column", "bad.unknown_policy", "bad.reflect", "bad.dimension_value",
            "bad.string_vs_number"} <= kinds["malformed"]
    malformed = {f.rule: f for f in report.of("malformed")}
    assert "bad.yaml" in malformed["bad.reflect"].source and "reflect" in malformed["bad.reflect"].message
    assert {"bad.contradiction", "bad.empty_range", "bad.values", "bad.expired"} <= kinds["never_fires"]
    assert "bad.overlap_a / bad.overlap_b" in kinds["overlap"]
    assert not any("disjoint" in r for r in kinds["overlap"])
    assert "bad.rare" in kinds["never_fired"] and "bad.overlap_a" not in kinds["never_fired"]
    counts = {c["rule_id"]: c["subscribers"] for c in report.rule_counts}
    assert counts["bad.overlap_a"] == 1 and counts["bad.disjoint_a"] == 1 and counts["vpn.join"] == 1
    assert report.subscribers == 3
    assert report.unmatched == 0  # every subscriber hit some matrix rule (cells of the priority matrix)
    cells = {(c["value_tier"], c["churn_grade"], c["stickiness_grade"]): c for c in report.cells}
    assert cells[("high", "abnormal", "mid")]["subscribers"] == 1
    files = write_outputs(report, tmp_path / "lint")
    html = (tmp_path / "lint" / "lint_heatmap.html").read_text(encoding="utf-8")
    assert "<table>" in html and "high" in html and "bad.rare" in html and "<script" not in html
    assert any(f.endswith("lint_rule_counts.csv") for f in files)
    assert "bad.reflect" in render_table(report)
    # what a planner sees: counts from 1 to 9 (rules.lint_min_count 10) only as "< 10"
    import csv
    shown = {r["rule_id"]: r["subscribers"]
             for r in csv.DictReader((tmp_path / "lint" / "lint_rule_counts.csv").open(encoding="utf-8"))}
    assert (shown["bad.overlap_a"], shown["vpn.join"], shown["bad.rare"]) == ("< 10", "< 10", "0")
    assert [line.split()[-2:] for line in render_table(report).splitlines()
            if line.split()[:2] == ["bad", "bad.overlap_a"]] == [["<", "10"]]
    cells_csv = list(csv.DictReader((tmp_path / "lint" / "lint_cells.csv").open(encoding="utf-8")))
    assert {c["subscribers"] for c in cells_csv} == {"< 10"}
    assert "&lt; 10" in html and "<b>1</b>" not in html


def test_month_and_day_runs_publish_validated_tables(spark, conf, tables):
    from inlife.marketing.build import build_daily_tags, build_recommendations

    state = state_frame(spark, [
        {"tenure_months": 5, "return_rate": 90.0, "arpu": 25.0, "vip_level": "GOLD", "value_tier": "mid"},
        {"month_end_balance": 1.0, "complained_unresolved": 1, "churn_grade": "abnormal", "value_tier": "high"},
        {},
    ])
    first = build_recommendations(spark, conf, MONTH, state=state)
    assert first.rules_written
    recs = {r["subscriber_id"]: r for r in tables.read(RECOMMENDATIONS, partitions={"month": MONTH}).collect()}
    assert len(recs) == 3 and recs[1]["main_policy"] == "P_PREPAY100_GET260"
    assert recs[1]["rules_version"] == first.rules_version
    from inlife.pipeline import sample_recommendations
    sample = sample_recommendations(tables.read(RECOMMENDATIONS, partitions={"month": MONTH}), 3)
    assert sample[0].startswith("sample recommendations (of those with a main policy, 1 shown)")
    assert sample[1:] == [f"  1: priority {'>'.join(recs[1]['priority_order'])} ({recs[1]['priority_rule']}); "
                          f"main P_PREPAY100_GET260 by {recs[1]['main_policy_rule']}; group G3 by {recs[1]['policy_group_rule']}; "
                          f"tags {', '.join(recs[1]['tags'])}"]
    tags = {(r["subscriber_id"], r["tag_id"]): r for r in tables.read(TAGS).collect()}
    assert (1, "vip_gold") in tags and tags[(1, "vip_gold")]["rule_id"] == "vip_gold"
    assert tags[(2, "screen_low_month_end_balance")]["screening"] is True
    second = build_recommendations(spark, conf, MONTH, state=state)
    assert (second.rules_version, second.rules_written) == (first.rules_version, False)
    assert tables.read(RECOMMENDATIONS).count() == 3  # the month was replaced, not appended
    build_daily_tags(spark, conf, "2024-04-02", state=state, state_month=MONTH)
    daily = tables.read(TAGS_DAILY, partitions={"day": "2024-04-02"}).collect()
    assert {r["tag_id"] for r in daily if r["subscriber_id"] == 2} == {
        "screen_low_month_end_balance", "screen_unresolved_complaint", "screen_model_high_risk"}
    assert all(r["screening"] for r in daily) and not any(r["tag_id"] == "vip_gold" for r in daily)

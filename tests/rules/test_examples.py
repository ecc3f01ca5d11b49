"""Every tag, screening rule and matrix example, in the shipped configuration: one subscriber built
to meet it (and near misses built to fail it), one evaluation over all of them."""
from __future__ import annotations

import pytest

from inlife.marketing.recommendations import recommendations
from inlife.rules.compile import load_checked
from inlife.rules.derived import add_derived
from inlife.rules.evaluate import evaluate_state, plan
from tests.rules.stateframes import MONTH, state_frame

TAGGED = {  # name -> (state, expected tags)
    "diamond": ({"vip_level": "DIAMOND"}, {"vip_diamond"}),
    "gold": ({"vip_level": "GOLD"}, {"vip_gold"}),
    "silver": ({"vip_level": "SILVER"}, {"vip_silver"}),
    "key_person": ({"is_key_person": 1}, {"group_key_person"}),
    "sensitive": ({"complaints": 0, "complaints_avg3": 1.5}, {"sensitive"}),
    "suggestion": ({"survey_unsatisfied": 2}, {"suggestion_type"}),
    "nb_lover": ({"vas_newspaper_subscribed": 1, "vas_crbt_subscribed": 1, "vas_ringtone_change_subscribed": 0,
                  "vas_mobile_internet_subscribed": 0}, {"new_business_lover"}),
    "family": ({"is_vpn_member": 1, "is_group_member": 0}, {"family_business"}),
    "echannel": ({"echannel_days": 3}, {"echannel_preference"}),
    "negative": ({"net_revenue": -3.0}, {"negative_value"}),
    "identity": ({"vip_level": "NONE", "influence_pagerank": 4.0}, {"identity_customer"}),
    "not_identity": ({"vip_level": "NONE", "influence_pagerank": 1.0}, set()),
    # retention screening
    "no_recharge": ({"prepaid_flag": 1, "activation_date": "2024-01-15", "last_recharge_date": None},
                    {"screen_no_recharge_after_activation"}),
    "recharged": ({"prepaid_flag": 1, "activation_date": "2024-01-15", "last_recharge_date": "2024-02-01"}, set()),
    "too_recent": ({"prepaid_flag": 1, "activation_date": "2024-03-20"}, set()),
    "young_low": ({"tenure_months": 3, "month_end_balance": 8.0}, {"screen_young_low_balance"}),
    "recharge_period": ({"prepaid_flag": 1, "month_end_balance": 10.0, "arpu": 40.0}, {"screen_recharge_period"}),
    "low_balance": ({"month_end_balance": 2.0}, {"screen_low_month_end_balance"}),
    "high_risk": ({"churn_grade": "abnormal"}, {"screen_model_high_risk"}),
    "high_decile": ({"churn_grade": "normal", "churn_decile": 1}, {"screen_model_high_risk"}),
    "complainer": ({"complaints": 4}, {"sensitive", "screen_frequent_complaints"}),
    "unresolved": ({"complained_unresolved": 1}, {"screen_unresolved_complaint"}),
    "bundle_end": ({"has_bundle": 1, "bundle_months_left": 1}, {"screen_bundle_ending"}),
    "bundle_far": ({"has_bundle": 1, "bundle_months_left": 5}, set()),
    "competitor": ({"competitor_service_calls": 3, "competitor_service_calls_avg3": 1.0}, {"screen_competitor_calls"}),
}

QUARTERS_OK = {"return_rate_q1": 90.0, "return_rate_q2": 95.0, "return_rate_q3": 88.0}
MATRIX = {
    # retention: tenure < 12, 86 < return rate <= 100, ARPU < 30 -> prepay 100 get 260 (+ policy group 3)
    "prepay": {"tenure_months": 5, "return_rate": 90.0, "arpu": 25.0, "value_tier": "mid", "churn_grade": "normal"},
    "prepay_rr100": {"tenure_months": 11, "return_rate": 100.0, "arpu": 29.9},
    "prepay_rr86": {"tenure_months": 5, "return_rate": 86.0, "arpu": 25.0},
    "prepay_arpu30": {"tenure_months": 5, "return_rate": 90.0, "arpu": 30.0},
    "prepay_tenure12": {"tenure_months": 12, "return_rate": 90.0, "arpu": 25.0},
    # retention: tenure > 12, return rate > 86 each of the previous three quarters, 100 <= ARPU < 150 -> group 6
    "group6": dict(QUARTERS_OK, tenure_months=24, arpu=120.0),
    "group6_arpu100": dict(QUARTERS_OK, tenure_months=13, arpu=100.0),
    "group6_arpu150": dict(QUARTERS_OK, tenure_months=24, arpu=150.0),
    "group6_q2_low": dict(QUARTERS_OK, tenure_months=24, arpu=120.0, return_rate_q2=86.0),
    "group6_q3_missing": dict(QUARTERS_OK, tenure_months=24, arpu=120.0, return_rate_q3=None),
    # retention: family product as main policy plus the family group
    "family_product": {"value_tier": "high", "churn_grade": "abnormal", "circle_depth_hhi": 0.3, "net_revenue": 50.0},
    # priority: high stickiness, no abnormal change, mid/high value, no 0/1 bundle or one ending within 3 months
    "bundling_none": {"stickiness_grade": "high", "churn_grade": "normal", "value_tier": "mid_high", "has_bundle": 0},
    "bundling_ending": {"stickiness_grade": "high", "churn_grade": "normal", "value_tier": "high", "has_bundle": 1,
                        "bundle_class": "ZERO_ONE", "bundle_months_left": 3},
    "bundling_long": {"stickiness_grade": "high", "churn_grade": "normal", "value_tier": "high", "has_bundle": 1,
                      "bundle_class": "ZERO_ONE", "bundle_months_left": 10},
    "bundling_mid_stick": {"stickiness_grade": "mid", "churn_grade": "normal", "value_tier": "high", "has_bundle": 0},
    "bundling_low_value": {"stickiness_grade": "high", "churn_grade": "normal", "value_tier": "mid", "has_bundle": 0},
    # traffic: out-of-province-called group, top LD province Anhui, LD price > 0.25, LD minutes not too high
    "anhui": {"segment_name": "out_of_province_called", "top_ld_province": "安徽", "ld_unit_price": 0.3,
              "voice_ld_mo_min": 20.0},
    "anhui_henan": {"segment_name": "out_of_province_called", "top_ld_province": "河南", "ld_unit_price": 0.3,
                    "voice_ld_mo_min": 20.0},
    "anhui_cheap": {"segment_name": "out_of_province_called", "top_ld_province": "安徽", "ld_unit_price": 0.25,
                    "voice_ld_mo_min": 20.0},
    "anhui_heavy": {"segment_name": "out_of_province_called", "top_ld_province": "安徽", "ld_unit_price": 0.3,
                    "voice_ld_mo_min": 800.0},
    "anhui_other_segment": {"segment_name": "local_talkers", "top_ld_province": "安徽", "ld_unit_price": 0.3,
                            "voice_ld_mo_min": 20.0},
    # new business by propensity, but not for negative-value subscribers
    "newspaper": {"newspaper_response_grade": "high", "vas_newspaper_subscribed": 0, "net_revenue": 10.0},
    "newspaper_negative": {"newspaper_response_grade": "high", "vas_newspaper_subscribed": 0, "net_revenue": -1.0},
    "multi_nb": {"newspaper_response_grade": "high", "crbt_silent_response_grade": "high",
                 "vas_newspaper_subscribed": 0, "net_revenue": 10.0},
    # VPN
    "vpn": {"is_group_member": 1, "is_vpn_member": 0, "churn_grade": "normal"},
    "nothing": {},
}
NAMES = list(TAGGED) + list(MATRIX)


@pytest.fixture(scope="module")
def results(spark, base_conf):
    rows = [TAGGED[n][0] for n in TAGGED] + [MATRIX[n] for n in MATRIX]
    state = add_derived(state_frame(spark, rows), MONTH)
    ruleset, catalogue, nodes = load_checked(base_conf)
    plans = plan(ruleset, nodes, catalogue, MONTH)
    evaluated = evaluate_state(spark, state, ruleset, plans)
    recs = recommendations(evaluated, plans, catalogue, MONTH, 1).collect()
    return {NAMES[r["subscriber_id"] - 1]: r.asDict() for r in recs}


@pytest.mark.parametrize("name", list(TAGGED))
def test_tag(results, name):
    assert set(results[name]["tags"]) == TAGGED[name][1]


def test_prepay_100_get_260(results):
    r = results["prepay"]
    assert (r["main_policy"], r["main_policy_rule"]) == ("P_PREPAY100_GET260", "retention.prepay100_get260")
    assert r["main_policy_kind"] == "bundle_01"
    assert r["main_policy_script"].startswith("预存100元")
    # one main policy plus one policy group
    assert (r["policy_group"], r["policy_group_default"], r["policy_group_rule"]) == \
        ("G3", "P_PREPAY50_GET80", "retention.group3_young_low_arpu")
    assert results["prepay_rr100"]["main_policy"] == "P_PREPAY100_GET260"
    for miss in ("prepay_rr86", "prepay_arpu30", "prepay_tenure12"):
        assert results[miss]["main_policy_rule"] != "retention.prepay100_get260", miss


def test_policy_group_6(results):
    r = results["group6"]
    assert (r["policy_group"], r["policy_group_rule"]) == ("G6", "retention.group6")
    # no main-policy rule matched: the group's default is the main policy
    assert (r["main_policy"], r["main_policy_rule"]) == ("P_PREPAY500_GET700", "retention.group6")
    assert results["group6_arpu100"]["policy_group"] == "G6"
    for miss in ("group6_arpu150", "group6_q2_low", "group6_q3_missing"):
        assert results[miss]["policy_group"] is None, miss


def test_family_product_main_policy_and_group(results):
    r = results["family_product"]
    assert (r["main_policy"], r["main_policy_kind"], r["policy_group"]) == ("P_FAMILY_NETWORK", "family_product",
                                                                           "G_FAMILY")
    assert r["priority_order"][0] == "retention"


def test_value_bundling_first(results):
    for name in ("bundling_none", "bundling_ending"):
        r = results[name]
        assert r["priority_rule"] == "priority.value_bundling_first", name
        assert r["priority_order"] == ["retention", "traffic", "new_business", "vpn"]
    assert results["bundling_long"]["priority_rule"] == "priority.cell.normal.high+mid_high"
    assert results["bundling_long"]["priority_order"][0] == "new_business"
    assert results["bundling_mid_stick"]["priority_rule"] != "priority.value_bundling_first"
    assert results["bundling_low_value"]["priority_rule"] == "priority.cell.normal.mid"
    assert results["nothing"]["priority_rule"] == "priority.default"
    assert results["nothing"]["priority_order"] == ["retention", "new_business", "traffic", "vpn"]


def test_anhui_ld_pass(results):
    r = results["anhui"]
    assert r["traffic_policies"][0] == "P_ANHUI_LD_PASS"
    assert r["traffic_rules"][0] == "traffic.anhui_ld_pass"
    for miss in ("anhui_henan", "anhui_cheap", "anhui_heavy", "anhui_other_segment"):
        assert "P_ANHUI_LD_PASS" not in results[miss]["traffic_policies"], miss


def test_new_business_and_exclusion_by_tag(results):
    assert results["newspaper"]["new_business_policies"] == ["P_NEWSPAPER_TRIAL"]
    assert results["newspaper_negative"]["new_business_policies"] == []
    assert results["multi_nb"]["new_business_policies"] == ["P_NEWSPAPER_TRIAL", "P_CRBT_TRIAL"]
    assert results["multi_nb"]["new_business_rules"] == ["new_business.newspaper", "new_business.crbt"]


def test_vpn_offer_and_priority(results):
    r = results["vpn"]
    assert (r["vpn_policy"], r["vpn_rule"]) == ("P_VPN_JOIN", "vpn.join")
    assert r["priority_order"][0] == "vpn" and r["priority_rule"] == "priority.group_member_vpn"


def test_nothing_matched(results):
    r = results["nothing"]
    assert r["main_policy"] is None and r["policy_group"] is None and r["vpn_policy"] is None
    assert r["new_business_policies"] == [] and r["traffic_policies"] == [] and r["tags"] == []

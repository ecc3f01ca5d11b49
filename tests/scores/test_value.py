"""AHP weights and consistency, and the value index with its tiers."""
from __future__ import annotations

import pytest
import yaml

from inlife.errors import ConfigError
from inlife.scores.ahp import checked_priorities, parse_matrix, priorities
from inlife.scores.value import group_value, load_value_model, subscriber_value


def test_textbook_example():
    # The classic three-criteria example: A is moderately more important than B (3), strongly more than C
    # (5), B moderately more than C (3). Principal eigenvector 0.637 / 0.258 / 0.105, lambda_max 3.0385,
    # CI = (3.0385 - 3) / 2 = 0.0193, CR = 0.0193 / 0.58 = 0.033.
    p = priorities(parse_matrix([[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]], "example"))
    assert p.weights == pytest.approx((0.637, 0.258, 0.105), abs=5e-4)
    assert p.lambda_max == pytest.approx(3.0385, abs=1e-4)
    assert p.ci == pytest.approx(0.0193, abs=1e-4)
    assert p.cr == pytest.approx(0.033, abs=5e-4)


def test_inconsistent_matrix_stops_naming_it():
    # A > B (9), B > C (9), yet C > A (9): a circle of preferences
    with pytest.raises(ConfigError, match=r"value_model.yaml: subscriber.matrix: consistency ratio \d\.\d+ >= 0.1"):
        checked_priorities([[1, 9, "1/9"], ["1/9", 1, 9], [9, "1/9", 1]], "value_model.yaml: subscriber.matrix")


def test_non_reciprocal_and_malformed_matrices():
    with pytest.raises(ConfigError, match=r"not reciprocal: entry \[0\]\[1\] = 3 but \[1\]\[0\] = 0.5"):
        parse_matrix([[1, 3], ["1/2", 1]], "m")
    with pytest.raises(ConfigError, match="must be square"):
        parse_matrix([[1, 2, 3], ["1/2", 1, 2]], "m")
    with pytest.raises(ConfigError, match="numbers or fractions"):
        parse_matrix([[1, "x"], [1, 1]], "m")


def test_shipped_value_model_is_consistent(base_conf):
    model = load_value_model(base_conf)
    assert sum(model.subscriber.column_weights().values()) == pytest.approx(1.0)
    assert [t for t, _ in model.tiers] == ["high", "mid_high", "mid", "low"]


def small_model(tmp_path):
    path = tmp_path / "value_model.yaml"
    path.write_text(yaml.safe_dump({
        "subscriber": {"criteria": ["a", "b"], "matrix": [[1, 3], ["1/3", 1]],
                       "indicators": {"a": {"columns": ["x"], "matrix": [[1]]},
                                      "b": {"columns": ["y"], "matrix": [[1]]}}},
        "group": {"criteria": ["direct_value"], "matrix": [[1]],
                  "indicators": {"direct_value": {"columns": ["member_arpu_sum"], "matrix": [[1]]}}},
        "normalisation": {"method": "winsorised", "limits": [0.0, 1.0]},
        "tiers": [{"name": "high", "top_share": 0.1}, {"name": "mid_high", "top_share": 0.3},
                  {"name": "mid", "top_share": 0.9}, {"name": "low", "top_share": 1.0}]}), encoding="utf-8")
    return load_value_model(path=path)


def test_value_score_and_tiers_by_hand(spark, tmp_path):
    model = small_model(tmp_path)
    # weights 3:1 -> 0.75 / 0.25; x and y scale min-max to 0-100 (limits 0 and 1: no clipping)
    view = spark.createDataFrame([(i, "2024-03", float(10 * i), float(90 - 10 * i)) for i in range(10)],
                                 "subscriber_id long, month string, x double, y double")
    got = {r.subscriber_id: (r.value_score, r.value_tier) for r in subscriber_value(view, model).collect()}
    # score = 0.75 * x/90*100 + 0.25 * (90-x)/90*100: 25 for x = 0 up to 75 for x = 90
    expected_scores = {i: 100 * (0.75 * 10 * i + 0.25 * (90 - 10 * i)) / 90 for i in range(10)}
    assert {i: s for i, (s, _) in got.items()} == pytest.approx(expected_scores, abs=1e-3)
    # top 10 % high, next 20 % mid-high, middle 60 % mid, bottom 10 % low
    assert {i: t for i, (_, t) in got.items()} == {9: "high", 8: "mid_high", 7: "mid_high", 0: "low",
                                                   **{i: "mid" for i in range(1, 7)}}


def test_group_value_from_members(spark, tmp_path):
    model = small_model(tmp_path)
    cols = "subscriber_id long, month string, group_id long, arpu double, influence_weighted_in_degree double, " \
           "has_arrears int, tenure_months int, is_key_person int"
    view = spark.createDataFrame([(1, "2024-03", 100, 50.0, 1.0, 0, 10, 1), (2, "2024-03", 100, 70.0, 0.5, 0, 20, 0),
                                  (3, "2024-03", 200, 10.0, 0.1, 1, 5, 1), (4, "2024-03", None, 99.0, 0.0, 0, 1, 0)],
                                 cols)
    value = spark.createDataFrame([(i, "2024-03", float(i)) for i in (1, 2, 3, 4)],
                                  "subscriber_id long, month string, value_score double")
    got = {r.group_id: (r.members, r.value_score, r.value_tier) for r in group_value(view, value, model).collect()}
    # direct value only: member ARPU 120 vs 10 -> 100 and 0 after min-max scaling; with two groups no
    # score is strictly above the 90th or 70th percentile (both are 100), so the better one is "mid"
    assert got == {100: (2, 100.0, "mid"), 200: (1, 0.0, "low")}


def test_an_indicator_with_no_values_scores_zero(spark, tmp_path):
    # the first month has no history: 3-month averages are all null, and the others still rank
    model = small_model(tmp_path)
    view = spark.createDataFrame([(i, "2024-01", float(10 * i), None) for i in range(10)],
                                 "subscriber_id long, month string, x double, y double")
    got = {r.subscriber_id: r.value_score for r in subscriber_value(view, model).collect()}
    assert got == pytest.approx({i: 0.75 * 100 * i / 9 for i in range(10)}, abs=1e-3)

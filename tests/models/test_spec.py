"""Model specs: structure errors name the spec file; tables and columns are checked before training."""
from __future__ import annotations

import pytest

from inlife.models.spec import SpecError, check_against_tables, load_spec, parse_spec, spec_names
from inlife.tables.catalogue import OUTCOMES
from tests.models import synth


def test_shipped_specs_load(base_conf):
    names = spec_names(base_conf)
    assert {"churn", "stickiness", "newspaper_response", "crbt_silent_response", "ringtone_change_active",
            "mobile_internet_silent_active", "mobile_internet_fluctuation"} <= set(names)
    for name in names:
        spec = load_spec(base_conf, name)
        assert {"logistic_regression", "gbt"} <= set(spec.algorithms)
        assert spec.label_table == OUTCOMES
        assert {"subscriber_id", "msisdn", "status", "status_date", "activation_date"} <= set(spec.exclude)


@pytest.mark.parametrize("patch, message", [
    ({"kind": "mood"}, "kind: 'mood' is not one of 'churn', 'stickiness' or 'propensity'"),
    ({"algorithms": {"svm": {}}}, "algorithms.svm: unknown key"),
    ({"algorithms": {"gbt": {"depth": [3]}}}, "algorithms.gbt.depth: unknown key"),
    ({"algorithms": {"gbt": {"maxDepth": [2, 3, 4, 5], "maxIter": [5, 10, 20, 40]}}}, "16 candidates"),
    ({"imbalance": "smote"}, "imbalance: 'smote' is not one of 'class_weight' or 'none'"),
    ({"colour": "red"}, "colour: unknown key"),
])
def test_malformed_spec_names_file_and_key(patch, message):
    data = synth.spec()
    data.update(patch)
    with pytest.raises(SpecError) as err:
        parse_spec(data, "churn_x", "/somewhere/churn_x.yaml")
    assert str(err.value).startswith("/somewhere/churn_x.yaml: ")
    assert message in str(err.value)


def test_missing_table_and_columns_fail_with_spec_file(spark, conf, tables, tmp_path):
    synth.write_tables(spark, tables, months=("2024-01",), n=20)
    conf = conf.with_overrides({"models.specs_dir": str(tmp_path / "specs")})

    def check(data):
        path = synth.write_spec(tmp_path / "specs", "m", data)
        with pytest.raises(SpecError) as err:
            check_against_tables(load_spec(conf, "m"), tables)
        assert str(err.value).startswith(path + ": ")
        return str(err.value)

    bad = synth.spec()
    bad["features"]["table"] = "unified.no_such_view"
    assert "features.table unified.no_such_view does not exist" in check(bad)
    bad = synth.spec(label="churned_next_9m")
    assert "label.column names column(s) not in unified.outcomes: churned_next_9m" in check(bad)
    bad = synth.spec(columns=["arpu", "arpu_yoy"])
    assert "features.columns names column(s) not in unified.customer_view: arpu_yoy" in check(bad)
    bad = synth.spec()
    bad["features"]["categorical"] = ["brand", "star_sign"]
    assert "features.categorical names column(s) not in unified.customer_view: star_sign" in check(bad)


def test_all_numeric_minus_exclusions(spark, conf, tables, tmp_path):
    synth.write_tables(spark, tables, months=("2024-01",), n=20)
    data = synth.spec()
    data["features"]["exclude_patterns"] = ["circle_*"]
    spec = parse_spec(data, "m", "m.yaml")
    plan = check_against_tables(spec, tables)
    assert plan.categorical == ["brand", "vip_level"]
    assert "subscriber_id" not in plan.numeric and "circle_breadth" not in plan.numeric
    assert {"arpu", "complaints", "tenure_months", "month_end_balance"} <= set(plan.numeric)

"""The condition language: what it accepts, and every kind of rejection (before Spark sees anything)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from inlife.rules.compile import Paths, check, load_ruleset
from inlife.rules.syntax import RuleError
from inlife.rules.expressions import columns_of, parse
from tests.rules.stateframes import KINDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", [
    "86 < return_rate <= 100 and arpu < 30",
    "tenure_months > 12 and 100 <= arpu < 150",
    "vip_level in ('GOLD', 'DIAMOND') and not (arpu between 10 and 20)",
    "vip_level not in ('NONE') or arpu not between 1 and 2",
    "bundle_end_date <= '2024-05-31' and last_recharge_date is null and value_tier is not null",
    "abs(arpu - arpu_avg3) / greatest(arpu_avg3, 1) > 0.3",
    "round(ld_unit_price, 2) >= 0.25 and lower(top_ld_province) = '安徽'",
    "coalesce(has_bundle, 0) = 0 or bundle_months_left <= 3",
    "-arpu_mom > 0.2 and arpu % 2 = 0 and sqrt(arpu) > 1",
    "churn_grade = 'abnormal' OR churn_decile <= $d",
    "(stickiness_grade = 'high') and TRUE",
])
def test_accepted(text):
    node = parse(text, KINDS, {"d": 2})
    assert node.type == "boolean"
    assert columns_of(node) <= set(KINDS)


REJECTED = [
    # (condition, message fragment, offending part fragment)
    ("reflect('java.lang.Runtime', 'getRuntime') is null", "function reflect() is not allowed", "reflect("),
    ("java_method('java.lang.System', 'exit', 0) = 0", "function java_method() is not allowed", "java_method("),
    ("my_udf(arpu) > 1", "function my_udf() is not allowed", "my_udf(arpu)"),
    ("input_file_name() = 'x'", "function input_file_name() is not allowed", "input_file_name()"),
    ("length(read_files('/etc/passwd')) > 0", "function read_files() is not allowed", "read_files("),
    ("arpu > (select max(arpu) from unified.customer_view)", "subqueries and SQL statements are not allowed", "select"),
    ("arpu in (select arpu from t)", "subqueries are not allowed", "select"),
    ("exists (select 1)", "not allowed", "exists"),
    ("arpu > 1; drop table marketing.rules", "statement separators", ";"),
    ("arpu > 1 -- comment", "comments are not allowed", "--"),
    ("unified.arpu > 1", "qualified names", "."),
    ("`arpu` > 1", "quoted identifiers", "`"),
    ("no_such_factor > 3", "unknown column 'no_such_factor'", "no_such_factor"),
    ("vip_level > 3", "type mismatch: cannot compare string with number", "vip_level > 3"),
    ("arpu = 'high'", "type mismatch", "arpu = 'high'"),
    ("value_tier in ('high', 3)", "type mismatch", "value_tier in"),
    ("arpu + vip_level > 1", "needs numbers", "arpu + vip_level"),
    ("arpu and tenure_months > 1", "AND needs true/false", "arpu"),
    ("arpu", "must be true or false", "arpu"),
    ("arpu > $missing", "unknown parameter $missing", "$missing"),
    ("arpu > ", "ends too early", ""),
    ("arpu > 1 arpu", "unexpected", "arpu"),
    ("abs(arpu, 2) > 1", "abs() takes 1 argument", "abs(arpu, 2)"),
    ("upper(arpu) = 'X'", "upper() takes a string", "arpu"),
    ("arpu in (arpu_avg3)", "IN lists may hold literals only", "arpu_avg3"),
    ("has_tag('no_such_tag')", "unknown tag", "has_tag"),
    ("tags is null", "cannot be used", "tags"),
    # conditions that passed the checker and then failed, or matched everyone, at run time
    ("activation_date > 'yesterday'", "'yesterday' is compared with a date but is not one", "'yesterday'"),
    ("bundle_end_date in ('2024-06-30', '30/06/2024')", "'30/06/2024' is compared with a date", "'30/06/2024'"),
    ("activation_date between '2024-01-01' and '2024-1-31'", "'2024-1-31' is compared with a date", "'2024-1-31'"),
    ("arpu > $nan", "parameter $nan is nan: a condition compares with finite numbers only", "$nan"),
    ("arpu < $inf", "parameter $inf is inf", "$inf"),
    ("arpu < 1e999", "the number 1e999 is inf", "1e999"),
    # nobody is singled out by name or number
    ("msisdn = '13800138000'", "column 'msisdn' identifies one customer", "msisdn"),
    ("subscriber_id in (1001, 1002)", "column 'subscriber_id' identifies one customer", "subscriber_id"),
    ("msisdn between '1380013' and '1380014' and arpu > 1", "'msisdn' identifies one customer", "msisdn"),
]


@pytest.mark.parametrize("text,message,part", REJECTED)
def test_rejected_with_file_rule_and_part(text, message, part):
    kinds = dict(KINDS, tags="array<string>")
    with pytest.raises(RuleError) as err:
        parse(text, kinds, {"d": 1, "nan": float("nan"), "inf": float("inf")}, tags={"vip_gold"},
              where="conf/matrices/retention.yaml", rule="retention.x")
    msg = str(err.value)
    assert msg.startswith("conf/matrices/retention.yaml: rule retention.x: "), msg
    assert message in msg, msg
    assert part.lower() in (err.value.part or "").lower(), (err.value.part, msg)


def test_tags_cannot_use_has_tag():
    with pytest.raises(RuleError, match="tags cannot depend on tags"):
        parse("has_tag('vip_gold')", KINDS, tags=None, where="conf/tags.yaml", rule="t")


def _copy_conf(tmp_path: Path) -> Paths:
    import shutil
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    return Paths(conf / "tags.yaml", conf / "matrices", conf / "policies.yaml")


def test_a_bad_condition_in_a_rule_file_names_file_rule_and_part(tmp_path):
    paths = _copy_conf(tmp_path)
    raw = yaml.safe_load(paths.tags.read_text(encoding="utf-8"))
    raw["tags"][0]["condition"] = "reflect('java.lang.Thread', 'sleep', 100000) is null"
    paths.tags.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    ruleset, _ = load_ruleset(paths)
    with pytest.raises(RuleError) as err:
        check(ruleset, KINDS)
    assert str(paths.tags) in str(err.value) and "rule vip_diamond" in str(err.value)
    assert "reflect" in str(err.value)


def test_the_shipped_rules_all_check():
    ruleset, catalogue = load_ruleset(Paths(ROOT / "conf/tags.yaml", ROOT / "conf/matrices", ROOT / "conf/policies.yaml"))
    nodes = check(ruleset, KINDS)
    assert len(nodes) == len(ruleset.rules)
    families = {r.family for r in ruleset.rules}
    assert families == {"tag", "priority", "retention", "new_business", "traffic", "vpn"}
    tag_ids = ruleset.tag_ids()
    for t in ["vip_diamond", "vip_gold", "vip_silver", "group_key_person", "sensitive", "suggestion_type",
              "new_business_lover", "family_business", "echannel_preference", "negative_value", "identity_customer",
              "screen_no_recharge_after_activation", "screen_young_low_balance", "screen_recharge_period",
              "screen_low_month_end_balance", "screen_model_high_risk", "screen_frequent_complaints",
              "screen_unresolved_complaint", "screen_bundle_ending", "screen_competitor_calls"]:
        assert t in tag_ids
    assert catalogue.groups["G6"].default in catalogue.groups["G6"].policies


def test_a_new_model_spec_gives_the_rules_its_columns(tmp_path):
    """The state's model and value columns come from conf/models and conf/value_model.yaml, not from code."""
    from inlife.rules.columns import static_kinds
    from tests.rules.stateframes import CONF

    specs = tmp_path / "models"
    shutil.copytree(ROOT / "conf" / "models", specs)
    shutil.copy(specs / "churn.yaml", specs / "port_out_risk.yaml")
    kinds = static_kinds(CONF.with_overrides({"models.specs_dir": str(specs)}))
    new = {c: kinds[c] for c in kinds if c.startswith("port_out_risk_") or c.startswith("value_")}
    assert new == {"port_out_risk_score": "number", "port_out_risk_probability": "number",
                   "port_out_risk_decile": "number", "port_out_risk_grade": "string",
                   "value_score": "number", "value_tier": "string", "value_current": "number",
                   "value_loyalty": "number", "value_influence": "number"}
    assert "port_out_risk_score" not in KINDS


@pytest.mark.parametrize("text, never", [
    ("bundle_end_date < '2024-06-30'", None),                                    # a documented form
    ("bundle_end_date < '2024-06-30' and bundle_end_date > '2024-01-01'", None),
    ("bundle_end_date < '2024-01-01' and bundle_end_date >= '2024-06-30'", "bundle_end_date"),
    ("arpu > 5 and arpu < 3", "arpu"),
    ("arpu >= 5 and arpu <= 5 and arpu = 5", None),
    ("arpu > 5 and arpu in (1, 2)", "arpu"),
    ("top_ld_province in ('安徽', '浙江') and top_ld_province != '安徽' and top_ld_province != '浙江'",
     "top_ld_province"),
])
def test_lint_finds_contradictions_on_dates_and_numbers_without_failing(text, never):
    from inlife.rules.lint import conjuncts, contradiction

    assert contradiction(conjuncts(parse(text, KINDS))) == never


@pytest.mark.parametrize("text, message", [
    ("s = '" + "x" * 10_000_000 + "'", r"the condition is 10,000,006 characters long, more than 4,000"),
    (" and ".join(["arpu > 1"] * 150), r"the condition has 599 terms, more than 400: split it into tags \(at character 1300\)"),
    (" or ".join(["arpu > 1"] * 600)[:3990], r"the condition has [\d,]+ terms, more than 400"),
    ("(" * 100 + "arpu > 1" + ")" * 100, r"nests more than 32 levels \(at character 32\)"),
    ("not " * 100 + "arpu > 1", r"nests more than 32 levels \(at character 128\)"),
    ("arpu > " + "9" * 5000, r"the condition is 5,007 characters long"),
    ("arpu > 1234567890123456789", r"a number of more than 18 digits \(at character 7\)"),
])
def test_conditions_beyond_the_bounds_are_refused_before_parsing(text, message):
    with pytest.raises(RuleError, match=message) as err:
        parse(text, KINDS, where="tags.yaml", rule="T1")
    assert str(err.value).startswith("tags.yaml: rule T1: ")


def test_conditions_within_the_bounds_parse():
    assert parse(" and ".join(["arpu > 1"] * 100), KINDS).type == "boolean"
    assert parse("(" * 30 + "arpu > -1" + ")" * 30, KINDS).type == "boolean"
    assert parse("arpu - -1 > 123456789012345678", KINDS).type == "boolean"


def test_arithmetic_that_overflows_is_null_not_a_failed_run(spark):
    """Under ANSI mode ``tenure_months * 2147483647 * 4`` raised an overflow in the middle of a run; the
    condition is now null there (so false), as it is for a missing value, and exact elsewhere."""
    from inlife.rules.translate import to_column

    frame = spark.createDataFrame([(1, 2, 10), (3, 0, 20), (None, 1, 30)], "tenure_months int, d int, id int")
    kinds = {"tenure_months": "number", "d": "number"}
    conditions = ["tenure_months * 2147483647 * 4 > 0", "tenure_months + 2147483647 > 0",
                  "-tenure_months - 2147483647 < 0", "tenure_months % d = 1", "tenure_months / d > 0.4"]
    got = frame.select("id", *[to_column(parse(c, kinds)).alias(f"c{i}") for i, c in enumerate(conditions)])
    assert [tuple(r) for r in got.orderBy("id").collect()] == [
        (10, None, None, True, True, True),     # 1 * 2147483647 * 4 overflows an int: null; 1 + 2^31-1 too;
                                                # -1 - (2^31-1) is the smallest int, no overflow
        (20, None, None, None, None, None),     # -3 - (2^31-1) overflows; 3 % 0 and 3 / 0: null
        (30, None, None, None, None, None)]     # a missing value: null

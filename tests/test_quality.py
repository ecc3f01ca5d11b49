"""The one-pass checks (inlife.quality.onepass) judge every kind of expectation inlife's suites use as Great
Expectations does, case by case on a hand-built frame; the validator stores each result for Data Docs under
its table, batch and run, explains failures with Great Expectations' samples, and leaves a suite it cannot
compute to Great Expectations."""
from __future__ import annotations

import json

import pytest

from inlife.quality import QualityError, Validator, onepass

ROWS = [  # id, n, m, s, x
    (1, 1, 0, "A", 1.0),
    (2, 2, 2, "B", None),
    (3, 5, None, "A", None),
    (4, None, None, None, None),
    (5, 2, 3, "Z1", -1.0),
    (6, 2, 3, "Z1", 0.5),
]
SCHEMA = "id int, n int, m int, s string, x double"


def e(kind: str, **kwargs) -> dict:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


# (expectation, success, unexpected count) worked out by hand on ROWS; None: no unexpected count
CASES = [
    (e("column_values_to_not_be_null", column="id"), True, 0),
    (e("column_values_to_not_be_null", column="n"), False, 1),
    (e("column_values_to_not_be_null", column="n", mostly=0.8), True, 1),          # 5 of 6
    (e("column_values_to_not_be_null", column="n", mostly=0.84), False, 1),
    (e("column_values_to_be_between", column="n", min_value=1, max_value=2), False, 1),   # 5; null ignored
    (e("column_values_to_be_between", column="n", min_value=1, max_value=2, mostly=0.75), True, 1),  # 4 of 5
    (e("column_values_to_be_between", column="n", min_value=1, max_value=5, strict_min=True), False, 1),
    (e("column_values_to_be_between", column="n", min_value=0), True, 0),
    (e("column_values_to_be_between", column="n", max_value=2, strict_max=True), False, 4),
    (e("column_values_to_be_between", column="x", min_value=-1, max_value=3.0), True, 0),
    (e("column_values_to_be_between", column="x", min_value=-0.5), False, 1),
    (e("column_values_to_be_in_set", column="s", value_set=["A", "B"]), False, 2),
    (e("column_values_to_be_in_set", column="s", value_set=["A", "B", "Z1"]), True, 0),
    (e("column_values_to_be_in_set", column="n", value_set=[1, 2, 5]), True, 0),
    (e("column_values_to_match_regex", column="s", regex="^[A-Z]$"), False, 2),
    (e("column_values_to_match_regex", column="s", regex="^[A-Z]"), True, 0),
    (e("column_values_to_be_unique", column="id"), True, 0),
    (e("column_values_to_be_unique", column="n"), False, None),               # 2 three times
    (e("column_values_to_be_unique", column="x"), True, 0),                   # nulls are not values
    (e("compound_columns_to_be_unique", column_list=["n", "m"]), False, None),   # (2, 3) twice
    (e("compound_columns_to_be_unique", column_list=["id", "s"]), True, 0),
    (e("compound_columns_to_be_unique", column_list=["m", "x"]), True, 0),    # the two all-null rows ignored
    (e("compound_columns_to_be_unique", column_list=["m", "x"], ignore_row_if="never"), False, None),
    (e("compound_columns_to_be_unique", column_list=["m", "x"], ignore_row_if="any_value_is_missing"), True, 0),
    (e("column_pair_values_a_to_be_greater_than_b", column_A="n", column_B="m"), False, 3),   # 2>2, 2>3 twice
    (e("column_pair_values_a_to_be_greater_than_b", column_A="n", column_B="m", or_equal=True), False, 2),
    (e("column_pair_values_a_to_be_greater_than_b", column_A="n", column_B="m", or_equal=True, mostly=0.6),
     True, 2),                                                                # 3 of 5 considered
    (e("column_pair_values_a_to_be_greater_than_b", column_A="n", column_B="m", or_equal=True,
       ignore_row_if="either_value_is_missing", mostly=0.5), True, 2),        # 2 of 4
    (e("table_row_count_to_equal", value=6), True, None),
    (e("table_row_count_to_equal", value=5), False, None),
    (e("column_sum_to_be_between", column="x", min_value=0, max_value=10), True, None),     # 0.5
    (e("column_sum_to_be_between", column="x", min_value=0.5, strict_min=True), False, None),
]

EMPTY_CASES = [
    (e("column_values_to_not_be_null", column="n"), True),
    (e("column_values_to_be_between", column="n", min_value=1, max_value=2), True),
    (e("compound_columns_to_be_unique", column_list=["n", "m"]), True),
    (e("column_pair_values_a_to_be_greater_than_b", column_A="n", column_B="m"), True),
    (e("table_row_count_to_equal", value=0), True),
    (e("column_sum_to_be_between", column="x", min_value=0), False),         # no sum: GX fails it
]


def gx_results(spark, df, expectations: list[dict]) -> list:
    """Great Expectations' own results (SUMMARY, with unexpected counts) for ``expectations`` on ``df``."""
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    batch = ctx.data_sources.add_spark("s", persist=False).add_dataframe_asset("a") \
        .add_batch_definition_whole_dataframe("b").get_batch(batch_parameters={"dataframe": df})
    suite = gx.ExpectationSuite(name="cases", expectations=expectations)
    results = {key(r.expectation_config): r for r in batch.validate(suite, result_format="SUMMARY").results}
    return [results[key(x)] for x in suite.expectation_configurations]     # GX orders results its own way


def key(config) -> tuple:
    return config.type, json.dumps({k: v for k, v in config.kwargs.items() if k != "batch_id"}, sort_keys=True)


def test_one_pass_judges_every_case_as_worked_out_and_as_great_expectations_does(spark):
    df = spark.createDataFrame(ROWS, SCHEMA)
    expectations = [c[0] for c in CASES]
    ours = onepass.evaluate(df, expectations)
    theirs = gx_results(spark, df, expectations)
    got = [(x["type"], x["kwargs"], s, r.get("unexpected_count")) for x, (s, r) in zip(expectations, ours)]
    assert got == [(x["type"], x["kwargs"], s, u) for x, s, u in CASES]
    assert [r.success for r in theirs] == [s for _, s, _ in CASES]
    assert all(not r.exception_info.get("raised_exception") for r in theirs)
    assert [u for _, _, u in CASES] == [r.result.get("unexpected_count") if u is not None else None
                                         for (_, _, u), r in zip(CASES, theirs)]


def test_one_pass_on_an_empty_frame_judges_as_great_expectations_does(spark):
    df = spark.createDataFrame([], SCHEMA)
    expectations = [c[0] for c in EMPTY_CASES]
    assert [s for s, _ in onepass.evaluate(df, expectations)] == [s for _, s in EMPTY_CASES]
    assert [r.success for r in gx_results(spark, df, expectations)] == [s for _, s in EMPTY_CASES]


@pytest.mark.parametrize("expectation", [
    e("column_values_to_not_be_in_set", column="s", value_set=["Q"]),           # a kind it does not compute
    e("column_values_to_be_between", column="s", min_value=1, max_value=2),     # a string against numbers
    e("column_values_to_be_between", column="n", min_value=3, max_value=2),     # GX reports an error
    e("column_values_to_be_unique", column="n", mostly=0.5),                    # no unexpected count here
    e("column_values_to_not_be_null", column="nowhere"),
    e("column_values_to_not_be_null", column="n", row_condition='n>1', condition_parser="spark"),
])
def test_what_one_pass_cannot_compute_is_left_to_great_expectations(spark, expectation):
    df = spark.createDataFrame(ROWS, SCHEMA)
    assert onepass.evaluate(df, [e("column_values_to_not_be_null", column="id"), expectation]) is None


SUITE = {"name": "raw.cases", "expectations": [
    e("column_values_to_not_be_null", column="id"),
    e("column_values_to_be_between", column="n", min_value={"$PARAMETER": "low"}, max_value=5),
    e("table_row_count_to_equal", value={"$PARAMETER": "rows"}),
]}


def stored(validator: Validator) -> list[tuple[str, str, bool, list[tuple[str, bool]]]]:
    store = validator._context().validation_results_store
    out = []
    for key in store.list_keys():
        r = store.get(key)
        run = r.meta["run_id"]
        out.append((run["run_name"] if isinstance(run, dict) else run.run_name, r.meta["active_batch_definition"]["data_asset_name"], r.success,
                    [(x.expectation_config.type, x.success) for x in r.results]))
    return sorted(out)


def test_results_are_stored_by_table_batch_and_run_and_failures_explained(spark, conf):
    df = spark.createDataFrame(ROWS, SCHEMA)
    validator = Validator(conf)
    ok = validator.validate("raw.cases", df, {"low": 1, "rows": None}, suite=SUITE, batch="2024-01-01..2024-01-31")
    bad = validator.validate("raw.cases", df, {"low": 2, "rows": 6}, suite=SUITE, batch="2024-02")
    assert (ok.success, ok.evaluated, ok.skipped, ok.failures) == (
        True, 2, ["expect_table_row_count_to_equal (no rows)"], [])
    assert (bad.success, bad.evaluated, [str(f) for f in bad.failures]) == (
        False, 3, ["expect_column_values_to_be_between(n): 1 unexpected value(s), e.g. [1]"])
    assert stored(validator) == [
        ("raw.cases 2024-01-01..2024-01-31", "raw.cases", True,
         [("expect_column_values_to_not_be_null", True), ("expect_column_values_to_be_between", True)]),
        ("raw.cases 2024-02", "raw.cases", False,
         [("expect_column_values_to_not_be_null", True), ("expect_column_values_to_be_between", False),
          ("expect_table_row_count_to_equal", True)]),
    ]


def test_a_suite_one_pass_cannot_compute_is_validated_by_great_expectations(spark, conf):
    df = spark.createDataFrame(ROWS, SCHEMA)
    suite = {"name": "raw.cases", "expectations": [e("column_values_to_not_be_in_set", column="s", value_set=["B"]),
                                                   e("column_values_to_not_be_null", column="id")]}
    outcome = Validator(conf).validate("raw.cases", df, suite=suite)
    assert (outcome.success, [str(f) for f in outcome.failures]) == (
        False, ["expect_column_values_to_not_be_in_set(s): 1 unexpected value(s), e.g. ['B']"])


def test_a_malformed_suite_names_its_file(spark, conf):
    df = spark.createDataFrame(ROWS, SCHEMA)
    with pytest.raises(QualityError, match=r"expectations/raw/cases\.json: invalid expectation suite"):
        Validator(conf).validate("raw.cases", df, suite={"name": "x", "expectations": [{"kwargs": {}}]})

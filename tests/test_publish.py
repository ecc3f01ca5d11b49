"""Publication: a job's tables are committed together or not at all - also when built side by side."""
from __future__ import annotations

import json

import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.publish import Publication
from inlife.quality import QualityError


def _suites(tmp_path, names):
    """A suite per table: values of x between 0 and 10."""
    for name in names:
        layer, table = name.split(".")
        path = tmp_path / "suites" / layer / f"{table}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"name": name, "expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0, "max_value": 10}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}}]}))
    return str(tmp_path / "suites")


def _frame(spark, month, values):
    return spark.createDataFrame([(i, month, v) for i, v in enumerate(values)], "id long, month string, x long")


NAMES = ["smoke.a", "smoke.b", "smoke.c", "smoke.d"]


@pytest.mark.parametrize("workers", [1, 3])
def test_all_or_nothing_in_the_order_added(spark, conf, tables, tmp_path, workers):
    conf = conf.with_overrides({"quality.expectations_dir": _suites(tmp_path, NAMES)})
    with Publication(tables, conf, workers=workers) as pub:
        for k, name in enumerate(NAMES):
            pub.add(name, _frame(spark, "2024-01", [k] * (k + 1)))
    assert [r.table for r in pub.results] == NAMES
    assert [r.rows for r in pub.results] == [1, 2, 3, 4]
    assert all(r.validation_seconds > 0 for r in pub.results)
    versions = {n: tables.version(n) for n in NAMES}

    # February: smoke.c breaks its suite; nothing of February is committed, whichever table finished first
    with pytest.raises(QualityError, match=r"smoke\.c: 1 of 2 expectations failed: "
                                           r"expect_column_values_to_be_between\(x\)"):
        with Publication(tables, conf, workers=workers) as pub:
            for k, name in enumerate(NAMES):
                pub.add(name, _frame(spark, "2024-02", [99] if name == "smoke.c" else [k]))
    assert {n: tables.version(n) for n in NAMES} == versions
    assert {n: tables.read(n).count() for n in NAMES} == {n: k + 1 for k, n in enumerate(NAMES)}


@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_a_commit_failing_after_others_rolls_them_back(spark, conf, tmp_path, engine):
    """delta-spark writes its files at commit, so a job can fail after some of its tables committed: those are
    restored to the versions the job staged against, and every table reads as before the job."""
    from inlife.tables import Tables, base

    tables = Tables(spark, conf.with_overrides({"lake.engine": engine}))
    conf = conf.with_overrides({"quality.expectations_dir": _suites(tmp_path, NAMES)})
    with Publication(tables, conf) as pub:
        for k, name in enumerate(NAMES):
            pub.add(name, _frame(spark, "2024-01", [k]))
    before = {n: tables.version(n) for n in NAMES}

    def fail_on_c(table):
        if table == "smoke.c":
            raise RuntimeError("the executors of smoke.c's write were lost")
    base.BEFORE_COMMIT_HOOKS.append(fail_on_c)
    try:
        with pytest.raises(RuntimeError, match="smoke.c's write were lost"):
            with Publication(tables, conf) as pub:
                for k, name in enumerate(NAMES):
                    pub.add(name, _frame(spark, "2024-01", [k + 5]))
    finally:
        base.BEFORE_COMMIT_HOOKS.remove(fail_on_c)
    for k, name in enumerate(NAMES):
        assertDataFrameEqual(tables.read(name), _frame(spark, "2024-01", [k]))
    # a and b committed, then were restored by a new version each; c and d were never committed
    assert {n: tables.version(n) - before[n] for n in NAMES} == {"smoke.a": 2, "smoke.b": 2, "smoke.c": 0,
                                                                   "smoke.d": 0}
    assert [h["operation"] for h in tables.history("smoke.a", 1)] == ["RESTORE"]

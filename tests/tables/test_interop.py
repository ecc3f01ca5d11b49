"""Both engines write the same Delta protocol: a table takes commits from one engine after the other."""
from __future__ import annotations

import deltalake
import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.tables import Tables

SCHEMA = "id long, month string, amount double"
NAME = "smoke.shared"


def rows(spark, month, ids, amount):
    return spark.createDataFrame([(i, month, float(amount)) for i in ids], SCHEMA)


@pytest.mark.parametrize("first,second", [("delta-rs", "delta-spark"), ("delta-spark", "delta-rs")])
def test_a_table_takes_commits_from_either_engine(spark, conf, first, second):
    one = Tables(spark, conf.with_overrides({"lake.engine": first}))
    two = Tables(spark, conf.with_overrides({"lake.engine": second}))
    assert (one.engine.name, two.engine.name) == (first, second)
    one.overwrite(NAME, rows(spark, "2024-01", [1, 2], 1).union(rows(spark, "2024-02", [3], 1)),
                  partition_by=["month"])
    two.overwrite_partitions(NAME, rows(spark, "2024-02", [4, 5], 2))
    two.append(NAME, rows(spark, "2024-03", [6], 2))
    one.overwrite_partitions(NAME, rows(spark, "2024-01", [7], 3))
    expected = rows(spark, "2024-01", [7], 3).union(rows(spark, "2024-02", [4, 5], 2)).union(
        rows(spark, "2024-03", [6], 2))
    assertDataFrameEqual(one.read(NAME), expected)
    assertDataFrameEqual(two.read(NAME), expected)
    assertDataFrameEqual(two.read(NAME, version=1), rows(spark, "2024-01", [1, 2], 1).union(
        rows(spark, "2024-02", [4, 5], 2)))
    assert one.version(NAME) == two.version(NAME) == 3
    # and a reader that is neither engine
    table = deltalake.DeltaTable(one.location(NAME)).to_pyarrow_table()
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == sorted(
        (r.asDict() for r in expected.collect()), key=lambda r: r["id"])

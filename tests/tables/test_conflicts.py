"""The delta-spark engine's conflict rule over log actions committed since a write was staged."""
from __future__ import annotations

import pytest

from inlife.tables.base import APPEND, OVERWRITE, OVERWRITE_PARTITIONS
from inlife.tables.delta_spark import conflict


def add(month, data_change=True):
    return {"add": {"path": f"month={month}/f.parquet", "partitionValues": {"month": month},
                    "dataChange": data_change}}


def remove(month, data_change=True):
    return {"remove": {"path": f"month={month}/g.parquet", "partitionValues": {"month": month},
                       "dataChange": data_change}}


COMMIT_INFO = {"commitInfo": {"operation": "WRITE"}}
OURS = {("2024-02",)}

CASES = [
    # (mode, commits since staging, why it conflicts or None)
    (OVERWRITE_PARTITIONS, [[COMMIT_INFO, add("2024-01"), remove("2024-01")]], None),
    (OVERWRITE_PARTITIONS, [[COMMIT_INFO, add("2024-01")], [COMMIT_INFO, add("2024-02")]],
     "partition month=2024-02 changed"),
    (OVERWRITE_PARTITIONS, [[COMMIT_INFO, remove("2024-02")]], "partition month=2024-02 changed"),
    (OVERWRITE_PARTITIONS, [[COMMIT_INFO, add("2024-02", False), remove("2024-02", False)]], None),  # OPTIMIZE
    (OVERWRITE_PARTITIONS, [[{"commitInfo": {"operation": "VACUUM START"}}]], None),
    (OVERWRITE, [[COMMIT_INFO, add("2024-09")]], "its data changed"),
    (OVERWRITE, [[COMMIT_INFO, add("2024-09", False)]], None),
    (APPEND, [[COMMIT_INFO, add("2024-02")], [COMMIT_INFO, remove("2024-02")]], None),
    (APPEND, [[COMMIT_INFO, {"metaData": {"id": "x"}}]], "the table's schema or protocol changed"),
    (OVERWRITE_PARTITIONS, [[COMMIT_INFO, {"protocol": {"minWriterVersion": 7}}]],
     "the table's schema or protocol changed"),
]


@pytest.mark.parametrize("mode,winners,expected", CASES)
def test_conflict_rule(mode, winners, expected):
    assert conflict(mode, winners, ["month"], OURS if mode == OVERWRITE_PARTITIONS else None) == expected

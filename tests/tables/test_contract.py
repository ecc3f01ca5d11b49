"""The table contract, run against both engines (delta-spark skips only where set-up found no Maven)."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import deltalake
import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from inlife.errors import ConflictError, ConstraintError, SchemaMismatchError, TableError
from inlife.tables import APPEND, OVERWRITE_PARTITIONS, Tables
from inlife.tables.catalogue import raw

SCHEMA = "id long, month string, amount double, tag string"
NAME = "smoke.contract"


@pytest.fixture(params=["delta-rs", "delta-spark"])
def tables(request, spark, conf):
    from inlife.session import delta_jars, delta_spark_available

    if request.param == "delta-spark" and not delta_spark_available(spark):
        # set-up fetches the jars wherever Maven is installed: only a machine without it may skip
        assert not delta_jars(conf), f"the Delta Lake jars {delta_jars(conf)} are there but did not load"
        pytest.skip("delta-spark engine: no Delta Lake jars (Maven is missing; see `make jars`)")
    return Tables(spark, conf.with_overrides({"lake.engine": request.param}))


def frame(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def months_frame(spark, tag, months=("2024-01", "2024-02", "2024-03"), per_month=3):
    return frame(spark, [(i, m, float(i), tag) for m in months for i in range(per_month)])


def data_files(tables, name, version=None):
    """Data file paths of a snapshot, via deltalake (works for tables of either engine)."""
    root = tables.location(name).rstrip("/") + "/"
    dt = deltalake.DeltaTable(tables.location(name), version=version)
    return sorted(u.split(root, 1)[-1] for u in dt.file_uris())


def test_create_read_empty_and_location(tables, spark, conf):
    tables.create(NAME, frame(spark, []).schema, partition_by=["month"])
    assert tables.location(NAME) == f"{conf.path('lake.root')}/smoke/contract"
    assert tables.exists(NAME)
    assert tables.version(NAME) == 0
    assert tables.partition_columns(NAME) == ["month"]
    assertDataFrameEqual(tables.read(NAME), frame(spark, []))
    with pytest.raises(TableError, match="already exists"):
        tables.create(NAME, frame(spark, []).schema, partition_by=["month"])


def test_append_overwrite_and_versions(tables, spark):
    tables.append(NAME, months_frame(spark, "a"), partition_by=["month"])
    tables.append(NAME, frame(spark, [(100, "2024-04", 1.0, "b")]))
    assertDataFrameEqual(tables.read(NAME), months_frame(spark, "a").union(frame(spark, [(100, "2024-04", 1.0, "b")])))
    result = tables.overwrite(NAME, frame(spark, [(7, "2024-09", 7.0, "c")]))
    assert (result.version, result.mode) == (2, "overwrite")
    assertDataFrameEqual(tables.read(NAME), frame(spark, [(7, "2024-09", 7.0, "c")]))
    # time travel: by version and by timestamp
    assertDataFrameEqual(tables.read(NAME, version=0), months_frame(spark, "a"))
    v1_time = tables.history(NAME)[1]["timestamp"]
    assert tables.history(NAME)[1]["version"] == 1
    assertDataFrameEqual(tables.read(NAME, timestamp=v1_time), tables.read(NAME, version=1))
    assert [h["version"] for h in tables.history(NAME)] == [2, 1, 0]


def test_time_travel_goes_by_the_commit_timestamps_history_shows(spark, conf):
    """delta-rs: deltalake's own timestamp lookup goes by the log files' modification times, which come a
    little after the commit timestamps that history() reports; reading at the time history gives for a
    version must give that version even when its log file was written late (here: 10 s late)."""
    tables = Tables(spark, conf.with_overrides({"lake.engine": "delta-rs"}))
    tables.append(NAME, months_frame(spark, "a"), partition_by=["month"])
    tables.append(NAME, frame(spark, [(100, "2024-04", 1.0, "b")]))
    log = os.path.join(tables.location(NAME), "_delta_log", f"{1:020d}.json")
    st = os.stat(log)
    os.utime(log, (st.st_atime + 10, st.st_mtime + 10))
    v1 = next(h for h in tables.history(NAME) if h["version"] == 1)
    assertDataFrameEqual(tables.read(NAME, timestamp=v1["timestamp"]), tables.read(NAME, version=1))
    v0 = next(h for h in tables.history(NAME) if h["version"] == 0)
    assertDataFrameEqual(tables.read(NAME, timestamp=v0["timestamp"]), months_frame(spark, "a"))
    with pytest.raises(TableError, match="no version at"):
        tables.read(NAME, timestamp=datetime(2000, 1, 1, tzinfo=timezone.utc))


def test_overwrite_partitions_touches_only_its_partitions(tables, spark):
    tables.overwrite(NAME, months_frame(spark, "first"), partition_by=["month"])
    before = data_files(tables, NAME)
    result = tables.overwrite_partitions(NAME, months_frame(spark, "second", months=("2024-02",), per_month=2))
    assert result.mode == OVERWRITE_PARTITIONS
    expected = (months_frame(spark, "first", months=("2024-01", "2024-03"))
                .union(months_frame(spark, "second", months=("2024-02",), per_month=2)))
    assertDataFrameEqual(tables.read(NAME), expected)
    after = data_files(tables, NAME)
    # the other months keep the very same data files: nothing of theirs was rewritten
    untouched = [f for f in before if "month=2024-02" not in f]
    assert untouched and set(untouched) <= set(after)
    assert [f for f in after if f not in before] and all("month=2024-02" in f for f in after if f not in before)
    # a rerun of the same month gives the same content (idempotent)
    tables.overwrite_partitions(NAME, months_frame(spark, "second", months=("2024-02",), per_month=2))
    assertDataFrameEqual(tables.read(NAME), expected)
    # partition pruning on read
    assertDataFrameEqual(tables.read(NAME, partitions={"month": ["2024-02"]}),
                         months_frame(spark, "second", months=("2024-02",), per_month=2))


def test_overwrite_partitions_needs_a_partitioned_table(tables, spark):
    tables.overwrite(NAME, months_frame(spark, "a"))
    with pytest.raises(TableError, match="not partitioned"):
        tables.overwrite_partitions(NAME, months_frame(spark, "b"))


def test_schema_mismatch_lists_the_differences(tables, spark):
    tables.append(NAME, months_frame(spark, "a"), partition_by=["month"])
    bad = spark.createDataFrame([(1, "2024-01", "x", 3)], "id int, month string, tag string, extra int")
    with pytest.raises(SchemaMismatchError) as err:
        tables.append(NAME, bad)
    msg = str(err.value)
    assert "table smoke.contract" in msg
    assert "missing from the frame: amount" in msg
    assert "not in the table: extra int" in msg
    assert "type differs: id (table bigint, frame int)" in msg
    assert tables.version(NAME) == 0  # nothing written


def test_schema_evolution_adds_nullable_columns_only_when_asked(tables, spark):
    tables.append(NAME, months_frame(spark, "a", per_month=1), partition_by=["month"])
    wider = spark.createDataFrame([(9, "2024-05", 1.0, "b", 2.5)], SCHEMA + ", score double")
    with pytest.raises(SchemaMismatchError, match="not in the table: score double"):
        tables.append(NAME, wider)
    tables.append(NAME, wider, evolve=True)
    expected = spark.createDataFrame(
        [(i, m, float(i), "a", None) for m in ("2024-01", "2024-02", "2024-03") for i in range(1)]
        + [(9, "2024-05", 1.0, "b", 2.5)], SCHEMA + ", score double")
    assertDataFrameEqual(tables.read(NAME), expected)
    # evolution never drops a column
    with pytest.raises(SchemaMismatchError, match="missing from the frame: score"):
        tables.append(NAME, months_frame(spark, "c"), evolve=True)


def test_columns_in_another_order_are_aligned(tables, spark):
    tables.append(NAME, months_frame(spark, "a", per_month=1), partition_by=["month"])
    tables.append(NAME, frame(spark, [(5, "2024-06", 5.0, "z")]).select("tag", "amount", "month", "id"))
    assert tables.read(NAME).where("id = 5").collect() == [Row(id=5, month="2024-06", amount=5.0, tag="z")]


def test_tables_are_real_delta_tables(tables, spark):
    tables.overwrite(NAME, months_frame(spark, "a"), partition_by=["month"])
    tables.overwrite_partitions(NAME, months_frame(spark, "b", months=("2024-03",)))
    dt = deltalake.DeltaTable(tables.location(NAME))
    got = sorted(dt.to_pyarrow_table().to_pylist(), key=lambda r: (r["month"], r["id"]))
    want = sorted((r.asDict() for r in tables.read(NAME).collect()), key=lambda r: (r["month"], r["id"]))
    assert got == want
    assert dt.metadata().partition_columns == ["month"]


def test_vacuum_removes_unreferenced_files_only(tables, spark):
    tables.overwrite(NAME, months_frame(spark, "a"), partition_by=["month"])
    tables.overwrite(NAME, months_frame(spark, "b"))
    live = data_files(tables, NAME)
    root = tables.location(NAME)
    on_disk_before = {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                      for f in fs if f.endswith(".parquet")}
    assert len(on_disk_before) > len(live)
    tables.vacuum(NAME, retention_hours=0)
    on_disk_after = {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                     for f in fs if f.endswith(".parquet")}
    assert on_disk_after == set(live)
    assertDataFrameEqual(tables.read(NAME), months_frame(spark, "b"))


def test_concurrent_overwrites_one_wins_one_conflicts(tables, spark):
    tables.overwrite(NAME, months_frame(spark, "base"), partition_by=["month"])
    # two writers both read version 0, then commit one after the other
    first = tables.stage(NAME, months_frame(spark, "first", months=("2024-01",)), OVERWRITE_PARTITIONS)
    second = tables.stage(NAME, months_frame(spark, "second", months=("2024-01",)), OVERWRITE_PARTITIONS)
    assert first.commit().version == 1
    with pytest.raises(ConflictError, match="table smoke.contract: another writer committed first"):
        second.commit()
    expected = months_frame(spark, "base", months=("2024-02", "2024-03")).union(
        months_frame(spark, "first", months=("2024-01",)))
    assertDataFrameEqual(tables.read(NAME), expected)
    assert tables.version(NAME) == 1
    # the loser left no files behind: what is on disk is exactly what versions 0 and 1 reference
    referenced = set(data_files(tables, NAME, 0)) | set(data_files(tables, NAME, 1))
    assert set(_parquet_on_disk(tables.location(NAME))) == referenced


def test_concurrent_appends_both_land(tables, spark):
    tables.overwrite(NAME, months_frame(spark, "base", per_month=1), partition_by=["month"])
    a = tables.stage(NAME, frame(spark, [(100, "2024-01", 1.0, "a")]), APPEND)
    b = tables.stage(NAME, frame(spark, [(200, "2024-02", 2.0, "b")]), APPEND)
    a.commit()
    b.commit()  # a blind append cannot conflict: it is retried on top of the newer version
    assert sorted(r.id for r in tables.read(NAME).collect()) == [0, 0, 0, 100, 200]
    assert tables.version(NAME) == 2


def test_aborted_stage_leaves_nothing(tables, spark):
    tables.overwrite(NAME, months_frame(spark, "base"), partition_by=["month"])
    staged = tables.stage(NAME, months_frame(spark, "never"), OVERWRITE_PARTITIONS)
    staged.abort()
    assert tables.version(NAME) == 0
    assertDataFrameEqual(tables.read(NAME), months_frame(spark, "base"))


def test_combined_stages_commit_as_one_version(tables, spark):
    """Parts staged one by one (a backfill's passes) replace their partitions in one commit; a part staged
    against another version cannot join them; an aborted combination leaves the table as it was."""
    tables.overwrite(NAME, months_frame(spark, "base"), partition_by=["month"])
    jan, feb = (months_frame(spark, "new", months=(m,), per_month=2) for m in ("2024-01", "2024-02"))
    aborted = tables.combine([tables.stage(NAME, jan, OVERWRITE_PARTITIONS),
                              tables.stage(NAME, feb, OVERWRITE_PARTITIONS)])
    aborted.abort()
    assert tables.version(NAME) == 0
    assertDataFrameEqual(tables.read(NAME), months_frame(spark, "base"))
    parts = [tables.stage(NAME, jan, OVERWRITE_PARTITIONS), tables.stage(NAME, feb, OVERWRITE_PARTITIONS)]
    result = tables.combine(parts).commit()
    assert result.version == tables.version(NAME) == 1
    assertDataFrameEqual(tables.read(NAME), jan.union(feb).union(months_frame(spark, "base", months=("2024-03",))))
    with pytest.raises(TableError, match="already committed or aborted"):
        parts[0].commit()                      # spent: its rows were committed by the combination
    late = tables.stage(NAME, jan, OVERWRITE_PARTITIONS)
    with pytest.raises(TableError, match="cannot commit as one"):
        tables.combine([tables.stage(NAME, feb, APPEND), late])
    tables.combine([late]).commit()            # one part is itself
    assert tables.version(NAME) == 2


def test_names_and_layers_are_checked(tables, spark):
    with pytest.raises(TableError, match="not of the form layer.table"):
        tables.location("voice")
    with pytest.raises(TableError, match="unknown layer 'bronze'"):
        tables.location("bronze.voice")
    with pytest.raises(TableError, match="table raw.nothing does not exist at"):
        tables.read(raw("nothing"))
    with pytest.raises(TableError, match=r"partition column\(s\) \['day'\] are not in the schema"):
        tables.append(NAME, months_frame(spark, "a"), partition_by=["day"])


def _parquet_on_disk(root):
    return [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
            if f.endswith(".parquet") and "_staging" not in d]


@pytest.mark.parametrize("rebalance", [True, False])
def test_partitioned_writes_gather_each_partition_into_few_files(tables, spark, conf, rebalance):
    """lake.rebalance_writes: rows of one partition spread over many tasks land in one file, not one per task."""
    t = Tables(spark, tables.conf.with_overrides({"lake.rebalance_writes": rebalance}))
    df = months_frame(spark, "r", per_month=40).repartition(8)
    t.overwrite_partitions(NAME, df, partition_by=["month"])
    files = data_files(t, NAME)
    per_month = {m: sum(f.startswith(f"month={m}/") for f in files) for m in ("2024-01", "2024-02", "2024-03")}
    if rebalance:
        assert per_month == {"2024-01": 1, "2024-02": 1, "2024-03": 1}
    else:
        assert all(n > 1 for n in per_month.values())          # what rebalancing avoids
    assertDataFrameEqual(t.read(NAME), df)


def test_vacuum_keeps_deltas_retention_check(tables, spark):
    """Below the table's deletedFileRetentionDuration (7 days) vacuum is refused, as Delta does, unless the
    session turns the check off (the test overlay does, for vacuum_retention_hours: 0)."""
    tables.overwrite(NAME, months_frame(spark, "a"), partition_by=["month"])
    tables.overwrite(NAME, months_frame(spark, "b"))
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    try:
        with pytest.raises(TableError, match=r"vacuum of .*contract refused: 1 hours is below the table's "
                                             r"delta.deletedFileRetentionDuration"):
            tables.vacuum(NAME, retention_hours=1)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    assert len(data_files(tables, NAME, version=0)) == 3          # nothing was deleted
    assertDataFrameEqual(tables.read(NAME, version=0), months_frame(spark, "a"))


def test_check_constraints_refuse_a_breaking_write(tables, spark):
    """lake.constraints become Delta CHECK constraints when the table is created; a write with a row that
    breaks one commits nothing and names the constraint and the row, on either engine."""
    t = Tables(spark, tables.conf.with_overrides({
        "lake.constraints": {NAME: {"amount_not_negative": "amount >= 0"}},
        "lake.table_properties": {NAME: {"delta.logRetentionDuration": "interval 60 days"}}}))
    t.overwrite_partitions(NAME, months_frame(spark, "a", per_month=2), partition_by=["month"])
    config = deltalake.DeltaTable(t.location(NAME)).metadata().configuration
    assert config["delta.constraints.amount_not_negative"] == "amount >= 0"
    assert config["delta.logRetentionDuration"] == "interval 60 days"
    version = t.version(NAME)
    bad = frame(spark, [(5, "2024-02", 1.0, "ok"), (6, "2024-02", -2.0, "bad")])
    with pytest.raises(ConstraintError, match=r"table smoke.contract: .*amount_not_negative.*violated"):
        t.overwrite_partitions(NAME, bad)
    assert t.version(NAME) == version
    assertDataFrameEqual(t.read(NAME), months_frame(spark, "a", per_month=2))
    assert set(_parquet_on_disk(t.location(NAME))) == set(data_files(t, NAME))   # no debris either


def test_versions_and_commit_counts_past_checkpoints(tables, spark, conf):
    """A checkpoint every 2 commits (the table property, set by version 1 after the empty create): the
    version and each commit's own row count are read from the log past its checkpoints, and agree with the
    history."""
    t = Tables(spark, conf.with_overrides({"lake.engine": tables.engine.name, "lake.table_properties":
                                           {NAME: {"delta.checkpointInterval": "2"}}}))
    results = [t.append(NAME, months_frame(spark, f"v{k}", per_month=k + 1), partition_by=["month"])
               for k in range(5)]
    assert [(r.version, r.rows) for r in results] == [(2, 3), (3, 6), (4, 9), (5, 12), (6, 15)]
    assert t.version(NAME) == 6 == t.history(NAME, 1)[0]["version"]
    expected = months_frame(spark, "v0", per_month=1)
    for k in range(1, 5):
        expected = expected.union(months_frame(spark, f"v{k}", per_month=k + 1))
    assertDataFrameEqual(t.read(NAME), expected)

"""A writer killed with SIGKILL leaves the table readable at its previous version; vacuum removes the debris."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

ROOT = Path(__file__).resolve().parents[2]
NAME = "smoke.atomic"

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from inlife.config import load_config
    from inlife.session import build_session
    from inlife.tables import Tables, base

    lake, stage, marker, engine = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    conf = load_config("test", overrides=[f"lake.root={lake}", f"lake.engine={engine}"])
    spark = build_session(conf)
    tables = Tables(spark, conf)

    def slow(batches):
        # Slow executors: the kill lands while data files are being written.
        for b in batches:
            time.sleep(0.5)
            yield b

    df = (spark.range(0, 400_000, numPartitions=8)
          .selectExpr("id", "'2024-01' as month", "cast(id as double) as amount", "'killed' as tag")
          .mapInArrow(slow, "id long, month string, amount double, tag string"))
    if stage == "before-commit":
        def hold(table):
            marker.write_text("files moved, commit pending")
            time.sleep(600)
        base.BEFORE_COMMIT_HOOKS.append(hold)
    marker.parent.mkdir(parents=True, exist_ok=True)
    if stage == "mid-write":
        marker.write_text("writing")
    tables.overwrite_partitions("smoke.atomic", df)
    print("commit finished: the kill came too late")
""")


def _wait_for(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _parquet_files(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


@pytest.mark.slow
@pytest.mark.parametrize("engine,kill_at", [("delta-rs", "mid-write"), ("delta-rs", "before-commit"),
                                            ("delta-spark", "mid-write")])
def test_sigkill_leaves_previous_version_readable(spark, conf, tmp_path, engine, kill_at):
    """delta-rs moves its staged files into the table before committing, so it is killed at both points;
    delta-spark writes the files into the table and commits in one call, so the kill lands mid-write."""
    from inlife.tables import Tables

    tables = Tables(spark, conf.with_overrides({"lake.engine": engine}))
    assert tables.engine.name == engine
    previous = spark.createDataFrame([(i, "2024-01", float(i), "before") for i in range(5)]
                                     + [(i, "2024-02", float(i), "before") for i in range(5)],
                                     "id long, month string, amount double, tag string")
    tables.overwrite(NAME, previous, partition_by=["month"])
    location = Path(tables.location(NAME))
    referenced = _parquet_files(location)
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"), INLIFE_CONF_DIR=str(ROOT / "conf"))
    child = subprocess.Popen([sys.executable, "-c", CHILD, conf.path("lake.root"), kill_at, str(marker), engine],
                             env=env, cwd=ROOT, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        if kill_at == "mid-write":
            # wait until the executors have started writing data files (delta-rs: into its staging area)
            started = _wait_for(lambda: any(f not in referenced for f in _parquet_files(location)), 120)
        else:
            started = _wait_for(marker.exists, 180)
        assert started, f"the child never reached {kill_at}: {child.stdout.read1().decode(errors='replace')}"
        os.killpg(child.pid, signal.SIGKILL)  # the Python driver and its JVM alike
        child.wait(30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    time.sleep(1)

    assert tables.version(NAME) == 0
    assertDataFrameEqual(tables.read(NAME), previous)
    leftovers = [f for f in _parquet_files(location) if f not in referenced]
    assert leftovers, "the kill should have left unreferenced files for vacuum to find"
    if kill_at == "before-commit":
        assert any(not f.startswith("_staging") for f in leftovers)  # files already moved into the table

    tables.vacuum(NAME, retention_hours=0)
    assert _parquet_files(location) == referenced
    assertDataFrameEqual(tables.read(NAME), previous)
    # and the table takes new writes as usual
    version = tables.version(NAME)  # vacuum itself commits (start and end markers)
    after = previous.where("month = '2024-02'").selectExpr("id", "month", "amount", "'after' as tag")
    tables.overwrite_partitions(NAME, after)
    assert tables.version(NAME) == version + 1
    assertDataFrameEqual(tables.read(NAME), previous.where("month = '2024-01'").union(after))

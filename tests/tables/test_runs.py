"""ops.runs and the run journal: a run killed between the commits of one group is rolled back by the next."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.tables import Tables, runs
from inlife.tables.catalogue import RUNS

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["smoke.a", "smoke.b", "smoke.c"]
RECORD = ["job", "parameters", "status", "message", "tables"]

CHILD = textwrap.dedent("""
    import json, os, signal, sys
    from inlife.config import load_config
    from inlife.session import build_session
    from inlife.tables import Tables, base
    from inlife.tables.runs import recorded

    conf = load_config("test", overrides=[f"lake.root={sys.argv[1]}", "lake.engine=delta-rs"])
    spark = build_session(conf)
    tables = Tables(spark, conf)

    def killed_before_c(table):
        if table == "smoke.c":
            os.kill(os.getpid(), signal.SIGKILL)
    base.BEFORE_COMMIT_HOOKS.append(killed_before_c)
    with recorded(spark, conf, "publish-abc", {"month": "2024-01"}):
        frames = [spark.createDataFrame([(1, "2024-01", 10 + k)], "id long, month string, x long") for k in range(3)]
        tables.commit([tables.stage(n, f, "overwrite_partitions") for n, f in zip(json.loads(sys.argv[2]), frames)])
    print("the kill did not happen")
""")


def _frame(spark, x):
    return spark.createDataFrame([(1, "2024-01", x)], "id long, month string, x long")


def _record(spark, rows):
    return spark.createDataFrame(rows, runs.SCHEMA).select(*RECORD)


def _journals(conf) -> list[dict]:
    folder = Path(conf.path("lake.root")) / runs.FOLDER
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


@pytest.mark.slow
def test_a_run_killed_between_commits_is_rolled_back_by_the_next(spark, conf, tmp_path):
    """On delta-rs: a child that must start a JVM costs less without delta-spark's first commits; how each
    engine marks and undoes a group is the next test's, on both."""
    tables = Tables(spark, conf)
    for n in NAMES:
        tables.overwrite_partitions(n, _frame(spark, 0), partition_by=["month"])
    before = {n: tables.version(n) for n in NAMES}
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    child = subprocess.run([sys.executable, str(script), conf.path("lake.root"), json.dumps(NAMES)], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stdout + child.stderr

    # killed after a and b committed: the journal says so, and the lake is half-published
    [journal] = _journals(conf)
    assert (journal["job"], list(journal["pending"].values())) == (
        "publish-abc", [[{"table": n, "from_version": before[n]} for n in NAMES]])
    assert [tables.read(n).first().x for n in NAMES] == [10, 11, 0]

    lines = runs.recover(tables)
    assert len(lines) == 1 and "(interrupted)" in lines[0]
    for n in NAMES:
        assertDataFrameEqual(tables.read(n), _frame(spark, 0))
    assert {n: tables.version(n) - before[n] for n in NAMES} == {"smoke.a": 2, "smoke.b": 2, "smoke.c": 0}
    message = (f"rolled back smoke.b v{before['smoke.b'] + 1} -> v{before['smoke.b']}, "
               f"smoke.a v{before['smoke.a'] + 1} -> v{before['smoke.a']}")
    assertDataFrameEqual(tables.read(RUNS).select(*RECORD), _record(spark, [
        (None, "publish-abc", '{"month": "2024-01"}', None, None, None, None, "interrupted", message, [])]))
    assert _journals(conf) == []
    assert runs.recover(tables) == []          # nothing left to recover


@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_recovery_leaves_what_it_cannot_undo_and_live_runs_alone(spark, conf, engine):
    conf = conf.with_overrides({"lake.engine": engine})
    tables = Tables(spark, conf)
    tables.overwrite_partitions("smoke.a", _frame(spark, 0), partition_by=["month"])
    tables.overwrite_partitions("smoke.b", _frame(spark, 0), partition_by=["month"])
    first = tables.version("smoke.a")
    tables.commit([tables.stage("smoke.a", _frame(spark, 1), "overwrite_partitions"),
                   tables.stage("smoke.b", _frame(spark, 1), "overwrite_partitions")])
    assert _journals(conf) == []               # a group outside a run journals only while it commits
    group = tables.engine.commit_group(tables.location("smoke.a"), first + 1)
    assert group and group == tables.engine.commit_group(tables.location("smoke.b"), first + 1)
    tables.overwrite_partitions("smoke.a", _frame(spark, 2))      # another writer, after the group
    journal = runs.Journal(spark, conf)

    dead = runs.new_entry("job-dead", {})
    dead.update(pid_start="0", pending={group: [{"table": "smoke.a", "from_version": first},
                                                {"table": "smoke.b", "from_version": first}]})
    live = runs.new_entry("job-live", {})      # this very process: still running
    live["pending"] = dict(dead["pending"])
    foreign = runs.new_entry("job-elsewhere", {})
    foreign["host"] = "another-host"           # started just now on another machine: not to be touched
    for entry in (dead, live, foreign):
        journal.save(entry)

    [line] = runs.recover(tables)
    assert "job-dead" in line
    assertDataFrameEqual(tables.read("smoke.a"), _frame(spark, 2))   # left: another writer came after
    assertDataFrameEqual(tables.read("smoke.b"), _frame(spark, 0))   # restored
    message = (f"rolled back smoke.b v{first + 1} -> v{first}; "
               f"left smoke.a (another writer committed after the interrupted run)")
    assertDataFrameEqual(tables.read(RUNS).select(*RECORD), _record(spark, [
        (None, "job-dead", "{}", None, None, None, None, "interrupted", message, [])]))
    assert sorted(e["job"] for e in _journals(conf)) == ["job-elsewhere", "job-live"]


def test_a_run_records_its_commits_and_how_it_ended(spark, conf):
    tables = Tables(spark, conf)
    with runs.recorded(spark, conf, "good", {"month": "2024-01", "force": True}):
        tables.overwrite_partitions("smoke.a", _frame(spark, 0), partition_by=["month"])
        tables.overwrite_partitions("smoke.a", _frame(spark, 1))
    with pytest.raises(ValueError, match="bad input"):
        with runs.recorded(spark, conf, "bad", {}):
            tables.overwrite_partitions("smoke.a", _frame(spark, 2))
            raise ValueError("bad input\nsecond line")
    v = tables.version("smoke.a")
    assertDataFrameEqual(tables.read(RUNS).select(*RECORD), _record(spark, [
        (None, "good", '{"force": true, "month": "2024-01"}', None, None, None, None, "succeeded", "",
         [("smoke.a", None, v - 2), ("smoke.a", v - 2, v - 1)]),
        (None, "bad", "{}", None, None, None, None, "failed", "ValueError: bad input",
         [("smoke.a", v - 1, v)]),
    ]))
    assert _journals(conf) == []

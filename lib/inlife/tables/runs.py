"""ops.runs: every job run, the versions of the tables it committed, and how it ended; and the journal that
lets the next run undo a run killed half-way through publishing.

A run (``inlife JOB``) keeps a journal, ``<lake.root>/_ops/runs/<run id>.json``: written when it starts,
rewritten before each group of commits (the tables about to change, with the versions they were staged
against) and after it (the versions committed), and removed once the run's row is in ``ops.runs``. Commits
outside a run (a notebook, a test) journal each group of several tables in a file of its own.

A process killed between the commits of one group leaves its journal with that group pending. The next run to
start on the lake finds it, sees that its process is gone, restores each table the group committed to (the
group's id is in the commit) to the version before, and records the run as interrupted. So a crash never
leaves ``raw.x`` without ``quarantine.x`` or ``scores.tags`` without ``marketing.recommendations``, and a rerun
converges to the tables of an uninterrupted run (every write replaces its own partitions).
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pyspark.sql import SparkSession
from pyspark.sql.types import (ArrayType, LongType, StringType, StructField, StructType, TimestampType)

from inlife.config import Config
from inlife.tables.base import CommitResult, StagedWrite
from inlife.tables.catalogue import RUNS
from inlife.tables.files import HadoopFiles

if TYPE_CHECKING:
    from inlife.tables import Tables

FOLDER = "_ops/runs"                 # under lake.root
SUCCEEDED, FAILED, INTERRUPTED = "succeeded", "failed", "interrupted"

COMMITTED = StructType([StructField("table", StringType()), StructField("from_version", LongType()),
                        StructField("version", LongType())])
SCHEMA = StructType([
    StructField("run_id", StringType()), StructField("job", StringType()), StructField("parameters", StringType()),
    StructField("host", StringType()), StructField("pid", LongType()),
    StructField("started_at", TimestampType()), StructField("ended_at", TimestampType()),
    StructField("status", StringType()), StructField("message", StringType()),
    StructField("tables", ArrayType(COMMITTED)),
])

_current: dict[str, Any] | None = None     # the journal of this process's run, if one is recorded
_lock = threading.Lock()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, /proc), so a reused pid is not taken for it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Journal:
    """The journal files of one lake."""

    def __init__(self, spark: SparkSession, conf: Config):
        self.files = HadoopFiles(spark)
        self.folder = f"{conf.path('lake.root').rstrip('/')}/{FOLDER}"
        self.stale_hours = float(conf.get("run.foreign_run_stale_hours"))

    def path(self, entry: dict[str, Any]) -> str:
        return f"{self.folder}/{entry['run_id']}.json"

    def save(self, entry: dict[str, Any]) -> None:
        self.files.write_text(self.path(entry), json.dumps(entry, indent=1))

    def remove(self, entry: dict[str, Any]) -> None:
        self.files.remove(self.path(entry))

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for name in self.files.list_names(self.folder, ".json"):
            try:
                out.append(json.loads(self.files.read_text(f"{self.folder}/{name}")))
            except (ValueError, OSError) as exc:
                print(f"[inlife] runs: journal {self.folder}/{name} is unreadable ({exc}); left as it is",
                      file=sys.stderr)
        return out

    def alive(self, entry: dict[str, Any]) -> bool:
        """Whether the process that wrote ``entry`` may still be running. On this host: its pid with the same
        start time. On another host it cannot be asked: alive until ``run.foreign_run_stale_hours`` old."""
        if entry["host"] != socket.gethostname():
            age = datetime.now(timezone.utc) - datetime.fromisoformat(entry["started_at"])
            return age.total_seconds() < self.stale_hours * 3600
        start = _process_start(int(entry["pid"]))
        if entry.get("pid_start") is None or start is None:
            try:
                os.kill(int(entry["pid"]), 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return entry.get("pid_start") is None
        return start == entry["pid_start"]


def new_entry(job: str | None, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}", "job": job,
            "parameters": parameters, "host": socket.gethostname(), "pid": os.getpid(),
            "pid_start": _process_start(os.getpid()), "started_at": _now(), "ended_at": None,
            "status": None, "message": "", "committed": [], "pending": {}}


# -- commits in groups ----------------------------------------------------------------------------------
def commit_group(tables: Tables, staged: list[StagedWrite]) -> list[CommitResult]:
    """Commit ``staged`` in order as one group: all of them, or (a commit failing, or the process killed
    and the next run recovering) none. Groups may commit side by side (sources ingested on threads): each
    is its own entry under the journal's ``pending``."""
    journal = Journal(tables.spark, tables.conf)
    with _lock:
        entry = _current
    own = entry is None and len(staged) > 1          # outside a run, a group of one needs no journal
    if own:
        entry = new_entry(None, {})
    group = uuid.uuid4().hex
    if entry is not None and len(staged) > 1:
        with _lock:
            entry["pending"][group] = [{"table": s.table, "from_version": s.read_version} for s in staged]
            journal.save(entry)
    committed: list[tuple[StagedWrite, CommitResult]] = []
    try:
        for s in staged:
            s.group = group
            committed.append((s, s.commit()))
    except BaseException:
        tables.roll_back(committed)
        _close_group(journal, entry, group, [], own)
        raise
    _close_group(journal, entry, group, committed, own)
    return [result for _, result in committed]


def _close_group(journal: Journal, entry: dict[str, Any] | None, group: str, committed, own: bool) -> None:
    if entry is None:
        return
    with _lock:
        entry["pending"].pop(group, None)
        entry["committed"] += [{"table": r.table, "from_version": s.read_version, "version": r.version}
                               for s, r in committed]
        if own:
            journal.remove(entry)
        else:
            journal.save(entry)


# -- recovery -------------------------------------------------------------------------------------------
def recover(tables: Tables) -> list[str]:
    """Finish the runs whose process is gone: restore what a pending group committed, record each run in
    ops.runs, remove its journal. Returns one line per run recovered (also printed)."""
    journal = Journal(tables.spark, tables.conf)
    lines = []
    for entry in journal.entries():
        if (_current is not None and entry["run_id"] == _current["run_id"]) or journal.alive(entry):
            continue
        undone = _undo_pending(tables, entry.get("pending"))
        status = entry.get("status") or INTERRUPTED
        entry["message"] = "; ".join(m for m in (entry.get("message"), undone) if m)
        _record(tables, entry, status)
        journal.remove(entry)
        line = f"[inlife] runs: {entry.get('job') or 'commits'} {entry['run_id']} ({status})" + \
            (f": {undone}" if undone else "")
        print(line, file=sys.stderr)
        lines.append(line)
    return lines


def _undo_pending(tables: Tables, pending: dict[str, list[dict[str, Any]]] | None) -> str:
    """Restore every table an interrupted group committed to its version before the group."""
    done, left = [], []
    for group, listed in (pending or {}).items():
        for t in reversed(listed):
            name, before = t["table"], t["from_version"]
            if not tables.exists(name):
                continue
            now = tables.version(name)
            start = 0 if before is None else before + 1
            ours = [tables.engine.commit_group(tables.location(name), v) == group for v in range(start, now + 1)]
            if not any(ours):
                continue
            if not all(ours):
                left.append(f"{name} (another writer committed after the interrupted run)")
            elif before is None:
                left.append(f"{name} (created by the interrupted run; the rerun replaces its partitions)")
            else:
                tables.restore(name, before)
                done.append(f"{name} v{now} -> v{before}")
    parts = ([f"rolled back {', '.join(done)}"] if done else []) + ([f"left {', '.join(left)}"] if left else [])
    return "; ".join(parts)


# -- the run --------------------------------------------------------------------------------------------
@contextmanager
def recorded(spark: SparkSession, conf: Config, job: str, parameters: dict[str, Any]) -> Iterator[dict]:
    """Run a job as a recorded run: earlier interrupted runs recovered first, its row in ops.runs after."""
    from inlife.tables import Tables
    global _current
    tables = Tables(spark, conf)
    recover(tables)
    journal = Journal(spark, conf)
    entry = new_entry(job, {k: v for k, v in parameters.items()})
    journal.save(entry)
    with _lock:
        _current = entry
    try:
        yield entry
    except BaseException as exc:
        entry["message"] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"[:2000]
        _end(tables, journal, entry, FAILED)
        raise
    else:
        _end(tables, journal, entry, SUCCEEDED)


def _end(tables: Tables, journal: Journal, entry: dict[str, Any], status: str) -> None:
    global _current
    with _lock:
        _current = None
        entry["status"], entry["ended_at"] = status, _now()
        journal.save(entry)       # should the row not be written, the next run records it from here
    try:
        _record(tables, entry, status)
    except Exception as exc:  # the job's own outcome stands; the next run records this one
        print(f"[inlife] runs: {entry['run_id']} not recorded in {RUNS} ({exc}); the next run will",
              file=sys.stderr)
        return
    journal.remove(entry)


def _record(tables: Tables, entry: dict[str, Any], status: str) -> None:
    def ts(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None    # aware: Spark takes the instant

    row = (entry["run_id"], entry.get("job"), json.dumps(entry.get("parameters") or {}, sort_keys=True, default=str),
           entry["host"], int(entry["pid"]), ts(entry["started_at"]), ts(entry.get("ended_at")), status,
           entry.get("message") or "",
           [(c["table"], c["from_version"], c["version"]) for c in entry.get("committed") or []])
    tables.append(RUNS, tables.spark.createDataFrame([row], SCHEMA))

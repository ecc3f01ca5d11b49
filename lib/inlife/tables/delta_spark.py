"""The delta-spark engine: native ``format("delta")`` where the Delta Lake jars are on the classpath
(``make`` fetches them into jars/; clusters have their own), with the ``delta-spark`` package's
``DeltaTable`` for metadata, history and maintenance.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from inlife.errors import ConflictError, ConstraintError, TableError, describe
from inlife.tables import base
from inlife.tables.base import APPEND, OVERWRITE, OVERWRITE_PARTITIONS, CommitResult, StagedWrite, sql_string


class DeltaSparkEngine(base.Engine):
    name = "delta-spark"
    writes_at_stage = False

    def __init__(self, spark: SparkSession):
        self.spark = spark

    def _dt(self, path: str):
        from delta.tables import DeltaTable
        return DeltaTable.forPath(self.spark, path)

    def exists(self, path: str) -> bool:
        from delta.tables import DeltaTable
        return bool(DeltaTable.isDeltaTable(self.spark, path))

    def create(self, path, label, schema, partition_by) -> CommitResult:
        if self.exists(path):
            raise TableError(f"table {label} already exists at {path}")
        (self.spark.createDataFrame([], schema).write.format("delta")
         .partitionBy(*partition_by).mode("errorifexists").save(path))
        return CommitResult(label, 0, "create")

    def schema(self, path: str) -> StructType:
        return self.spark.read.format("delta").load(path).schema

    def partition_columns(self, path: str) -> list[str]:
        return list(self._dt(path).detail().first()["partitionColumns"])

    def version(self, path: str) -> int:
        """The newest commit's number, found as Delta finds it: from the last checkpoint (the log's
        ``_last_checkpoint``), the commit files that follow it. A few file look-ups, where history() would
        run a Spark job; without a checkpoint, one listing of the log."""
        jvm = self.spark._jvm
        log = f"{path.rstrip('/')}/_delta_log"
        fs = jvm.org.apache.hadoop.fs.Path(log).getFileSystem(self.spark._jsc.hadoopConfiguration())
        marker = jvm.org.apache.hadoop.fs.Path(f"{log}/_last_checkpoint")
        if fs.exists(marker):
            version = int(json.loads(self._text(fs, marker))["version"])
        else:                # no checkpoint yet (or the optional marker is gone): the log's own listing
            version = max(self._commit_files(fs, log), default=-1)
        while fs.exists(jvm.org.apache.hadoop.fs.Path(f"{log}/{version + 1:020d}.json")):
            version += 1
        if version < 0:
            raise TableError(f"no Delta log at {path}")
        return version

    def _commit_files(self, fs, log: str) -> list[int]:
        folder = self.spark._jvm.org.apache.hadoop.fs.Path(log)
        if not fs.exists(folder):
            return []
        names = [status.getPath().getName() for status in fs.listStatus(folder)]
        return [int(n[:20]) for n in names if len(n) == 25 and n.endswith(".json") and n[:20].isdigit()]

    def _text(self, fs, hadoop_path) -> str:
        stream = fs.open(hadoop_path)
        try:
            return self.spark._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def read(self, path, label, version, timestamp, partitions) -> DataFrame:
        if not self.exists(path):
            raise TableError(f"table {label} does not exist at {path}")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", int(version))
        if timestamp is not None:
            reader = reader.option("timestampAsOf", _timestamp_literal(timestamp))
        df = reader.load(path)
        for col, value in (partitions or {}).items():
            if isinstance(value, base.Between):
                df = df.where(F.col(col).between(F.lit(str(value.low)).cast(df.schema[col].dataType),
                                                 F.lit(str(value.high)).cast(df.schema[col].dataType)))
                continue
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            df = df.where(F.col(col).cast("string").isin([str(v) for v in values]))
        return df

    def stage(self, path, label, df, mode, schema, partition_by, create) -> StagedWrite:
        return _SparkStagedWrite(self, path, label, df, mode, schema, list(partition_by), create,
                                 None if create else self.version(path))

    def combine(self, parts: list[StagedWrite]) -> StagedWrite:
        """The union of the parts' frames, written and committed at commit (delta-spark has no way to add
        files written earlier): one transaction, but each part is computed again then."""
        first = parts[0]
        for p in parts:
            if not isinstance(p, _SparkStagedWrite) or p._done:
                raise TableError(f"table {first.table}: only pending delta-spark staged writes can be combined")
            if (p.path, p.mode, p.partition_by, p.create, p.read_version) != \
                    (first.path, first.mode, first.partition_by, first.create, first.read_version):
                raise TableError(f"table {first.table}: staged writes differ in table, mode, partitioning or "
                                 f"the version they were staged against; they cannot commit as one")
        df = parts[0].df
        for p in parts[1:]:
            df = df.unionByName(p.df)
        combined = _SparkStagedWrite(self, first.path, first.table, df, first.mode, first.schema,
                                     first.partition_by, first.create, first.read_version)
        for p in parts:
            p._done = True
            p._hand_over(combined)
        return combined

    def history(self, path: str, limit: int | None) -> list[dict[str, Any]]:
        dt = self._dt(path)
        rows = (dt.history(limit) if limit else dt.history()).collect()
        return [{
            "version": r["version"], "timestamp": _utc(r["timestamp"]), "operation": r["operation"],
            "parameters": dict(r["operationParameters"] or {}),
            "metrics": dict(r["operationMetrics"] or {}), "user_metadata": r["userMetadata"],
        } for r in rows]

    def commits(self, path: str, first: int, last: int) -> list[list[dict[str, Any]]]:
        """The actions of commits ``first`` .. ``last`` as the table's log holds them (the Delta protocol's
        JSON, one action a line), read through Hadoop's file system like the table itself."""
        jvm = self.spark._jvm
        hconf = self.spark._jsc.hadoopConfiguration()
        out = []
        for v in range(first, last + 1):
            log = jvm.org.apache.hadoop.fs.Path(f"{path.rstrip('/')}/_delta_log/{v:020d}.json")
            text = self._text(log.getFileSystem(hconf), log)
            out.append([json.loads(line) for line in text.splitlines() if line.strip()])
        return out

    def commit_group(self, path: str, version: int) -> str | None:
        [actions] = self.commits(path, version, version)
        return base.group_of(next((a["commitInfo"] for a in actions if "commitInfo" in a), {}))

    def set_rules(self, path, label, properties, constraints) -> None:
        target = f"delta.`{path.replace('`', '``')}`"
        if properties:
            pairs = ", ".join(f"{sql_string(k)} = {sql_string(str(v))}" for k, v in properties.items())
            self.spark.sql(f"ALTER TABLE {target} SET TBLPROPERTIES ({pairs})")
        for name, condition in constraints.items():
            self.spark.sql(f"ALTER TABLE {target} ADD CONSTRAINT {name} CHECK ({condition})")

    def restore(self, path: str, version: int) -> int:
        self._dt(path).restoreToVersion(int(version))
        return self.version(path)

    def vacuum(self, path: str, retention_hours: float) -> list[str]:
        try:
            self._dt(path).vacuum(float(retention_hours))
        except Exception as exc:
            if "retention" not in str(exc).lower():
                raise
            raise TableError(retention_refused(path, retention_hours)) from None
        return []  # delta-spark reports removed files in its logs, not to the caller


class _SparkStagedWrite(StagedWrite):
    """delta-spark writes and commits in one step, so staging holds the plan until commit(). The version it
    was staged against is kept: a commit finds what other writers committed since (from the table's log)
    and refuses to overwrite data it did not see, as the delta-rs engine's staged files would."""

    def __init__(self, engine, path, label, df, mode, schema, partition_by, create, read_version):
        self.engine, self.path, self.table, self.df, self.mode = engine, path, label, df, mode
        self.schema, self.partition_by, self.create, self.read_version = schema, partition_by, create, read_version
        self._done = False

    def commit(self) -> CommitResult:
        if self._done:
            raise TableError(f"table {self.table}: this staged write was already committed or aborted")
        self._done = True
        try:
            self._check_no_conflict()
            for hook in base.BEFORE_COMMIT_HOOKS:
                hook(self.table)
            tag = f"inlife {self.table} {self.mode} {uuid.uuid4().hex}"
            if self.group:
                tag += f" {base.GROUP_KEY}={self.group}"
            try:
                self._writer(tag).save(self.path)
            except Exception as exc:  # py4j wraps io.delta.exceptions.Concurrent*Exception
                chain = describe(exc, depth=8).split(" <- caused by ")
                violation = next((m for m in chain if "CHECK constraint" in m), None)
                if violation:
                    raise ConstraintError(f"table {self.table}: {violation}; nothing was committed") from None
                if _is_conflict(exc):
                    raise ConflictError(f"table {self.table}: another writer committed first and the changes "
                                        f"conflict; this write was not applied: {str(exc).splitlines()[0]}") from None
                raise
        finally:
            self._finished()
        version, metrics = self._own_commit(tag)
        rows = metrics.get("numOutputRows")
        return CommitResult(self.table, version, self.mode, int(rows) if rows else None,
                            int(metrics.get("numFiles", 0) or 0), [])

    def _writer(self, tag: str):
        writer = self.df.write.format("delta").option("userMetadata", tag)
        if self.create:
            return writer.partitionBy(*self.partition_by).mode("errorifexists")
        if self.mode == APPEND:
            writer = writer.mode("append")
        elif self.mode == OVERWRITE:
            writer = writer.mode("overwrite")
        elif self.mode == OVERWRITE_PARTITIONS:
            writer = writer.mode("overwrite").option("partitionOverwriteMode", "dynamic")
        if len(self.schema) > len(self.engine.schema(self.path)):
            writer = writer.option("mergeSchema", "true")
        return writer

    def _check_no_conflict(self) -> None:
        """Raise ConflictError when commits since ``read_version`` changed what this write replaces."""
        if self.create or self.read_version is None:
            return
        current = self.engine.version(self.path)
        if current == self.read_version:
            return
        winners = self.engine.commits(self.path, self.read_version + 1, current)
        ours = None
        if self.mode == OVERWRITE_PARTITIONS:
            ours = {tuple(None if r[c] is None else str(r[c]) for c in self.partition_by)
                    for r in self.df.select(*self.partition_by).distinct().collect()}
        reason = conflict(self.mode, winners, self.partition_by, ours)
        if reason:
            raise ConflictError(f"table {self.table}: another writer committed first and the changes conflict "
                                f"({self.mode} based on version {self.read_version}, now {current}: {reason}); "
                                f"this write was not applied")

    def _own_commit(self, tag: str) -> tuple[int, dict[str, Any]]:
        """This write's version and operation metrics, from its commit in the log: found by its tag among the
        commits since the version it was staged against, newest first (another writer may have committed
        since). A partition overwrite with no rows commits nothing: the table's version, rows unknown."""
        newest = self.engine.version(self.path)
        oldest = self.read_version + 1 if self.read_version is not None else 0
        for v in range(newest, max(oldest, newest - 20) - 1, -1):
            [actions] = self.engine.commits(self.path, v, v)
            info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
            if info.get("userMetadata") == tag:
                return v, dict(info.get("operationMetrics") or {})
        # committed, but its entry is not to be found (commitInfo off, or many writers since): the version is
        # the newest the engine knows of, and the row count unknown
        return newest, {}

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._finished()


def conflict(mode: str, winners: list[list[dict[str, Any]]], partition_by: Sequence[str],
             ours: set[tuple] | None) -> str | None:
    """Why commits made since a write was staged (their log actions) conflict with it, or None. A blind
    append conflicts only with a change of schema or protocol; an overwrite with any change of data; a
    partition overwrite with changes of data in the partitions it replaces. Compaction (``dataChange``
    false) and vacuum never conflict."""
    for actions in winners:
        for action in actions:
            if "metaData" in action or "protocol" in action:
                return "the table's schema or protocol changed"
            change = action.get("add") or action.get("remove")
            if not change or not change.get("dataChange", True) or mode == APPEND:
                continue
            if mode == OVERWRITE:
                return "its data changed"
            values = change.get("partitionValues") or {}
            key = tuple(values.get(c) for c in partition_by)
            if ours is not None and key in ours:
                return "partition " + ", ".join(f"{c}={v}" for c, v in zip(partition_by, key)) + " changed"
    return None


_CONFLICTS = ("ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
              "ConcurrentTransactionException", "ConcurrentWriteException", "MetadataChangedException",
              "ProtocolChangedException", "DELTA_CONCURRENT_", "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED")


def _is_conflict(exc: BaseException) -> bool:
    text = describe(exc, depth=8)
    return any(name in text for name in _CONFLICTS)


RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


def retention_refused(path: str, hours: float) -> str:
    return (f"vacuum of {path} refused: {hours:g} hours is below the table's delta.deletedFileRetentionDuration "
            f"(7 days unless set), so readers of recent versions could lose files; lower the table's property, "
            f"or turn Delta's check off deliberately with spark.conf: {{{RETENTION_CHECK}: \"false\"}}")


def _utc(ts: datetime | None) -> datetime | None:
    """PySpark hands timestamps over as naive datetimes in the Python process's local time; history gives
    them in UTC, as the delta-rs engine does, so they read back the same under any session time zone."""
    return ts.astimezone(timezone.utc) if ts is not None else None


def _timestamp_literal(ts: datetime | str) -> str:
    """``timestampAsOf`` text with its offset: a naive datetime is local time, as PySpark's own are; a string
    goes through as given (the session time zone applies to it)."""
    if isinstance(ts, datetime):
        return ts.astimezone(timezone.utc).isoformat(sep=" ")
    return str(ts)

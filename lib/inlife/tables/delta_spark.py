"""The delta-spark engine: native ``format("delta")`` where the Delta Lake jars are on the classpath.

Uses the JVM ``io.delta.tables.DeltaTable`` API through the session, so the ``delta-spark`` pip package is
optional (install the ``delta-spark`` extra for its Python helpers).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from inlife.errors import ConflictError, TableError
from inlife.tables import base
from inlife.tables.base import APPEND, OVERWRITE, OVERWRITE_PARTITIONS, CommitResult, StagedWrite


class DeltaSparkEngine(base.Engine):
    name = "delta-spark"
    writes_at_stage = False

    def __init__(self, spark: SparkSession):
        self.spark = spark
        # Vacuum below the 7-day default is a deliberate choice of lake.vacuum_retention_hours.
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")

    def _jdt(self, path: str):
        return self.spark._jvm.io.delta.tables.DeltaTable.forPath(self.spark._jsparkSession, path)

    def _df(self, jdf) -> DataFrame:
        return DataFrame(jdf, self.spark)

    def exists(self, path: str) -> bool:
        return bool(self.spark._jvm.io.delta.tables.DeltaTable.isDeltaTable(self.spark._jsparkSession, path))

    def create(self, path, label, schema, partition_by) -> CommitResult:
        if self.exists(path):
            raise TableError(f"table {label} already exists at {path}")
        (self.spark.createDataFrame([], schema).write.format("delta")
         .partitionBy(*partition_by).mode("errorifexists").save(path))
        return CommitResult(label, 0, "create")

    def schema(self, path: str) -> StructType:
        return self.spark.read.format("delta").load(path).schema

    def partition_columns(self, path: str) -> list[str]:
        return list(self._df(self._jdt(path).detail()).first()["partitionColumns"])

    def version(self, path: str) -> int:
        return int(self._df(self._jdt(path).history(1)).first()["version"])

    def read(self, path, label, version, timestamp, partitions) -> DataFrame:
        if not self.exists(path):
            raise TableError(f"table {label} does not exist at {path}")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", int(version))
        if timestamp is not None:
            ts = timestamp.isoformat(sep=" ") if isinstance(timestamp, datetime) else str(timestamp)
            reader = reader.option("timestampAsOf", ts)
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
        for p in parts:
            p._done = True
        return _SparkStagedWrite(self, first.path, first.table, df, first.mode, first.schema, first.partition_by,
                                 first.create, first.read_version)

    def history(self, path: str, limit: int | None) -> list[dict[str, Any]]:
        jdt = self._jdt(path)
        rows = self._df(jdt.history(limit) if limit else jdt.history()).collect()
        return [{
            "version": r["version"], "timestamp": r["timestamp"], "operation": r["operation"],
            "parameters": dict(r["operationParameters"] or {}),
            "metrics": dict(r["operationMetrics"] or {}), "user_metadata": r["userMetadata"],
        } for r in rows]

    def vacuum(self, path: str, retention_hours: float) -> list[str]:
        self._jdt(path).vacuum(float(retention_hours))
        return []  # delta-spark reports removed files in its logs, not to the caller


class _SparkStagedWrite(StagedWrite):
    """delta-spark writes and commits in one step, so staging only holds the plan until commit()."""

    def __init__(self, engine, path, label, df, mode, schema, partition_by, create, read_version):
        self.engine, self.path, self.table, self.df, self.mode = engine, path, label, df, mode
        self.schema, self.partition_by, self.create, self.read_version = schema, partition_by, create, read_version
        self._done = False

    def commit(self) -> CommitResult:
        if self._done:
            raise TableError(f"table {self.table}: this staged write was already committed or aborted")
        self._done = True
        for hook in base.BEFORE_COMMIT_HOOKS:
            hook(self.table)
        writer = self.df.write.format("delta").option("userMetadata", f"inlife {self.table} {self.mode}")
        if self.create:
            writer = writer.partitionBy(*self.partition_by).mode("errorifexists")
        elif self.mode == APPEND:
            writer = writer.mode("append")
        elif self.mode == OVERWRITE:
            writer = writer.mode("overwrite")
        elif self.mode == OVERWRITE_PARTITIONS:
            writer = writer.mode("overwrite").option("partitionOverwriteMode", "dynamic")
        if not self.create and len(self.schema) > len(self.engine.schema(self.path)):
            writer = writer.option("mergeSchema", "true")
        try:
            writer.save(self.path)
        except Exception as exc:  # py4j wraps io.delta.exceptions.Concurrent*Exception
            msg = str(exc)
            if "Concurrent" in msg or "ProtocolChanged" in msg or "MetadataChanged" in msg:
                raise ConflictError(f"table {self.table}: another writer committed first and the changes "
                                    f"conflict; this write was not applied: {msg.splitlines()[0]}") from None
            raise
        h = self.engine.history(self.path, 1)[0]
        rows = h["metrics"].get("numOutputRows")
        return CommitResult(self.table, int(h["version"]), self.mode, int(rows) if rows else None,
                            int(h["metrics"].get("numFiles", 0) or 0), [])

    def abort(self) -> None:
        self._done = True

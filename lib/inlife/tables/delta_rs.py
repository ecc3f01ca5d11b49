"""The delta-rs engine: Spark writes Parquet, the ``deltalake`` package commits; no Delta jars needed.

Write path (one transaction per write):
1. executors write Parquet files, Hive-style partitioned, into ``<table>/_staging/<uuid>/`` (a folder that
   Delta readers ignore, as they ignore every ``_``-prefixed folder);
2. on commit the driver renames them into the table folder and commits one Delta transaction listing them
   (``create_table_with_add_actions`` for a new table, ``create_write_transaction`` otherwise; a partition
   overwrite passes the written partitions as ``partition_filters``);
3. if the commit loses a race the moved files are deleted again and a ConflictError names the table.
A process killed at any point leaves only unreferenced files: readers never list them, vacuum deletes them.

Read path: deltalake resolves the snapshot's file list (latest, a version or a timestamp); Spark scans
those files with the table's schema, taking partition values from the ``col=value`` folders.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from inlife.errors import TableError
from inlife.tables import base
from inlife.tables.base import CommitResult, StagedWrite
from inlife.tables.files import HadoopFiles, local_uri

STAGING = "_staging"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Reader features this engine's reader honours; anything else (deletion vectors, column mapping) is refused
# with a clear error instead of being read wrongly.
SUPPORTED_READER_FEATURES = {"timestampNtz"}


def _deltalake():
    import deltalake
    return deltalake


def file_uris(dt, filters: list) -> list[str]:
    """The table's data files matching (column, op, value) partition filters. deltalake 1.6 renamed the
    argument (``partition_filters`` is deprecated there); older releases of the supported range only know
    the old name."""
    try:
        return dt.file_uris(file_pruning_predicate=filters or None)
    except TypeError:
        return dt.file_uris(partition_filters=filters or None)


def spark_schema_to_delta(schema: StructType):
    # Delta's schema serialisation is Spark's JSON form, so the JSON passes across unchanged.
    return _deltalake().Schema.from_json(json.dumps(schema.jsonValue()))


def delta_schema_to_spark(schema) -> StructType:
    return StructType.fromJson(json.loads(schema.to_json()))


class DeltaRsEngine(base.Engine):
    name = "delta-rs"
    writes_at_stage = True

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self.fs = HadoopFiles(spark)

    # -- metadata -----------------------------------------------------------------------------------
    def _table(self, path: str, label: str, version: int | None = None):
        dl = _deltalake()
        try:
            return dl.DeltaTable(local_uri(path), version=version)
        except dl.exceptions.TableNotFoundError:
            raise TableError(f"table {label} does not exist at {path}") from None

    def exists(self, path: str) -> bool:
        return _deltalake().DeltaTable.is_deltatable(local_uri(path))

    def schema(self, path: str) -> StructType:
        return delta_schema_to_spark(self._table(path, path).schema())

    def partition_columns(self, path: str) -> list[str]:
        return list(self._table(path, path).metadata().partition_columns)

    def version(self, path: str) -> int:
        return self._table(path, path).version()

    def commit_group(self, path: str, version: int) -> str | None:
        text = self.fs.read_text(f"{path.rstrip('/')}/_delta_log/{version:020d}.json")
        actions = [json.loads(line) for line in text.splitlines() if line.strip()]
        return base.group_of(next((a["commitInfo"] for a in actions if "commitInfo" in a), {}))

    def history(self, path: str, limit: int | None) -> list[dict[str, Any]]:
        out = []
        for h in self._table(path, path).history(limit):
            out.append({
                "version": h.get("version"),
                "timestamp": datetime.fromtimestamp(h["timestamp"] / 1000, tz=timezone.utc)
                if h.get("timestamp") is not None else None,
                "operation": h.get("operation"),
                "parameters": h.get("operationParameters", {}),
                "metrics": h.get("operationMetrics", {}),
                "user_metadata": {k: v for k, v in h.items() if k.startswith("inlife.")},
            })
        return out

    @staticmethod
    def _version_at(dt, timestamp):
        """The latest version committed at or before ``timestamp``, by the commit timestamps that history()
        shows. deltalake's own lookup goes by the log files' modification times, which come a little after
        the commit's timestamp: asked for the time history gives for version N, it could answer N - 1."""
        if not isinstance(timestamp, datetime):
            return timestamp                       # a string: deltalake parses and resolves it
        at = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)
        since = at - datetime(1970, 1, 1, tzinfo=timezone.utc)     # exact integers, no float rounding
        at_us = (since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds
        versions = [h["version"] for h in dt.history()
                    if h.get("timestamp") is not None and h["timestamp"] * 1000 <= at_us]
        if not versions:
            raise ValueError(f"the first commit is after {timestamp}")
        return max(versions)

    # -- create ---------------------------------------------------------------------------------------
    def create(self, path: str, label: str, schema: StructType, partition_by: Sequence[str]) -> CommitResult:
        dl = _deltalake()
        from deltalake.transaction import create_table_with_add_actions
        try:
            create_table_with_add_actions(local_uri(path), spark_schema_to_delta(schema), [], mode="error",
                                          partition_by=list(partition_by) or None, name=label)
        except dl.exceptions.DeltaError as exc:
            if self.exists(path):
                raise TableError(f"table {label} already exists at {path}") from None
            raise TableError(f"table {label}: could not create at {path}: {exc}") from None
        return CommitResult(label, 0, "create")

    # -- read -----------------------------------------------------------------------------------------
    def read(self, path: str, label: str, version: int | None, timestamp, partitions) -> DataFrame:
        dt = self._table(path, label, version)
        if timestamp is not None:
            try:
                dt.load_as_version(self._version_at(dt, timestamp))
            except Exception as exc:
                raise TableError(f"table {label}: no version at {timestamp}: {exc}") from None
        self._check_readable(dt, label)
        schema = delta_schema_to_spark(dt.schema())
        part_cols = list(dt.metadata().partition_columns)
        filters = None
        if partitions:
            unknown = [k for k in partitions if k not in part_cols]
            if unknown:
                raise TableError(f"table {label}: {unknown} are not partition columns (have {part_cols})")
            filters = []
            for k, v in partitions.items():
                if isinstance(v, base.Between):
                    filters += [(k, ">=", str(v.low)), (k, "<=", str(v.high))]
                elif isinstance(v, (list, tuple, set)):
                    filters.append((k, "in", sorted(str(x) for x in v)))
                else:
                    filters.append((k, "=", str(v)))
        files = file_uris(dt, filters)
        if not files:
            return self.spark.createDataFrame([], schema)
        root = local_uri(path).rstrip("/")
        if part_cols and not all(f.startswith(root + "/") and
                                 all(f"/{c}=" in f[len(root):] for c in part_cols) for f in files):
            return self._read_by_partition_groups(dt, root, schema, part_cols, filters)
        df = (self.spark.read.schema(schema)
              .option("basePath", root)
              .parquet(*files))
        return df.select(*[F.col(f"`{f.name}`") for f in schema.fields])

    def _read_by_partition_groups(self, dt, root, schema, part_cols, filters) -> DataFrame:
        """Files not laid out as ``col=value`` folders: scan each partition's files, add its values."""
        actions = dt.get_add_actions(flatten=True).to_pylist()
        wanted = {f.split("/")[-1] for f in file_uris(dt, filters)}
        groups: dict[tuple, list[str]] = {}
        for a in actions:
            if a["path"].split("/")[-1] in wanted:
                key = tuple(a.get(f"partition.{c}") for c in part_cols)
                groups.setdefault(key, []).append(f"{root}/{a['path']}")
        data_schema = StructType([f for f in schema.fields if f.name not in part_cols])
        frames = []
        for key, files in groups.items():
            df = self.spark.read.schema(data_schema).parquet(*files)
            for c, v in zip(part_cols, key):
                df = df.withColumn(c, F.lit(v).cast(schema[c].dataType))
            frames.append(df.select(*[F.col(f"`{f.name}`") for f in schema.fields]))
        out = frames[0]
        for f in frames[1:]:
            out = out.unionByName(f)
        return out

    @staticmethod
    def _check_readable(dt, label: str) -> None:
        proto = dt.protocol()
        feats = set(proto.reader_features or [])
        if proto.min_reader_version > 3 or feats - SUPPORTED_READER_FEATURES:
            raise TableError(
                f"table {label} uses Delta reader features {sorted(feats - SUPPORTED_READER_FEATURES)} "
                f"(reader version {proto.min_reader_version}) that the delta-rs engine's Spark reader "
                f"does not support; read it with the delta-spark engine")

    # -- write ----------------------------------------------------------------------------------------
    def stage(self, path, label, df, mode, schema, partition_by, create) -> StagedWrite:
        from inlife.tables.delta_rs_staged import RsStagedWrite

        read_version = None if create else self.version(path)
        staging = f"{path.rstrip('/')}/{STAGING}/{uuid.uuid4().hex}"
        (df.write.mode("errorifexists")
         .partitionBy(*partition_by)
         # a _SUCCESS marker would be a stray file in the table folder
         .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
         .parquet(staging))
        files = [(rel, size, mtime, staging) for rel, size, mtime in self.fs.list_files(staging)
                 if rel.endswith(".parquet")]
        return RsStagedWrite(self, path, label, mode, schema, list(partition_by), create,
                              read_version, [staging], files)

    def combine(self, parts: list[StagedWrite]) -> StagedWrite:
        """The files of every part in one staged write: committing it adds them all in one transaction."""
        from inlife.tables.delta_rs_staged import RsStagedWrite

        first = parts[0]
        for p in parts:
            if not isinstance(p, RsStagedWrite) or p._done:
                raise TableError(f"table {first.table}: only pending delta-rs staged writes can be combined")
            same = (p.path, p.mode, p.partition_by, p.create, p.read_version, p.schema)
            if same != (first.path, first.mode, first.partition_by, first.create, first.read_version, first.schema):
                raise TableError(
                    f"table {first.table}: staged writes differ in table, mode, partitioning, schema or the "
                    f"version they were staged against ({p.table} {p.mode} on version {p.read_version} against "
                    f"{first.table} {first.mode} on version {first.read_version}); they cannot commit as one")
        combined = RsStagedWrite(self, first.path, first.table, first.mode, first.schema, first.partition_by,
                                  first.create, first.read_version,
                                  [s for p in parts for s in p.stagings], [f for p in parts for f in p.files])
        for p in parts:
            p._done = True          # their files now belong to the combined write
            p._hand_over(combined)
        return combined

    def set_rules(self, path, label, properties, constraints) -> None:
        dt = self._table(path, label)
        if properties:
            dt.alter.set_table_properties({k: str(v) for k, v in properties.items()})
        if constraints:
            dt.alter.add_constraint(dict(constraints))

    def restore(self, path: str, version: int) -> int:
        dt = self._table(path, path)
        dt.restore(int(version))
        return _deltalake().DeltaTable(local_uri(path)).version()

    def vacuum(self, path: str, retention_hours: float) -> list[str]:
        from inlife.tables.delta_spark import RETENTION_CHECK, retention_refused

        dt = self._table(path, path)
        # Delta's retention check, under the same switch as delta-spark's
        check = self.spark.conf.get(RETENTION_CHECK, "true").lower() != "false"
        try:
            removed = dt.vacuum(retention_hours=int(retention_hours), dry_run=False,
                                enforce_retention_duration=check, full=True)
        except _deltalake().exceptions.DeltaError as exc:
            if "retention" not in str(exc).lower():
                raise
            raise TableError(retention_refused(path, retention_hours)) from None
        # Staging folders of writes that never committed (a killed process): older than retention.
        cutoff_ms = (time.time() - retention_hours * 3600) * 1000
        for d, mtime in self.fs.list_dirs(f"{path.rstrip('/')}/{STAGING}"):
            if mtime <= cutoff_ms:
                self.fs.delete(d)
                removed.append(d)
        return list(removed)

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
import os
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from inlife.errors import ConflictError, ConstraintError, TableError
from inlife.tables import base
from inlife.tables.base import APPEND, OVERWRITE, OVERWRITE_PARTITIONS, CommitResult, StagedWrite

STAGING = "_staging"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Reader features this engine's reader honours; anything else (deletion vectors, column mapping) is refused
# with a clear error instead of being read wrongly.
SUPPORTED_READER_FEATURES = {"timestampNtz"}


def _deltalake():
    import deltalake
    return deltalake


def _uri(path: str) -> str:
    """Location as deltalake wants it: plain local paths, s3:// for s3a://."""
    if path.startswith("file:"):
        return path[len("file:"):].replace("///", "/", 1) if path.startswith("file:///") else path[5:]
    if path.startswith("s3a://"):
        return "s3://" + path[len("s3a://"):]
    return path


def file_uris(dt, filters: list) -> list[str]:
    """The table's data files matching (column, op, value) partition filters. deltalake 1.6 renamed the
    argument (``partition_filters`` is deprecated there); older releases of the supported range only know
    the old name."""
    try:
        return dt.file_uris(file_pruning_predicate=filters or None)
    except TypeError:
        return dt.file_uris(partition_filters=filters or None)


def _is_local(path: str) -> bool:
    return path.startswith("/") or path.startswith("file:")


def spark_schema_to_delta(schema: StructType):
    # Delta's schema serialisation is Spark's JSON form, so the JSON passes across unchanged.
    return _deltalake().Schema.from_json(json.dumps(schema.jsonValue()))


def delta_schema_to_spark(schema) -> StructType:
    return StructType.fromJson(json.loads(schema.to_json()))


class _Fs:
    """Hadoop FileSystem through the JVM: the same file system the executors wrote with."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self.jvm = spark._jvm
        self.hconf = spark._jsc.hadoopConfiguration()

    def _p(self, path: str):
        return self.jvm.org.apache.hadoop.fs.Path(path)

    def fs(self, path: str):
        return self._p(path).getFileSystem(self.hconf)

    def list_files(self, root: str) -> list[tuple[str, int, int]]:
        """(path relative to root, size, modification ms) of every file under root."""
        if _is_local(root):
            local = _uri(root)
            out = []
            for d, _, names in os.walk(local):
                for n in names:
                    full = os.path.join(d, n)
                    st = os.stat(full)
                    out.append((os.path.relpath(full, local).replace(os.sep, "/"), st.st_size,
                                int(st.st_mtime * 1000)))
            return out
        p = self._p(root)
        fs = p.getFileSystem(self.hconf)
        if not fs.exists(p):
            return []
        base_uri = fs.makeQualified(p).toUri().getPath().rstrip("/") + "/"
        out = []
        it = fs.listFiles(p, True)
        while it.hasNext():
            st = it.next()
            full = st.getPath().toUri().getPath()
            rel = full[len(base_uri):] if full.startswith(base_uri) else full
            out.append((rel, st.getLen(), st.getModificationTime()))
        return out

    def rename(self, src: str, dst: str) -> None:
        if _is_local(src) and _is_local(dst):
            # Plain rename: moves the data file alone (Hadoop's local FS would drag its .crc along).
            os.makedirs(os.path.dirname(_uri(dst)), exist_ok=True)
            os.rename(_uri(src), _uri(dst))
            return
        fs = self.fs(dst)
        dst_p = self._p(dst)
        fs.mkdirs(dst_p.getParent())
        if not fs.rename(self._p(src), dst_p):
            raise TableError(f"could not move data file {src} to {dst}")

    def delete(self, path: str, recursive: bool = True) -> None:
        self.fs(path).delete(self._p(path), recursive)

    def list_dirs(self, path: str) -> list[tuple[str, int]]:
        p = self._p(path)
        fs = p.getFileSystem(self.hconf)
        if not fs.exists(p):
            return []
        return [(st.getPath().toString(), st.getModificationTime()) for st in fs.listStatus(p) if st.isDirectory()]


def _parse_partition_path(rel: str, partition_by: Sequence[str]) -> dict[str, str | None]:
    """``month=2024-01/region=a%20b/part-0.parquet`` -> {"month": "2024-01", "region": "a b"}."""
    values: dict[str, str | None] = {}
    for seg in rel.split("/")[:-1]:
        if "=" in seg:
            k, v = seg.split("=", 1)
            v = unquote(v)
            values[unquote(k)] = None if v == HIVE_NULL else v
    missing = [c for c in partition_by if c not in values]
    if missing:
        raise TableError(f"data file {rel} has no folder for partition column(s) {missing}")
    return {c: values[c] for c in partition_by}


class DeltaRsEngine(base.Engine):
    name = "delta-rs"
    writes_at_stage = True

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self.fs = _Fs(spark)

    # -- metadata -----------------------------------------------------------------------------------
    def _table(self, path: str, label: str, version: int | None = None):
        dl = _deltalake()
        try:
            return dl.DeltaTable(_uri(path), version=version)
        except dl.exceptions.TableNotFoundError:
            raise TableError(f"table {label} does not exist at {path}") from None

    def exists(self, path: str) -> bool:
        return _deltalake().DeltaTable.is_deltatable(_uri(path))

    def schema(self, path: str) -> StructType:
        return delta_schema_to_spark(self._table(path, path).schema())

    def partition_columns(self, path: str) -> list[str]:
        return list(self._table(path, path).metadata().partition_columns)

    def version(self, path: str) -> int:
        return self._table(path, path).version()

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
            create_table_with_add_actions(_uri(path), spark_schema_to_delta(schema), [], mode="error",
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
        root = _uri(path).rstrip("/")
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
        read_version = None if create else self.version(path)
        staging = f"{path.rstrip('/')}/{STAGING}/{uuid.uuid4().hex}"
        (df.write.mode("errorifexists")
         .partitionBy(*partition_by)
         # a _SUCCESS marker would be a stray file in the table folder
         .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
         .parquet(staging))
        files = [(rel, size, mtime, staging) for rel, size, mtime in self.fs.list_files(staging)
                 if rel.endswith(".parquet")]
        return _RsStagedWrite(self, path, label, mode, schema, list(partition_by), create,
                              read_version, [staging], files)

    def combine(self, parts: list[StagedWrite]) -> StagedWrite:
        """The files of every part in one staged write: committing it adds them all in one transaction."""
        first = parts[0]
        for p in parts:
            if not isinstance(p, _RsStagedWrite) or p._done:
                raise TableError(f"table {first.table}: only pending delta-rs staged writes can be combined")
            same = (p.path, p.mode, p.partition_by, p.create, p.read_version, p.schema)
            if same != (first.path, first.mode, first.partition_by, first.create, first.read_version, first.schema):
                raise TableError(
                    f"table {first.table}: staged writes differ in table, mode, partitioning, schema or the "
                    f"version they were staged against ({p.table} {p.mode} on version {p.read_version} against "
                    f"{first.table} {first.mode} on version {first.read_version}); they cannot commit as one")
        combined = _RsStagedWrite(self, first.path, first.table, first.mode, first.schema, first.partition_by,
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
        return _deltalake().DeltaTable(_uri(path)).version()

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


class _RsStagedWrite(StagedWrite):
    """Parquet files in one or more staging folders under the table (``files``: relative path in the table,
    size, mtime, staging folder), waiting for ``commit()`` to move them in and add them in one transaction."""

    def __init__(self, engine: DeltaRsEngine, path, label, mode, schema, partition_by, create,
                 read_version, stagings: list[str], files: list[tuple[str, int, int, str]]):
        self.engine, self.path, self.table, self.mode = engine, path.rstrip("/"), label, mode
        self.schema, self.partition_by, self.create = schema, partition_by, create
        self.read_version, self.stagings, self.files = read_version, stagings, files
        self.staging_id = stagings[0].rsplit("/", 1)[-1]
        self.partitions = _unique([_parse_partition_path(rel, partition_by) for rel, *_ in files])
        self._done = False
        self._moved = False
        self._rows_per_file: list[int] | None = None

    def _file_rows(self) -> list[int] | None:
        """Row count of each data file from its Parquet footer (local files only; no scan needed)."""
        if "://" in self.path and not self.path.startswith("file:"):
            return None
        if self._rows_per_file is None:
            import pyarrow.parquet as pq
            # before commit the files are still in staging; after, in the table folder
            self._rows_per_file = [pq.read_metadata(f"{_uri(staging if not self._moved else self.path)}/{rel}")
                                   .num_rows for rel, _, _, staging in self.files]
        return self._rows_per_file

    def rows(self) -> int | None:
        per_file = self._file_rows()
        return sum(per_file) if per_file is not None else None

    def commit(self) -> CommitResult:
        if self._done:
            raise TableError(f"table {self.table}: this staged write was already committed or aborted")
        self._done = True
        try:
            return self._commit()
        finally:
            self._finished()

    def _commit(self) -> CommitResult:
        dl = _deltalake()
        from deltalake.transaction import AddAction, CommitProperties, create_table_with_add_actions

        moved: list[str] = []
        try:
            if not self.create:
                self._check_constraints(dl.DeltaTable(_uri(self.path), version=self.read_version))
            self._file_rows()  # footers read while the files are in staging
            for rel, _, _, staging in self.files:
                self.engine.fs.rename(f"{staging}/{rel}", f"{self.path}/{rel}")
                moved.append(rel)
            self._moved = True
            for hook in base.BEFORE_COMMIT_HOOKS:
                hook(self.table)
            file_rows = self._file_rows()
            rows = sum(file_rows) if file_rows is not None else None
            adds = []
            for i, (rel, size, mtime, _) in enumerate(self.files):
                stats = json.dumps({"numRecords": file_rows[i]}) if file_rows is not None else ""
                adds.append(AddAction(rel, size, _parse_partition_path(rel, self.partition_by),
                                      mtime, True, stats))
            delta_schema = spark_schema_to_delta(self.schema)
            props = CommitProperties(custom_metadata={"inlife.table": self.table, "inlife.mode": self.mode,
                                                      "inlife.staging": self.staging_id})
            if self.create:
                create_table_with_add_actions(_uri(self.path), delta_schema, adds, mode="error",
                                              partition_by=self.partition_by or None, name=self.table,
                                              commit_properties=props)
            else:
                dt = dl.DeltaTable(_uri(self.path), version=self.read_version)
                self._evolve_schema(dt, props)
                if self.mode == APPEND:
                    self._append(dt, adds, delta_schema, props)
                elif self.mode == OVERWRITE:
                    dt.create_write_transaction(adds, "overwrite", delta_schema, self.partition_by or None,
                                                commit_properties=props)
                elif self.mode == OVERWRITE_PARTITIONS:
                    if not self.partitions:
                        self._cleanup(moved=[])
                        return CommitResult(self.table, self.read_version, self.mode, 0, 0, [])
                    dt.create_write_transaction(adds, "overwrite", delta_schema, self.partition_by,
                                                partition_filters=_partition_filter(self.partitions),
                                                commit_properties=props)
        except (dl.exceptions.CommitFailedError, dl.exceptions.DeltaError) as exc:
            self._cleanup(moved)
            msg = str(exc)
            if isinstance(exc, dl.exceptions.CommitFailedError) or "already exists" in msg or \
                    "conflict" in msg.lower() or "Version mismatch" in msg:
                raise ConflictError(
                    f"table {self.table}: another writer committed first and the changes conflict "
                    f"({self.mode} based on version {self.read_version}); this write was not applied: "
                    f"{msg.splitlines()[0]}") from None
            raise TableError(f"table {self.table}: commit failed, nothing written: {msg}") from None
        except BaseException:
            self._cleanup(moved)
            raise
        self._cleanup(moved=[])
        version = self._committed_version()
        return CommitResult(self.table, version, self.mode, rows, len(self.files), self.partitions)

    def _check_constraints(self, dt) -> None:
        """The table's CHECK constraints over the staged rows (deltalake's own writer checks them; files
        committed as add actions are not): the first row that breaks one stops the commit."""
        prefix = "delta.constraints."
        checks = {k[len(prefix):]: v for k, v in dt.metadata().configuration.items() if k.startswith(prefix)}
        if not checks or not self.files:
            return
        spark = self.engine.spark
        frames = [spark.read.schema(self.schema).option("basePath", staging)
                  .parquet(*[f"{staging}/{rel}" for rel, _, _, st in self.files if st == staging])
                  for staging in self.stagings if any(st == staging for *_, st in self.files)]
        staged = frames[0]
        for f in frames[1:]:
            staged = staged.unionByName(f)
        for name, condition in checks.items():
            bad = staged.where(~F.coalesce(F.expr(condition), F.lit(False))).limit(1).collect()
            if bad:
                values = ", ".join(f"{k} = {v!r}" for k, v in bad[0].asDict().items())
                raise ConstraintError(f"table {self.table}: CHECK constraint {name} ({condition}) violated by "
                                      f"row with values: {values}; nothing was committed")

    def _append(self, dt, adds, delta_schema, props, attempts: int = 5) -> None:
        """A blind append reads nothing, so it cannot truly conflict: on a lost race, commit again on top
        of the newest version (delta-rs's own check is stricter than the Delta protocol requires)."""
        dl = _deltalake()
        for attempt in range(attempts):
            try:
                dt.create_write_transaction(adds, "append", delta_schema, self.partition_by or None,
                                            commit_properties=props)
                return
            except dl.exceptions.CommitFailedError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
                dt = dl.DeltaTable(_uri(self.path))

    def _evolve_schema(self, dt, props) -> None:
        """Added nullable columns: deltalake's write transaction keeps the table's metadata, so the new
        columns are added by a schema-only commit just before the data commit (readers of the version in
        between see the new columns as null, which is what they would see after the data commit too)."""
        current = delta_schema_to_spark(dt.schema())
        new = [f for f in self.schema.fields if f.name not in current.names]
        if new:
            from deltalake import Field
            dt.alter.add_columns([Field.from_json(json.dumps(f.jsonValue())) for f in new],
                                 commit_properties=props)
            self.read_version = dt.version()

    def _committed_version(self) -> int:
        """The version this commit created: the newest commit carrying our staging id."""
        dt = _deltalake().DeltaTable(_uri(self.path))
        for h in dt.history(20):
            if h.get("inlife.staging") == self.staging_id:
                return int(h["version"])
        return dt.version()

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._cleanup(moved=[])
            self._finished()

    def _cleanup(self, moved: list[str]) -> None:
        fs = self.engine.fs
        for rel in moved:
            try:
                fs.delete(f"{self.path}/{rel}", False)
            except Exception:  # vacuum removes whatever is left
                pass
        for staging in self.stagings:
            try:
                fs.delete(staging, True)
            except Exception:
                pass


def _unique(items: list[dict]) -> list[dict]:
    seen, out = set(), []
    for d in items:
        key = tuple(sorted(d.items(), key=lambda kv: kv[0]))
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _partition_filter(partitions: list[dict[str, str | None]]):
    """The written partitions as a deltalake filter: ``col in (...)`` for one column, else OR of ANDs."""
    cols = list(partitions[0])
    if len(cols) == 1:
        c = cols[0]
        return [(c, "in", sorted({p[c] for p in partitions if p[c] is not None}))] if all(
            p[c] is not None for p in partitions) else [[(c, "=", p[c])] for p in partitions]
    return [[(c, "=", p[c]) for c in cols] for p in partitions]

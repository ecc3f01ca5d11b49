"""The delta-rs engine's staged write: data files written under the table's _staging folder, moved into the
table and listed in one Delta transaction on commit (inlife.tables.delta_rs says how)."""
from __future__ import annotations

import json
import time

from pyspark.sql import functions as F

from inlife.errors import ConflictError, ConstraintError, TableError
from inlife.tables import base
from inlife.tables.base import APPEND, OVERWRITE, OVERWRITE_PARTITIONS, CommitResult, StagedWrite
from inlife.tables.delta_rs import _deltalake, delta_schema_to_spark, spark_schema_to_delta
from inlife.tables.files import local_uri, partition_values


class RsStagedWrite(StagedWrite):
    """Parquet files in one or more staging folders under the table (``files``: relative path in the table,
    size, mtime, staging folder), waiting for ``commit()`` to move them in and add them in one transaction."""

    def __init__(self, engine, path, label, mode, schema, partition_by, create,
                 read_version, stagings: list[str], files: list[tuple[str, int, int, str]]):
        self.engine, self.path, self.table, self.mode = engine, path.rstrip("/"), label, mode
        self.schema, self.partition_by, self.create = schema, partition_by, create
        self.read_version, self.stagings, self.files = read_version, stagings, files
        self.staging_id = stagings[0].rsplit("/", 1)[-1]
        self.partitions = _unique([partition_values(rel, partition_by) for rel, *_ in files])
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
            self._rows_per_file = [pq.read_metadata(f"{local_uri(staging if not self._moved else self.path)}/{rel}")
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
                self._check_constraints(dl.DeltaTable(local_uri(self.path), version=self.read_version))
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
                adds.append(AddAction(rel, size, partition_values(rel, self.partition_by),
                                      mtime, True, stats))
            delta_schema = spark_schema_to_delta(self.schema)
            metadata = {"inlife.table": self.table, "inlife.mode": self.mode, "inlife.staging": self.staging_id}
            if self.group:
                metadata[base.GROUP_KEY] = self.group
            props = CommitProperties(custom_metadata=metadata)
            if self.create:
                create_table_with_add_actions(local_uri(self.path), delta_schema, adds, mode="error",
                                              partition_by=self.partition_by or None, name=self.table,
                                              commit_properties=props)
            else:
                dt = dl.DeltaTable(local_uri(self.path), version=self.read_version)
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
                dt = dl.DeltaTable(local_uri(self.path))

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
        dt = _deltalake().DeltaTable(local_uri(self.path))
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

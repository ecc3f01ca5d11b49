"""Delta tables by logical name (``layer.table``): the one interface every job uses.

    tables = Tables(spark, conf)
    tables.overwrite_partitions(VOICE_MONTHLY, df)      # intermediate.voice_monthly, by month
    df = tables.read(VOICE_MONTHLY, partitions={"month": "2024-03"})

The tables are declared in ``inlife.tables.catalogue`` (name, partitioning, suite, writer); a table that is
not declared there (the tests' ``smoke.*``) is partitioned as its first write says.

Two engines sit behind it (see docs/ARCHITECTURE.md): ``delta-spark`` (native, needs the Delta Lake jars)
and ``delta-rs`` (Spark writes Parquet, the ``deltalake`` package commits). ``lake.engine: auto`` takes
delta-spark when its classes load in this session, otherwise delta-rs. Jobs never know which one runs.

Every write checks the frame against the table's schema first and fails listing the differences, unless
``evolve=True`` asks to add new nullable columns. Writes are staged then committed in one transaction, so
a failure before the commit leaves the table at its previous version.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from inlife.config import Config, resolve_path
from inlife.errors import TableError
from inlife.tables.base import (APPEND, MODES, OVERWRITE, OVERWRITE_PARTITIONS, Between, CommitResult, Engine,
                                StagedWrite, sql_string)
from inlife.tables import runs
from inlife.tables.catalogue import declared
from inlife.tables.schemas import nullable, reconcile

__all__ = ["Tables", "Between", "CommitResult", "StagedWrite", "APPEND", "OVERWRITE", "OVERWRITE_PARTITIONS",
           "select_engine"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
# (Spark application, table) -> the location registered in this session: each job has Tables of its own,
# and a table registered once need not be looked up in the catalog again after every later write.
_SESSION_REGISTERED: dict[tuple[str, str], str] = {}


def select_engine(spark: SparkSession, choice: str) -> Engine:
    from inlife.session import delta_spark_available

    if choice not in ("auto", "delta-rs", "delta-spark"):
        raise TableError(f"lake.engine: unknown engine {choice!r} (auto, delta-rs or delta-spark)")
    if choice == "delta-spark" or (choice == "auto" and delta_spark_available(spark)):
        if not delta_spark_available(spark):
            raise TableError("lake.engine is delta-spark but io.delta.sql.DeltaSparkSessionExtension is not "
                             "on the classpath: set lake.delta_spark_jars (local jars), run on a cluster that "
                             "has them, or use lake.engine: delta-rs")
        from inlife.tables.delta_spark import DeltaSparkEngine
        return DeltaSparkEngine(spark)
    from inlife.tables.delta_rs import DeltaRsEngine
    return DeltaRsEngine(spark)


class Tables:
    """Logical table names -> locations -> engine operations."""

    def __init__(self, spark: SparkSession, conf: Config, engine: Engine | None = None):
        self.spark = spark
        self.conf = conf
        self.engine = engine or select_engine(spark, conf.get("lake.engine"))
        self._registered: set[str] = set()

    # -- names and locations ------------------------------------------------------------------------
    def location(self, name: str) -> str:
        """Where ``layer.table`` lives: ``lake.locations[name]`` or ``<lake.root>/<layer>/<table>``."""
        if not NAME_RE.match(name or ""):
            raise TableError(f"table name {name!r} is not of the form layer.table (lowercase, underscores)")
        layer, table = name.split(".")
        layers = self.conf.get("lake.layers")
        if layer not in layers:
            raise TableError(f"table {name}: unknown layer '{layer}' (lake.layers: {', '.join(layers)})")
        explicit = self.conf.get("lake.locations").get(name)
        if explicit:
            return resolve_path(explicit, self.conf.project_root)
        return f"{self.conf.path('lake.root').rstrip('/')}/{layer}/{table}"

    def exists(self, name: str) -> bool:
        return self.engine.exists(self.location(name))

    # -- metadata -------------------------------------------------------------------------------------
    def schema(self, name: str) -> StructType:
        self._require(name)
        return self.engine.schema(self.location(name))

    def partition_columns(self, name: str) -> list[str]:
        self._require(name)
        return self.engine.partition_columns(self.location(name))

    def version(self, name: str) -> int:
        self._require(name)
        return self.engine.version(self.location(name))

    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits, newest first: version, timestamp, operation, parameters, metrics."""
        self._require(name)
        return self.engine.history(self.location(name), limit)

    def vacuum(self, name: str, retention_hours: float | None = None) -> list[str]:
        """Delete data files no version within the retention references (and abandoned staging files)."""
        self._require(name)
        hours = self.conf.get("lake.vacuum_retention_hours") if retention_hours is None else retention_hours
        floor = float(self.conf.get("lake.vacuum_floor_hours"))
        if hours < max(floor, 0):
            raise TableError(f"vacuum {name}: a retention of {hours:g} hours is below lake.vacuum_floor_hours "
                             f"({max(floor, 0):g}): files a running job still reads would be deleted under it")
        return self.engine.vacuum(self.location(name), hours)

    def restore(self, name: str, version: int) -> int:
        """Commit ``version``'s content as the newest version (Delta's RESTORE); returns the new version."""
        self._require(name)
        return self.engine.restore(self.location(name), version)

    def roll_back(self, committed: list[tuple[StagedWrite, CommitResult]]) -> None:
        """Undo a failed job's commits that went through before the failure, newest first, so every table is
        back at its previous content: each table whose newest version is still the job's own is restored to
        the version the job staged against. A table the job created keeps its first version, and one that
        another writer committed to since is left as it is: a line on stderr names them (the job's own
        error is the one that propagates)."""
        left = []
        for staged, result in reversed(committed):
            if staged.read_version is None:
                left.append(f"{result.table} (created by this job, kept at version {result.version})")
            elif self.version(result.table) != result.version:
                left.append(f"{result.table} (another writer committed after version {result.version})")
            else:
                self.restore(result.table, staged.read_version)
        if left:
            print("[inlife] the failed job's commits not rolled back: " + ", ".join(left), file=sys.stderr)

    # -- create and read ------------------------------------------------------------------------------
    def create(self, name: str, schema: StructType, partition_by: Sequence[str] = ()) -> CommitResult:
        self._check_partition_cols(name, schema, partition_by)
        result = self.engine.create(self.location(name), name, nullable(schema), list(partition_by))
        properties, constraints = self._rules(name)
        if properties or constraints:
            self.engine.set_rules(self.location(name), name, properties, constraints)
            result.version = self.engine.version(self.location(name))
        if self.catalog_enabled:
            self._register_or_warn(name)
        return result

    def read(self, name: str, version: int | None = None, timestamp: datetime | str | None = None,
             partitions: dict[str, Any] | None = None) -> DataFrame:
        """The latest snapshot, or ``version``, or the one current at ``timestamp``; ``partitions`` prunes
        by partition value: ``{"month": "2024-03"}``, ``{"month": ["2024-02", "2024-03"]}`` or
        ``{"batch_date": Between("2024-03-01", "2024-04-07")}``."""
        if version is not None and timestamp is not None:
            raise TableError(f"table {name}: give a version or a timestamp, not both")
        return self.engine.read(self.location(name), name, version, timestamp, partitions)

    # -- writes ---------------------------------------------------------------------------------------
    def append(self, name: str, df: DataFrame, partition_by: Sequence[str] | None = None,
               evolve: bool = False) -> CommitResult:
        return self.commit([self.stage(name, df, APPEND, partition_by, evolve)])[0]

    def overwrite(self, name: str, df: DataFrame, partition_by: Sequence[str] | None = None,
                  evolve: bool = False) -> CommitResult:
        """Replace the whole table's content (its history stays)."""
        return self.commit([self.stage(name, df, OVERWRITE, partition_by, evolve)])[0]

    def overwrite_partitions(self, name: str, df: DataFrame, partition_by: Sequence[str] | None = None,
                             evolve: bool = False) -> CommitResult:
        """Replace exactly the partitions present in ``df``; every other partition is untouched."""
        return self.commit([self.stage(name, df, OVERWRITE_PARTITIONS, partition_by, evolve)])[0]

    def stage(self, name: str, df: DataFrame, mode: str, partition_by: Sequence[str] | None = None,
              evolve: bool = False) -> StagedWrite:
        """Write the data files now, commit later. Jobs stage every output, validate, then commit, so a
        failed check leaves every table at its previous version. A missing table is created by the commit
        (with ``partition_by``)."""
        if mode not in MODES:
            raise TableError(f"table {name}: unknown write mode {mode!r} (one of {', '.join(MODES)})")
        path = self.location(name)
        if self.engine.exists(path):
            table_parts = self.engine.partition_columns(path)
            if partition_by is not None and list(partition_by) != table_parts:
                raise TableError(f"table {name} is partitioned by {table_parts}, not {list(partition_by)}")
            schema = reconcile(name, self.engine.schema(path), df.schema, evolve)
            df = df.select(*[F.col(f"`{f.name}`") for f in schema.fields])
            create, parts = False, table_parts
        else:
            spec = declared(name)
            parts = list(partition_by if partition_by is not None else spec.partition_by if spec else [])
            self._check_partition_cols(name, df.schema, parts)
            schema, create = nullable(df.schema), True
            if self._rules(name) != ({}, {}):
                # constraints must be on the table before its first rows: create it empty first
                self.create(name, schema, parts)
                return self.stage(name, df, mode, partition_by, evolve)
        if mode == OVERWRITE_PARTITIONS and not parts:
            raise TableError(f"table {name} is not partitioned: use overwrite(), not overwrite_partitions()")
        if parts and self.conf.get("lake.rebalance_writes"):
            # Without it every task writes a file into every partition it holds: a month of daily CDR
            # batches became ~250 small files per write, each one more file for every later read to open
            # and for the commit to inspect. REBALANCE (adaptive execution) gathers each partition's rows
            # into files of about spark.sql.adaptive.advisoryPartitionSizeInBytes, splitting large ones.
            df = df.hint("rebalance", *parts)
        staged = self.engine.stage(path, name, df, mode, schema, parts, create)
        self._register_after(staged, name)
        return staged

    def commit(self, staged: list[StagedWrite]) -> list[CommitResult]:
        """Commit staged writes of different tables together, in order: all, or none. A commit that fails
        restores the tables committed before it; a process killed between two commits leaves a journal from
        which the next run restores them (``inlife.tables.runs``). Each commit is recorded in the run."""
        return runs.commit_group(self, staged)

    def combine(self, parts: list[StagedWrite]) -> StagedWrite:
        """Staged writes of one table (same mode, staged before any of them committed) as one: committing it
        commits all of them in one transaction. A backfill stages its batch-date groups one by one this way
        and still changes the table once."""
        if not parts:
            raise TableError("combine() needs at least one staged write")
        return parts[0] if len(parts) == 1 else self.engine.combine(parts)

    def release_after(self, staged: StagedWrite, release) -> None:
        """Run ``release`` (unpersisting the cache a staged frame reads) as soon as the engine no longer
        needs it: now where stage() wrote the files, else when the write commits or aborts."""
        if self.engine.writes_at_stage:
            release()
        else:
            staged.on_finish(release)

    @property
    def writes_at_stage(self) -> bool:
        """Whether stage() writes the data files itself (so splitting a write into staged parts costs nothing
        at commit)."""
        return self.engine.writes_at_stage

    # -- the session catalog --------------------------------------------------------------------------
    @property
    def catalog_enabled(self) -> bool:
        """Tables are registered by name where ``lake.catalog`` is on and the engine is delta-spark (the
        catalog's Delta tables need the Delta Lake jars)."""
        return bool(self.conf.get("lake.catalog")) and self.engine.name == "delta-spark"

    def register(self, name: str) -> bool:
        """Register ``name`` in the session catalog as ``<layer>.<table>``, a Delta table over its location
        (schema ``<layer>`` created first), so that ``spark.sql("select * from unified.customer_view")``
        works. Idempotent; a name registered at another location (``lake.locations`` or ``lake.root``
        changed) is pointed at the current one. Dropping the old entry deletes no data: it is an external
        table. Returns whether the catalog holds the table now."""
        if not self.catalog_enabled or not self.exists(name):
            return False
        layer, _ = name.split(".")
        location = self.location(name)
        self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        current = _catalog_location(self.spark, name)
        if current is not None and _same_location(current, location):
            self._registered.add(name)
            _SESSION_REGISTERED[(self.spark.sparkContext.applicationId, name)] = location
            return True
        if current is not None:
            self.spark.sql(f"DROP TABLE {name}")
        self.spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION {sql_string(location)}")
        self._registered.add(name)
        _SESSION_REGISTERED[(self.spark.sparkContext.applicationId, name)] = location
        return True

    def register_all(self) -> list[str]:
        """Register every table found under a local ``lake.root`` and every table in ``lake.locations``
        (a remote root is not listed: name its tables in ``lake.locations``); their names."""
        names = set(self.conf.get("lake.locations"))
        for layer in self.conf.get("lake.layers"):
            folder = Path(self.conf.path("lake.root")) / layer
            if "://" not in str(self.conf.get("lake.root")) and folder.is_dir():
                names |= {f"{layer}.{p.name}" for p in folder.iterdir() if NAME_RE.match(f"{layer}.{p.name}")}
        return [n for n in sorted(names) if self.register(n)]

    def _register_after(self, staged: StagedWrite, name: str) -> None:
        if not self.catalog_enabled or name in self._registered:
            return
        if _SESSION_REGISTERED.get((self.spark.sparkContext.applicationId, name)) != self.location(name):
            staged.on_finish(lambda: self._register_or_warn(name))

    def _register_or_warn(self, name: str) -> None:
        """Registration after a commit: the data is committed whatever the catalog does, so a catalog that
        cannot be reached (an embedded metastore another process holds open) costs a warning, not the job."""
        try:
            self.register(name)
        except Exception as exc:  # py4j and the Hive client raise their own types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            print(f"[inlife] catalog: {name} committed but not registered ({first}); `inlife catalog` "
                  f"registers it later", file=sys.stderr)

    # -- helpers --------------------------------------------------------------------------------------
    def _rules(self, name: str) -> tuple[dict[str, str], dict[str, str]]:
        """The Delta table properties and CHECK constraints configured for ``name`` (lake.table_properties,
        lake.constraints), set when the table is created."""
        return (dict(self.conf.get("lake.table_properties").get(name) or {}),
                dict(self.conf.get("lake.constraints").get(name) or {}))

    def _require(self, name: str) -> None:
        if not self.exists(name):
            raise TableError(f"table {name} does not exist at {self.location(name)}")

    @staticmethod
    def _check_partition_cols(name: str, schema: StructType, partition_by: Iterable[str]) -> None:
        missing = [c for c in partition_by if c not in schema.names]
        if missing:
            raise TableError(f"table {name}: partition column(s) {missing} are not in the schema "
                             f"({', '.join(schema.names)})")
        if partition_by and len(partition_by) == len(schema.names):
            raise TableError(f"table {name}: every column is a partition column; keep at least one data column")


def _catalog_location(spark: SparkSession, name: str) -> str | None:
    """Where the catalog has ``name``, or None when it has no such table."""
    if not spark.catalog.tableExists(name):
        return None
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()
    return next((r["data_type"] for r in rows if r["col_name"] == "Location"), None)


def _same_location(a: str, b: str) -> bool:
    def norm(p: str) -> str:
        p = p[len("file:"):] if p.startswith("file:") else p
        return "/" + p.lstrip("/").rstrip("/") if p.startswith("/") else p.rstrip("/")
    return norm(a) == norm(b)

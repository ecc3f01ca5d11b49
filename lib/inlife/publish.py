"""Publishing a job's outputs together: build, validate, stage each; commit all only if all passed.

    with Publication(tables, conf) as pub:
        pub.add(VOICE_MONTHLY, voice_df, parameters={"raw_minutes": 1234.5})
        pub.add(SOCIAL_CIRCLE, social_df)      # tables of inlife.tables.catalogue
    # leaving the block commits every staged table; an exception (a failed suite included) aborts them all

A frame is cached and counted (its build), then validated (Great Expectations makes several passes over
the cache) and written, then released. A failed suite raises QualityError naming the table and the failed
expectations, and nothing of the job is committed: every table stays at its previous version.

``df`` and ``parameters`` may be given as functions that return them: a transform that runs jobs while it
is defined (a checkpointed aggregate, a reconciliation total) then runs inside the table's stage, so its
time counts in the table's build seconds and, with workers, overlaps other tables.

``Publication(tables, conf, workers=2)`` builds, validates and stages the tables side by side (threads on
one session): ``add`` then returns at once and a failure surfaces when the block ends. Validations take
turns on the shared Great Expectations context, so one table's build overlaps another's validation.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame

from inlife.config import Config
from inlife.progress import stage
from inlife.quality import QualityError, Validator
from inlife.session import CACHE, release_shuffle_files
from inlife.tables import OVERWRITE_PARTITIONS, StagedWrite, Tables
from inlife.tables.catalogue import declared


@dataclass
class Published:
    table: str
    rows: int | None
    version: int | None
    build_seconds: float
    validation_seconds: float
    skipped_expectations: list[str] = field(default_factory=list)


class Publication:
    def __init__(self, tables: Tables, conf: Config, validator: Validator | None = None, workers: int = 1,
                 release: bool = False, batch: str | None = None):
        self.tables = tables
        self.batch = batch          # what the tables hold (a month, a day), for the validation results
        # release: after each table, let Spark delete what its build left on local disk (large inputs: the
        # shuffle files of a 10M-subscriber month's tables would otherwise pile up until the periodic GC)
        self.release = release
        self.conf = conf
        self.validate_on = bool(conf.get("quality.enabled"))
        self.validator = validator or (Validator.shared(conf) if self.validate_on else None)
        self._staged: list[tuple[int, StagedWrite, Published]] = []   # (order added, ...)
        self.results: list[Published] = []
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publish") if workers > 1 else None
        self._pending: list[Future] = []
        self._lock = threading.Lock()
        self._added = 0

    def add(self, table: str, df: DataFrame | Callable[[], DataFrame], mode: str | None = None,
            partition_by: Sequence[str] | None = None,
            parameters: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
            validate: bool | None = None) -> Published | Future:
        """Build, validate and stage ``table`` (with ``workers`` > 1: in the background, returns a Future).
        Its mode, partitioning and whether a suite checks it are the catalogue's unless given (a table not in
        the catalogue: a partition overwrite by month, validated)."""
        index, self._added = self._added, self._added + 1
        spec = declared(table)
        if mode is None:
            mode = spec.mode if spec else OVERWRITE_PARTITIONS
        if partition_by is None:
            partition_by = spec.partition_by if spec else ("month",)
        validate = validate if validate is not None else (spec.validated if spec else True)
        if self._pool is not None:
            future = self._pool.submit(self._add, index, table, df, mode, partition_by, parameters, validate)
            self._pending.append(future)
            return future
        return self._add(index, table, df, mode, partition_by, parameters, validate)

    def _add(self, index: int, table: str, df, mode: str, partition_by: Sequence[str] | None,
             parameters, validate: bool) -> Published:
        started = time.time()
        with stage(f"{table}", self.conf) as st:
            df = df() if callable(df) else df
            parameters = parameters() if callable(parameters) else parameters
            df = df.persist(CACHE)
            staged = None
            try:
                rows = df.count()   # the build, into the cache: outside the validator's turn, and timed apart
                validation_seconds, skipped = 0.0, []
                if validate and self.validate_on:
                    outcome = self.validator.validate(table, df, parameters, batch=self.batch)
                    validation_seconds, skipped = outcome.seconds, outcome.skipped
                    if not outcome.success:
                        raise QualityError(outcome.message())
                staged = self.tables.stage(table, df, mode, list(partition_by) if partition_by else None)
            finally:
                if staged is None:
                    df.unpersist()
                else:                # delta-spark writes at commit, from this cache
                    self.tables.release_after(staged, df.unpersist)
                del df
                if self.release:
                    release_shuffle_files(self.tables.spark)
            staged_rows = staged.rows()
            info = Published(table, rows if staged_rows is None else staged_rows, None,
                             time.time() - started - validation_seconds, validation_seconds, skipped)
            st.rows = info.rows
            st.note = f"(validation {validation_seconds:.1f}s)" if validation_seconds else ""
        with self._lock:
            self._staged.append((index, staged, info))
        return info

    def _wait(self) -> None:
        """Wait for the tables still being built; raise the first failure (in the order they were added)."""
        pending, self._pending = self._pending, []
        error = None
        for f in pending:
            try:
                f.result()
            except BaseException as exc:  # every table is waited for, so none is left staged behind
                error = error or exc
        if error is not None:
            raise error

    def commit(self) -> list[Published]:
        self._wait()
        # commit in the order the tables were added, whatever order their builds finished in: all or none
        # (a failing commit or a crash between two: see Tables.commit)
        self._staged.sort(key=lambda s: s[0])
        results = self.tables.commit([staged for _, staged, _ in self._staged])
        for (_, _, info), result in zip(self._staged, results):
            info.version = result.version
            info.rows = result.rows if result.rows is not None else info.rows
            self.results.append(info)
        self._staged = []
        return self.results

    def abort(self) -> None:
        if self._pool is not None:
            for f in self._pending:
                f.cancel()
            try:
                self._wait()
            except BaseException:
                pass                 # the error that caused the abort is the one that propagates
        for _, staged, _ in self._staged:
            staged.abort()
        self._staged = []

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self.commit()
                except BaseException:
                    self.abort()
                    raise
            else:
                self.abort()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

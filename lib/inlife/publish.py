"""Publishing a job's outputs together: build, validate, stage each; commit all only if all passed.

    with Publication(tables, conf) as pub:
        pub.add("intermediate.voice_monthly", voice_df, parameters={"raw_minutes": 1234.5})
        pub.add("intermediate.social_circle", social_df)
    # leaving the block commits every staged table; an exception (a failed suite included) aborts them all

A frame is cached while it is validated and written (Great Expectations makes several passes; the write is
one more), then released. A failed suite raises QualityError naming the table and the failed expectations,
and nothing of the job is committed: every table stays at its previous version.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from inlife.config import Config
from inlife.progress import stage
from inlife.quality import QualityError, Validator
from inlife.tables import OVERWRITE_PARTITIONS, CommitResult, StagedWrite, Tables


@dataclass
class Published:
    table: str
    rows: int | None
    version: int | None
    build_seconds: float
    validation_seconds: float
    skipped_expectations: list[str] = field(default_factory=list)


class Publication:
    def __init__(self, tables: Tables, conf: Config, validator: Validator | None = None):
        self.tables = tables
        self.conf = conf
        self.validate_on = bool(conf.get("quality.enabled"))
        self.validator = validator or (Validator.shared(conf) if self.validate_on else None)
        self._staged: list[tuple[StagedWrite, Published]] = []
        self.results: list[Published] = []

    def add(self, table: str, df: DataFrame, mode: str = OVERWRITE_PARTITIONS,
            partition_by: Sequence[str] | None = ("month",), parameters: dict[str, Any] | None = None,
            validate: bool = True) -> Published:
        started = time.time()
        with stage(f"{table}", self.conf) as st:
            df = df.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                validation_seconds, skipped = 0.0, []
                if validate and self.validate_on:
                    outcome = self.validator.validate(table, df, parameters)
                    validation_seconds, skipped = outcome.seconds, outcome.skipped
                    if not outcome.success:
                        raise QualityError(outcome.message())
                staged = self.tables.stage(table, df, mode, list(partition_by) if partition_by else None)
            finally:
                df.unpersist()
            info = Published(table, staged.rows(), None,
                             time.time() - started - validation_seconds, validation_seconds, skipped)
            st.rows = info.rows
            st.note = f"(validation {validation_seconds:.1f}s)" if validation_seconds else ""
        self._staged.append((staged, info))
        return info

    def commit(self) -> list[Published]:
        for staged, info in self._staged:
            result: CommitResult = staged.commit()
            info.version = result.version
            info.rows = result.rows if result.rows is not None else info.rows
            self.results.append(info)
        self._staged = []
        return self.results

    def abort(self) -> None:
        for staged, _ in self._staged:
            staged.abort()
        self._staged = []

    def __enter__(self) -> "Publication":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

"""What an engine must provide. Paths here are table locations; logical names live in the facade."""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

APPEND = "append"
OVERWRITE = "overwrite"
OVERWRITE_PARTITIONS = "overwrite_partitions"
MODES = (APPEND, OVERWRITE, OVERWRITE_PARTITIONS)


@dataclass(frozen=True)
class Between:
    """A partition range for ``Tables.read(partitions={"batch_date": Between("2024-01-01", "2024-02-07")})``,
    both ends included."""
    low: Any
    high: Any


@dataclass
class CommitResult:
    """What one commit did. ``rows`` is None where the engine cannot tell without another pass."""
    table: str
    version: int
    mode: str
    rows: int | None = None
    files: int = 0
    partitions: list[dict[str, Any]] = field(default_factory=list)


class StagedWrite(ABC):
    """Data files written but not yet part of the table. ``commit()`` makes them visible in one transaction;
    ``abort()`` discards them. Nothing a reader sees changes before ``commit()``.
    """

    table: str
    read_version: int | None
    # the commit group (``Tables.commit``) this write belongs to, written into its commit so that the group's
    # commits can be told apart from other writers' after a crash
    group: str | None = None

    def on_finish(self, release: Callable[[], None]) -> None:
        """Call ``release`` once this write has committed or aborted: an engine that writes at commit reads
        the staged frame then, so the cache it reads from must live until that moment."""
        self.__dict__.setdefault("_releases", []).append(release)

    def _finished(self) -> None:
        for release in self.__dict__.pop("_releases", []):
            release()

    def _hand_over(self, to: StagedWrite) -> None:
        for release in self.__dict__.pop("_releases", []):
            to.on_finish(release)

    def rows(self) -> int | None:
        """Rows staged, where the engine knows without another pass over the data; else None."""
        return None

    @abstractmethod
    def commit(self) -> CommitResult: ...

    @abstractmethod
    def abort(self) -> None: ...


class Engine(ABC):
    name: str
    # True when stage() writes the data files (commit only adds them to the log), so work split into
    # several staged writes is done once; False when the engine writes at commit (delta-spark).
    writes_at_stage: bool

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def create(self, path: str, label: str, schema: StructType, partition_by: Sequence[str]) -> CommitResult: ...

    @abstractmethod
    def schema(self, path: str) -> StructType: ...

    @abstractmethod
    def partition_columns(self, path: str) -> list[str]: ...

    @abstractmethod
    def version(self, path: str) -> int: ...

    @abstractmethod
    def read(self, path: str, label: str, version: int | None, timestamp: datetime | str | None,
             partitions: dict[str, Any] | None) -> DataFrame: ...

    @abstractmethod
    def stage(self, path: str, label: str, df: DataFrame, mode: str, schema: StructType,
              partition_by: Sequence[str], create: bool) -> StagedWrite: ...

    @abstractmethod
    def combine(self, parts: list[StagedWrite]) -> StagedWrite:
        """One staged write that commits every part (writes of one table, same mode, staged against the same
        version) in one transaction; the parts are spent."""

    @abstractmethod
    def history(self, path: str, limit: int | None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def vacuum(self, path: str, retention_hours: float) -> list[str]: ...

    @abstractmethod
    def set_rules(self, path: str, label: str, properties: dict[str, str], constraints: dict[str, str]) -> None:
        """Set Delta table properties and add CHECK constraints (a commit each; existing rows must pass)."""

    @abstractmethod
    def commit_group(self, path: str, version: int) -> str | None:
        """The commit group whose write made ``version`` of the table (None: not one of a group's)."""

    @abstractmethod
    def restore(self, path: str, version: int) -> int:
        """Make ``version``'s content the table's newest version (a new commit; history keeps the rest)."""


GROUP_KEY = "inlife.group"        # the commit's metadata key (delta-rs) or tag word (delta-spark)
_GROUP_IN_TAG = re.compile(r"\b" + re.escape(GROUP_KEY) + r"=([0-9a-f]+)\b")


def group_of(commit_info: dict[str, Any]) -> str | None:
    """The commit group recorded in a log entry's ``commitInfo`` by either engine."""
    if commit_info.get(GROUP_KEY):
        return str(commit_info[GROUP_KEY])
    found = _GROUP_IN_TAG.search(str(commit_info.get("userMetadata") or ""))
    return found.group(1) if found else None


def sql_string(text: str) -> str:
    """``text`` as a Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# A hook for tests of atomicity: called between writing data files and committing them.
BEFORE_COMMIT_HOOKS: list[Callable[[str], None]] = []

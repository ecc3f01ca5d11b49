"""The source contract (conf/sources.yaml): columns, formats and code tables of every landing extract."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from inlife.config import Config
from inlife.errors import ConfigError
from inlife.yamlschema import Schema, check, read

Type = Literal["string", "int", "long", "double", "date", "timestamp"]


class Column(Schema):
    name: str
    type: Type
    format: str | None = None      # date/timestamp pattern (defaults.date_format / timestamp_format if omitted)
    code: str | None = None        # code table name
    min: int | float | None = None
    max: int | float | None = None


class Source(Schema):
    name: str                      # the key in ``sources``
    description: str = ""
    cadence: Literal["daily", "monthly"]
    format: Literal["delimited", "csv"]
    delimiter: str
    encoding: str = "UTF-8"        # defaults.encoding if omitted
    natural_key: tuple[str, ...]
    subscriber_key: str | None = None
    event_time: str
    columns: tuple[Column, ...] = Field(min_length=1)
    optional: bool = False         # a missing batch folder means no records that day (not an error)
    may_be_empty: bool = False     # a batch without records (header-only csv, empty gzip) is a quiet day; else
                                   # it is a failed extract and stops ingestion naming the file

    @field_validator("natural_key")
    @classmethod
    def _some_key(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:  # the duplicate check keys on it: without one, a whole batch would be one key
            raise ValueError("empty; name the columns that identify a record")
        return value

    @model_validator(mode="after")
    def _keys_are_columns(self) -> Source:
        names = self.column_names
        for key in [*self.natural_key, self.event_time, *([self.subscriber_key] if self.subscriber_key else [])]:
            if key not in names:
                raise ValueError(f"{key!r} is not one of its columns")
        return self

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def header(self) -> str:
        return self.delimiter.join(self.column_names)


class _Defaults(Schema):
    encoding: str = "UTF-8"
    timestamp_format: str = "yyyy-MM-dd HH:mm:ss"
    date_format: str = "yyyy-MM-dd"


class _ContractFile(Schema):
    """conf/sources.yaml."""
    defaults: _Defaults = _Defaults()
    sources: dict[str, dict[str, Any]]
    order: list[str] | None = None
    codes: dict[str, list[str]] = {}
    competitor_service_numbers: list[str | int] = []
    bad_row_kinds: dict[str, str] = {}


@dataclass
class SourceContract:
    sources: dict[str, Source]
    order: list[str]
    codes: dict[str, list[str]]
    competitor_service_numbers: list[str]
    bad_row_kinds: dict[str, str]
    path: str = ""

    def __getitem__(self, name: str) -> Source:
        if name not in self.sources:
            raise ConfigError(f"{self.path}: no source named {name!r} (sources: {', '.join(self.order)})")
        return self.sources[name]


def load_sources(conf: Config) -> SourceContract:
    path = Path(conf.conf_dir) / conf.get("landing.sources_file")
    return load_sources_file(path)


def load_sources_file(path: str | Path) -> SourceContract:
    path = Path(path)
    raw = read(_ContractFile, path, "source contract")
    sources, problems = {}, []
    for name, spec in raw.sources.items():
        try:
            sources[name] = _source(name, spec, raw, path)
        except ConfigError as exc:      # every source's problems at once
            problems.append(str(exc).removeprefix(f"{path}: "))
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    order = raw.order or list(sources)
    missing = [n for n in sources if n not in order]
    unknown = [n for n in order if n not in sources]
    if missing or unknown:
        raise ConfigError(f"{path}: order must list every source once (missing {missing}, unknown {unknown})")
    return SourceContract(sources=sources, order=order, codes=dict(raw.codes),
                          competitor_service_numbers=[str(x) for x in raw.competitor_service_numbers],
                          bad_row_kinds=dict(raw.bad_row_kinds), path=str(path))


def _source(name: str, spec: dict[str, Any], raw: _ContractFile, path: Path) -> Source:
    """One source, with the file's defaults filled in and its code tables checked."""
    where = f"sources.{name}"
    src = check(Source, {"name": name, "encoding": raw.defaults.encoding, **spec}, path, where)
    columns = []
    for c in src.columns:
        if c.code and c.code not in raw.codes:
            raise ConfigError(f"{path}: {where}.columns.{c.name}: unknown code table {c.code!r}")
        default = {"timestamp": raw.defaults.timestamp_format, "date": raw.defaults.date_format}.get(c.type)
        columns.append(c.model_copy(update={"format": c.format or default}) if default else c)
    return src.model_copy(update={"columns": tuple(columns)})

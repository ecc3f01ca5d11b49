"""The source contract (conf/sources.yaml): columns, formats and code tables of every landing extract."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inlife.config import Config
from inlife.errors import ConfigError

TYPES = {"string", "int", "long", "double", "date", "timestamp"}
FORMATS = {"delimited", "csv"}
CADENCES = {"daily", "monthly"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    format: str | None = None      # date/timestamp pattern
    code: str | None = None        # code table name
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    cadence: str
    format: str
    delimiter: str
    encoding: str
    natural_key: tuple[str, ...]
    subscriber_key: str | None
    event_time: str
    columns: tuple[Column, ...]
    optional: bool = False      # a missing batch folder means no records that day (not an error)

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


@dataclass
class SourceContract:
    sources: dict[str, Source]
    order: list[str]
    codes: dict[str, list[str]]
    competitor_service_numbers: list[str]
    bad_row_kinds: dict[str, str]
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Source:
        if name not in self.sources:
            raise ConfigError(f"{self.path}: no source named {name!r} (sources: {', '.join(self.order)})")
        return self.sources[name]


def load_sources(conf: Config) -> SourceContract:
    path = Path(conf.conf_dir) / conf.get("landing.sources_file")
    return load_sources_file(path)


def load_sources_file(path: str | Path) -> SourceContract:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the source contract: {exc}") from None
    defaults = raw.get("defaults", {})
    codes = raw.get("codes", {})
    sources: dict[str, Source] = {}
    for name, s in (raw.get("sources") or {}).items():
        where = f"{path}: sources.{name}"
        try:
            cols = []
            for c in s["columns"]:
                col = Column(name=c["name"], type=c["type"], format=c.get("format"), code=c.get("code"),
                             min=c.get("min"), max=c.get("max"))
                if col.type not in TYPES:
                    raise ConfigError(f"{where}.columns.{col.name}: unknown type {col.type!r} ({sorted(TYPES)})")
                if col.code and col.code not in codes:
                    raise ConfigError(f"{where}.columns.{col.name}: unknown code table {col.code!r}")
                if col.type == "timestamp" and not col.format:
                    col = Column(**{**col.__dict__, "format": defaults.get("timestamp_format")})
                if col.type == "date" and not col.format:
                    col = Column(**{**col.__dict__, "format": defaults.get("date_format")})
                cols.append(col)
            src = Source(name=name, description=s.get("description", ""), cadence=s["cadence"],
                         format=s["format"], delimiter=s["delimiter"],
                         encoding=s.get("encoding", defaults.get("encoding", "UTF-8")),
                         natural_key=tuple(s["natural_key"]), subscriber_key=s.get("subscriber_key"),
                         event_time=s["event_time"], columns=tuple(cols), optional=bool(s.get("optional", False)))
        except KeyError as exc:
            raise ConfigError(f"{where}: missing key {exc}") from None
        if src.format not in FORMATS:
            raise ConfigError(f"{where}.format: {src.format!r} is not one of {sorted(FORMATS)}")
        if src.cadence not in CADENCES:
            raise ConfigError(f"{where}.cadence: {src.cadence!r} is not one of {sorted(CADENCES)}")
        if not src.natural_key:
            # the duplicate check keys on it: without one, a whole batch would be one key
            raise ConfigError(f"{where}.natural_key: empty; name the columns that identify a record")
        names = src.column_names
        for key in list(src.natural_key) + [src.event_time] + ([src.subscriber_key] if src.subscriber_key else []):
            if key not in names:
                raise ConfigError(f"{where}: {key!r} is not one of its columns")
        sources[name] = src
    order = raw.get("order") or list(sources)
    missing = [n for n in sources if n not in order]
    unknown = [n for n in order if n not in sources]
    if missing or unknown:
        raise ConfigError(f"{path}: order must list every source once (missing {missing}, unknown {unknown})")
    return SourceContract(sources=sources, order=order, codes={k: list(v) for k, v in codes.items()},
                          competitor_service_numbers=[str(x) for x in raw.get("competitor_service_numbers", [])],
                          bad_row_kinds=dict(raw.get("bad_row_kinds", {})), path=str(path))

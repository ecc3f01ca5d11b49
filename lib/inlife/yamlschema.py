"""Reading the YAML files of conf/ against a schema: one way to read a file and one form for its errors,
which name the file, the key and what was expected.

    class Segments(Schema):
        features: list[str]
        subgroups: int = Field(ge=1)

    spec = read(Segments, Path("conf/segments.yaml"))

A schema is a pydantic model: unknown keys are refused (a misspelt key is an error, not a default), every
problem of the file is listed at once.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from inlife.errors import ConfigError

T = TypeVar("T", bound=BaseModel)


class Schema(BaseModel):
    """The base of every file's schema: unknown keys are errors, values are not changed after reading."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        """A key left empty in YAML (``params:`` with its entries commented out) is null: it means the key's
        default, as if it were not written (a key whose default is null keeps its null)."""
        if not isinstance(data, dict):
            return data
        defaults = {f.alias or name: f.default for name, f in cls.model_fields.items() if not f.is_required()}
        return {k: v for k, v in data.items() if v is not None or defaults.get(k) is None}


def listed(value: Any) -> Any:
    """For a BeforeValidator: a single value where a list is expected stands for the list of that value."""
    return value if isinstance(value, list) else [value]


def in_order(start: Any, end: Any, start_key: str, end_key: str) -> None:
    """For a validator: ValueError unless ``end`` (under ``end_key``) is on or after ``start``; either may be
    unset."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"'{end_key}' {end} is before '{start_key}' {start}")


# Every YAML file inlife reads is written by hand (config, rules, matrices, campaigns): none needs more than
# this, and a bound keeps a pasted export from stalling the parser.
MAX_YAML_BYTES = 1 << 20


class Loader(yaml.SafeLoader):
    """A SafeLoader without anchors and aliases: a few lines of nested aliases expand to billions of nodes
    (the 'billion laughs'), and nothing inlife reads needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"an alias (*{event.anchor}) is not allowed here: "
                                              f"write the value out", event.start_mark)
        return super().compose_node(parent, index)


def read_mapping(path: Path, what: str = "file", loader: type = Loader) -> dict[str, Any]:
    """The YAML mapping in ``path``; ConfigError naming the file when it is missing, too large, not UTF-8,
    not YAML (aliases refused: ``Loader``), or not a mapping at the top. ``loader``: a ``Loader`` with tags of
    its own (config's ``!open``)."""
    try:
        raw = Path(path).read_bytes()
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: the {what} is {len(raw):,} bytes, more than the {MAX_YAML_BYTES:,} a "
                              f"hand-written file needs")
        data = yaml.load(raw.decode("utf-8"), Loader=loader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: the {what} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the {what} is not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 4]!r}); "
                          f"save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def read(schema: type[T], path: Path, what: str = "file") -> T:
    """``path`` read and checked against ``schema``."""
    return check(schema, read_mapping(path, what), path)


def check(schema: type[T], data: Any, path: Path | str, at: str = "") -> T:
    """``data`` (from ``path``, under the key ``at``) as ``schema``; ConfigError listing every problem."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems: dict[str, list[str]] = {}     # a value a union refuses has one problem per branch
        for e in exc.errors():
            problems.setdefault(_key(at, e["loc"]), []).append(_expected(e))
        listed = [": ".join(x for x in (key, " or ".join(dict.fromkeys(what))) if x) for key, what in problems.items()]
        raise ConfigError(f"{path}: " + "; ".join(listed)) from None


# pydantic names a union's branch in an error's location by its type (str, list[str], literal['a']): not a key
_BRANCH = re.compile(r"^[a-z_-]+\[.*\]$|^(str|int|float|bool|none|date)$")


def _key(at: str, loc: tuple) -> str:
    parts = [at] if at else []
    for x in loc:
        if isinstance(x, int):
            parts.append(f"[{x}]")
        elif not _BRANCH.search(str(x)):
            parts.append(str(x))
    return ".".join(parts).replace(".[", "[")


def _expected(error: dict) -> str:
    kind, given = error["type"], error.get("input")
    if kind == "missing":
        return "required, not given"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        return f"{given!r} is not one of {error['ctx']['expected']}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of keys, got {given!r}"
    return f"{error['msg'].lower()}, got {given!r}"

"""Shared parts of the rule-file loaders: reading a file against its schema, ``when`` and parameters,
collecting errors."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Field

from inlife.errors import ConfigError
from inlife.rules.syntax import RuleError
from inlife.yamlschema import check, listed, read

T = TypeVar("T", bound=BaseModel)

Value = str | int | float | bool
# when: dimension column -> a value or a list of values
When = dict[str, Annotated[list[Value], BeforeValidator(listed),
                           Field(min_length=1)]]


class Collector:
    """Raise at the first error (evaluation), or collect them all (lint)."""

    def __init__(self, collect: bool = False):
        self.collect = collect
        self.errors: list[RuleError] = []

    def add(self, err: RuleError) -> None:
        if not self.collect:
            raise err
        self.errors.append(err)


def read_rules(schema: type[T], path: Path, what: str = "rule file") -> T:
    """``path`` read against ``schema``; its problems as one RuleError naming the file (what lint collects)."""
    try:
        return read(schema, path, what)
    except ConfigError as exc:
        raise RuleError(str(exc).removeprefix(f"{path}: "), str(path)) from None


def read_entries(schema: type[T], items: list[Any], path: Path, section: str, collector: Collector) -> list[T]:
    """The entries of ``section``, each checked on its own: a bad one is one error naming it (by its id where
    it has one), so lint reports every bad entry and still checks the good ones."""
    good = []
    for i, item in enumerate(items):
        try:
            good.append(check(schema, item, path, at=f"{section}[{i}]"))
        except ConfigError as exc:
            rule = item.get("id") if isinstance(item, dict) else None
            collector.add(RuleError(str(exc).removeprefix(f"{path}: "), str(path), rule))
    return good


def merged_params(file_params: Mapping[str, Any], rule_params: Mapping[str, Any],
                  overrides: Mapping[str, Any]) -> dict:
    """The rule's parameters over the file's; overrides (rules.params) replace those either names."""
    return {k: overrides.get(k, v) for k, v in {**file_params, **rule_params}.items()}


def as_when(when: Mapping[str, list]) -> dict[str, list[str]]:
    """Dimension values as strings: the evaluation joins them to string columns."""
    return {str(k): [str(x) for x in v] for k, v in when.items()}

"""Shared helpers of the rule-file loaders: YAML reading, parameters, key checks, collecting errors."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from inlife.rules.syntax import RuleError


class Collector:
    """Raise at the first error (evaluation), or collect them all (lint)."""

    def __init__(self, collect: bool = False):
        self.collect = collect
        self.errors: list[RuleError] = []

    def add(self, err: RuleError) -> None:
        if not self.collect:
            raise err
        self.errors.append(err)


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuleError("rule file not found", str(path)) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"not valid YAML: {exc}", str(path)) from None
    if not isinstance(data, dict):
        raise RuleError("the top level must be a mapping", str(path))
    return data


def merged_params(file_params: Any, rule_params: Any, overrides: Mapping[str, Any], where: str,
                  rule: str | None) -> dict:
    for p, label in ((file_params, "params"), (rule_params, "params")):
        if p is not None and not isinstance(p, dict):
            raise RuleError(f"{label} must be a mapping", where, rule)
    out = dict(file_params or {})
    out.update(rule_params or {})
    for k in out:
        if k in overrides:
            out[k] = overrides[k]
    return out


def check_keys(item: Mapping, allowed: set[str], where: str, rule: str | None) -> None:
    extra = set(item) - allowed
    if extra:
        raise RuleError(f"unknown keys {sorted(extra)} (allowed: {', '.join(sorted(allowed))})", where, rule)


def as_when(value: Any, where: str, rule: str) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RuleError("when must map dimension columns to a value or a list of values", where, rule)
    out = {}
    for k, v in value.items():
        vals = v if isinstance(v, list) else [v]
        if not vals or any(isinstance(x, (dict, list)) or x is None for x in vals):
            raise RuleError(f"when.{k} must be a value or a non-empty list of values", where, rule)
        out[str(k)] = [str(x) for x in vals]
    return out

"""Marketing matrices (conf/matrices/*.yaml) and their equality dimensions.

conf/matrices/_dimensions.yaml declares the dimensions a ``when`` may use (closed value lists, so the
evaluation can join on them)::

    dimensions:
      value_tier: {values: [high, mid_high, mid, low], label: 价值}
      churn_grade: {values: [abnormal, normal], label: 异动}

Every other file is one matrix::

    matrix: retention                 # its name (unique)
    family: retention                 # priority | retention | new_business | traffic | vpn
    name: 客户保有矩阵 (retention matrix)
    params: {min_return_rate: 86}     # thresholds, $name in conditions (rules.params overrides)
    default: {order: [retention, traffic, new_business, vpn]}   # priority only: when no rule matches
    cells:                            # a grid: outputs per cell of the dimensions, no condition
      - {when: {value_tier: high, churn_grade: abnormal}, order: [retention, new_business, traffic, vpn]}
    rules:                            # cells with extra conditions over factors
      - id: retention.prepay100_get260
        name: ...
        precedence: 10                # lower first; required for rules, cells default to 1000
        when: {value_tier: [mid, low]}
        condition: "tenure_months < 12 and 86 < return_rate <= 100 and arpu < 30"
        policy: P_PREPAY100_GET260    # retention: a main policy and/or a policy_group
        policy_group: G6
        script: 推荐语 (overrides the policy's own script)

Outputs per family: priority -> ``order`` (a permutation of retention, traffic, new_business, vpn);
retention -> ``policy`` (family product or 0/1 bundle) and/or ``policy_group``; new_business, traffic,
vpn -> ``policy``. priority, retention and vpn give one winner per subscriber (the first matching rule by
precedence, then file position); new_business and traffic give every matching policy in that order.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from inlife.rules.catalogue import Catalogue
from inlife.rules.loading import Collector, Value, When, as_when, merged_params, read_entries, read_rules
from inlife.rules.model import OBJECTIVES, Dimension, Objective, Rule
from inlife.rules.syntax import RuleError
from inlife.yamlschema import Schema

POLICY_KINDS = {"retention": {"family_product", "bundle_01"}, "new_business": {"new_business", "family_product"},
                "traffic": {"traffic"}, "vpn": {"vpn", "family_product"}}
CELL_PRECEDENCE = 1000


class _Dimension(Schema):
    values: list[Value] = Field(min_length=1)
    label: str | None = None                # the column when not given


class _DimensionsFile(Schema):
    """conf/matrices/_dimensions.yaml."""
    dimensions: dict[str, _Dimension] = {}


def load_dimensions(path: str | Path) -> dict[str, Dimension]:
    raw = read_rules(_DimensionsFile, Path(path))
    return {col: Dimension(col, [str(v) for v in d.values], d.label or col) for col, d in raw.dimensions.items()}


class _Outputs(Schema):
    """What a rule gives; which of these a matrix's family allows is checked by ``_outputs``."""
    policy: str | None = None
    policy_group: str | None = None
    order: list[Objective] | None = None   # priority: objectives
    script: str | None = None


class _Rule(_Outputs):
    id: str = Field(min_length=1)
    name: str | None = None                 # the id when not given
    precedence: StrictInt                   # lower first
    when: When = {}
    condition: str | None = None
    params: dict[str, Any] = {}
    description: str | None = None


class _Cell(_Rule):
    id: str | None = None                   # <matrix>.cell.<when values> when not given
    precedence: StrictInt = CELL_PRECEDENCE

    @field_validator("condition")
    @classmethod
    def _none(cls, condition: str | None) -> None:
        if condition:
            raise ValueError("cells have no condition; write a rule instead")


class _MatrixFile(Schema):
    """conf/matrices/<name>.yaml."""
    matrix: str = Field(min_length=1)
    family: Literal["priority", Objective]
    name: str | None = None                 # the matrix when not given
    params: dict[str, Any] = {}
    default: _Outputs | None = None         # priority only: when no rule matches
    cells: list[Any] = []                   # each checked as a _Cell or _Rule on its own (read_entries)
    rules: list[Any] = []
    description: str | None = None

    @model_validator(mode="after")
    def _default_for_priority(self) -> _MatrixFile:
        if self.default is not None and self.family != "priority":
            raise ValueError("only the priority matrix has a default")
        return self


def _outputs(family: str, item: _Outputs, catalogue: Catalogue, where: str, rid: str) -> dict:
    """The outputs a rule of ``family`` gives: checked against the family and the policy catalogue."""
    out: dict[str, Any] = {} if item.script is None else {"script": item.script}
    if family == "priority":
        if not item.order or len(set(item.order)) < len(item.order):
            raise RuleError(f"order must be a list of distinct objectives from {', '.join(OBJECTIVES)}, "
                            f"got {item.order!r}", where, rid)
        if item.policy or item.policy_group:
            raise RuleError("a priority rule gives an order, not policies", where, rid)
        return {**out, "order": list(item.order)}
    if item.order is not None:
        raise RuleError(f"order belongs in the priority matrix, not in a {family} matrix", where, rid)
    policy, group = item.policy, item.policy_group
    if group is not None and family != "retention":
        raise RuleError("policy groups are recommended by the retention matrix only", where, rid)
    if policy is None and group is None:
        raise RuleError("a rule must recommend a policy" + (" or a policy_group" if family == "retention" else ""),
                        where, rid)
    if policy is not None:
        if policy not in catalogue.policies:
            raise RuleError(f"unknown policy {policy!r} (not in {catalogue.source})", where, rid)
        kind = catalogue.policies[policy].kind
        if kind not in POLICY_KINDS[family]:
            raise RuleError(f"policy {policy} is a {kind}; a {family} matrix recommends "
                            f"{' or '.join(sorted(POLICY_KINDS[family]))}", where, rid)
        out["policy"] = policy
    if group is not None:
        if group not in catalogue.groups:
            raise RuleError(f"unknown policy group {group!r} (not in {catalogue.source})", where, rid)
        out["policy_group"] = group
    return out


def load_matrix(path: str | Path, catalogue: Catalogue, dimensions: Mapping[str, Dimension],
                overrides: Mapping[str, Any] | None = None, collector: Collector | None = None,
                ) -> tuple[dict, list[Rule]]:
    path = Path(path)
    where = str(path)
    collector = collector or Collector()
    raw = read_rules(_MatrixFile, path)
    matrix, family = raw.matrix, raw.family
    meta: dict[str, Any] = {"family": family, "name": raw.name or matrix}
    if family == "priority":
        meta["default"] = _outputs("priority", raw.default or _Outputs(), catalogue, where, f"{matrix}.default")
    rules: list[Rule] = []
    seen: set[str] = set()
    items = [*read_entries(_Cell, raw.cells, path, "cells", collector),
             *read_entries(_Rule, raw.rules, path, "rules", collector)]
    for position, item in enumerate(items, start=1):
        when = as_when(item.when)
        rid = item.id or f"{matrix}.cell." + (".".join("+".join(v) for _, v in sorted(when.items())) or "any")
        try:
            if rid in seen:
                raise RuleError("rule id used twice", where, rid)
            seen.add(rid)
            for col, values in when.items():
                dim = dimensions.get(col)
                if dim is None:
                    raise RuleError(f"when: {col!r} is not a declared dimension "
                                    f"({', '.join(sorted(dimensions))})", where, rid)
                bad = [v for v in values if v not in dim.values]
                if bad:
                    raise RuleError(f"when.{col}: {bad} not among the dimension's values {dim.values}", where, rid)
            rules.append(Rule(rule_id=rid, matrix=matrix, family=family, precedence=item.precedence,
                              position=position, when=when, condition=item.condition or None,
                              params=merged_params(raw.params, item.params, overrides or {}),
                              outputs=_outputs(family, item, catalogue, where, rid),
                              name=item.name or rid, source=where))
        except RuleError as e:
            collector.add(e)
    return {matrix: meta}, rules

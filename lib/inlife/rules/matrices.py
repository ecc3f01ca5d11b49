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
from typing import Any

from inlife.rules.catalogue import Catalogue
from inlife.rules.syntax import RuleError
from inlife.rules.loading import Collector, as_when, check_keys, merged_params, read_yaml
from inlife.rules.model import FAMILIES, Dimension, Rule

OBJECTIVES = ("retention", "traffic", "new_business", "vpn")
POLICY_KINDS = {"retention": {"family_product", "bundle_01"}, "new_business": {"new_business", "family_product"},
                "traffic": {"traffic"}, "vpn": {"vpn", "family_product"}}
RULE_KEYS = {"id", "name", "precedence", "when", "condition", "params", "policy", "policy_group", "order",
             "script", "description"}
CELL_PRECEDENCE = 1000


def load_dimensions(path: str | Path) -> dict[str, Dimension]:
    path = Path(path)
    raw = read_yaml(path)
    check_keys(raw, {"dimensions"}, str(path), None)
    out = {}
    for col, spec in (raw.get("dimensions") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), list) or not spec["values"]:
            raise RuleError(f"dimension {col} needs a non-empty values list", str(path))
        out[str(col)] = Dimension(str(col), [str(v) for v in spec["values"]], str(spec.get("label") or col))
    return out


def _outputs(family: str, item: Mapping, catalogue: Catalogue, where: str, rid: str) -> dict:
    out: dict[str, Any] = {}
    if item.get("script") is not None:
        out["script"] = str(item["script"])
    if family == "priority":
        order = item.get("order")
        if not isinstance(order, list) or not order or len(set(order)) != len(order) \
                or any(o not in OBJECTIVES for o in order):
            raise RuleError(f"order must be a list of distinct objectives from {', '.join(OBJECTIVES)}, got {order!r}",
                            where, rid)
        if item.get("policy") or item.get("policy_group"):
            raise RuleError("a priority rule gives an order, not policies", where, rid)
        out["order"] = [str(o) for o in order]
        return out
    if item.get("order") is not None:
        raise RuleError(f"order belongs in the priority matrix, not in a {family} matrix", where, rid)
    policy, group = item.get("policy"), item.get("policy_group")
    if group is not None and family != "retention":
        raise RuleError("policy groups are recommended by the retention matrix only", where, rid)
    if policy is None and group is None:
        raise RuleError("a rule must recommend a policy" + (" or a policy_group" if family == "retention" else ""),
                        where, rid)
    if policy is not None:
        policy = str(policy)
        if policy not in catalogue.policies:
            raise RuleError(f"unknown policy {policy!r} (not in {catalogue.source})", where, rid)
        kind = catalogue.policies[policy].kind
        if kind not in POLICY_KINDS[family]:
            raise RuleError(f"policy {policy} is a {kind}; a {family} matrix recommends "
                            f"{' or '.join(sorted(POLICY_KINDS[family]))}", where, rid)
        out["policy"] = policy
    if group is not None:
        group = str(group)
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
    raw = read_yaml(path)
    check_keys(raw, {"matrix", "family", "name", "params", "default", "cells", "rules", "description"}, where, None)
    matrix = str(raw.get("matrix") or "")
    family = raw.get("family")
    if not matrix:
        raise RuleError("a matrix file needs 'matrix: <name>'", where)
    if family not in FAMILIES or family == "tag":
        raise RuleError(f"family must be one of {', '.join(f for f in FAMILIES if f != 'tag')}, got {family!r}", where)
    meta: dict[str, Any] = {"family": family, "name": str(raw.get("name") or matrix)}
    if family == "priority":
        meta["default"] = _outputs("priority", raw.get("default") or {}, catalogue, where, f"{matrix}.default")
    elif raw.get("default") is not None:
        raise RuleError("only the priority matrix has a default", where)
    rules: list[Rule] = []
    seen: set[str] = set()
    entries = [("cells", i) for i in raw.get("cells") or []] + [("rules", i) for i in raw.get("rules") or []]
    for position, (section, item) in enumerate(entries, start=1):
        rid = ""
        try:
            if not isinstance(item, dict):
                raise RuleError(f"{section} entries must be mappings, got {item!r}", where)
            when = as_when(item.get("when"), where, str(item.get("id") or f"{section}#{position}"))
            rid = str(item.get("id") or "")
            if not rid:
                if section == "rules":
                    raise RuleError(f"rule #{position} has no id", where)
                rid = f"{matrix}.cell." + (".".join("+".join(v) for _, v in sorted(when.items())) or "any")
            if rid in seen:
                raise RuleError("rule id used twice", where, rid)
            seen.add(rid)
            check_keys(item, RULE_KEYS, where, rid)
            if section == "cells" and item.get("condition"):
                raise RuleError("cells have no condition; write a rule instead", where, rid)
            for col, values in when.items():
                dim = dimensions.get(col)
                if dim is None:
                    raise RuleError(f"when: {col!r} is not a declared dimension "
                                    f"({', '.join(sorted(dimensions))})", where, rid)
                bad = [v for v in values if v not in dim.values]
                if bad:
                    raise RuleError(f"when.{col}: {bad} not among the dimension's values {dim.values}", where, rid)
            prec = item.get("precedence", CELL_PRECEDENCE if section == "cells" else None)
            if not isinstance(prec, int) or isinstance(prec, bool):
                raise RuleError(f"precedence must be a whole number, got {prec!r}", where, rid)
            rules.append(Rule(rule_id=rid, matrix=matrix, family=family, precedence=prec, position=position,
                              when=when, condition=(str(item["condition"]) if item.get("condition") else None),
                              params=merged_params(raw.get("params"), item.get("params"), overrides or {}, where, rid),
                              outputs=_outputs(family, item, catalogue, where, rid),
                              name=str(item.get("name") or rid), source=where))
        except RuleError as e:
            collector.add(e)
    return {matrix: meta}, rules

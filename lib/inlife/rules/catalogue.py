"""The policy catalogue (conf/policies.yaml): policies and policy groups the matrices recommend.

    policies:
      - id: P_PREPAY100_GET260
        name: 预缴100元得260元话费 (prepay 100 yuan, get 260 yuan credit)
        kind: bundle_01          # family_product | bundle_01 | new_business | traffic | vpn
        discount: 0.62           # share of the face value given away (optional)
        valid_from: 2020-01-01   # optional, inclusive; a month is covered when the policy is valid on its 1st
        valid_to: 2099-12-31     # optional, inclusive
        script: ...              # the default recommendation script (推荐语)
    groups:
      - id: G6
        name: 政策群6 ...
        policies: [P_A, P_B, P_C]   # several prepaid bundles of similar discount
        default: P_B                # the recommended one; the clerk may pick another
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from inlife.rules.syntax import RuleError

KINDS = ("family_product", "bundle_01", "new_business", "traffic", "vpn")


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    kind: str
    discount: float | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    script: str = ""

    def valid_in(self, month: str) -> bool:
        first = dt.date.fromisoformat(f"{month}-01")
        return (self.valid_from is None or self.valid_from <= first) and (self.valid_to is None or first <= self.valid_to)


@dataclass(frozen=True)
class PolicyGroup:
    id: str
    name: str
    policies: tuple[str, ...]
    default: str


@dataclass
class Catalogue:
    policies: dict[str, Policy] = field(default_factory=dict)
    groups: dict[str, PolicyGroup] = field(default_factory=dict)
    source: str = "conf/policies.yaml"

    def group_valid_in(self, group_id: str, month: str) -> bool:
        g = self.groups[group_id]
        return self.policies[g.default].valid_in(month)


def _date(value, where: str, pid: str, key: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RuleError(f"{key} must be a date yyyy-mm-dd, got {value!r}", where, pid) from None


def load_catalogue(path: str | Path) -> Catalogue:
    path = Path(path)
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise RuleError("policy catalogue not found", where) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"not valid YAML: {exc}", where) from None
    unknown = set(raw) - {"policies", "groups"}
    if unknown:
        raise RuleError(f"unknown top-level keys {sorted(unknown)} (policies, groups)", where)
    cat = Catalogue(source=where)
    for item in raw.get("policies") or []:
        pid = str(item.get("id") or "")
        if not pid:
            raise RuleError(f"a policy without an id: {item!r}", where)
        extra = set(item) - {"id", "name", "kind", "discount", "valid_from", "valid_to", "script"}
        if extra:
            raise RuleError(f"unknown keys {sorted(extra)}", where, pid)
        if pid in cat.policies:
            raise RuleError("policy defined twice", where, pid)
        if item.get("kind") not in KINDS:
            raise RuleError(f"kind must be one of {', '.join(KINDS)}, got {item.get('kind')!r}", where, pid)
        vf, vt = _date(item.get("valid_from"), where, pid, "valid_from"), _date(item.get("valid_to"), where, pid, "valid_to")
        if vf and vt and vt < vf:
            raise RuleError(f"valid_to {vt} is before valid_from {vf}", where, pid)
        cat.policies[pid] = Policy(pid, str(item.get("name") or pid), item["kind"],
                                   None if item.get("discount") is None else float(item["discount"]), vf, vt,
                                   str(item.get("script") or ""))
    for item in raw.get("groups") or []:
        gid = str(item.get("id") or "")
        if not gid:
            raise RuleError(f"a policy group without an id: {item!r}", where)
        members = [str(p) for p in item.get("policies") or []]
        missing = [p for p in members if p not in cat.policies]
        if missing or not members:
            raise RuleError(f"group must list known policies; unknown: {missing}" if missing else
                            "group lists no policies", where, gid)
        default = str(item.get("default") or "")
        if default not in members:
            raise RuleError(f"default {default!r} is not one of the group's policies {members}", where, gid)
        if gid in cat.groups or gid in cat.policies:
            raise RuleError("id used twice", where, gid)
        cat.groups[gid] = PolicyGroup(gid, str(item.get("name") or gid), tuple(members), default)
    return cat

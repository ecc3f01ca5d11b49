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
from typing import Literal

from pydantic import Field, StrictFloat, model_validator

from inlife.rules.loading import read_rules
from inlife.yamlschema import Schema, in_order


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


class _Policy(Schema):
    id: str = Field(min_length=1)
    name: str | None = None                 # the id when not given
    kind: Literal["family_product", "bundle_01", "new_business", "traffic", "vpn"]
    discount: StrictFloat | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    script: str | None = None

    @model_validator(mode="after")
    def _from_before_to(self) -> _Policy:
        in_order(self.valid_from, self.valid_to, "valid_from", "valid_to")
        return self


class _Group(Schema):
    id: str = Field(min_length=1)
    name: str | None = None                 # the id when not given
    policies: tuple[str, ...] = Field(min_length=1)
    default: str

    @model_validator(mode="after")
    def _default_is_a_member(self) -> _Group:
        if self.default not in self.policies:
            raise ValueError(f"default {self.default!r} is not one of the group's policies {list(self.policies)}")
        return self


class _CatalogueFile(Schema):
    """conf/policies.yaml."""
    policies: list[_Policy] = []
    groups: list[_Group] = []

    @model_validator(mode="after")
    def _ids_once_and_members_known(self) -> _CatalogueFile:
        ids = [p.id for p in self.policies] + [g.id for g in self.groups]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"id(s) used twice: {twice}")
        known = set(ids[:len(self.policies)])
        for g in self.groups:
            missing = [p for p in g.policies if p not in known]
            if missing:
                raise ValueError(f"group {g.id}: unknown policies {missing}")
        return self


def load_catalogue(path: str | Path) -> Catalogue:
    path = Path(path)
    raw = read_rules(_CatalogueFile, path, "policy catalogue")
    return Catalogue(
        {p.id: Policy(p.id, p.name or p.id, p.kind, p.discount, p.valid_from, p.valid_to, p.script or "")
         for p in raw.policies},
        {g.id: PolicyGroup(g.id, g.name or g.id, g.policies, g.default) for g in raw.groups}, str(path))

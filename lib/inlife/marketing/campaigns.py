"""conf/campaigns.yaml, loaded and checked: the campaigns and the contact policy across them.

Every mistake is reported with the file and the key at fault (``campaigns[2].holdout``; the campaign id for
references between keys), before Spark runs anything.
Conditions and rank expressions are in the rule language (lib/inlife/rules/expressions.py) and are checked
against the subscriber state's columns by ``check_expressions`` once those columns are known.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictFloat, StrictInt, ValidationInfo, field_validator, model_validator

from inlife.errors import ConfigError
from inlife.rules.model import Objective
from inlife.yamlschema import Schema, in_order, read


class CampaignError(ConfigError):
    """conf/campaigns.yaml (or a file it names) is malformed."""


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    objective: str
    matrix: str
    policies: tuple[str, ...]
    tags_any: tuple[str, ...]
    condition: str | None
    rank: str
    channels: tuple[str, ...]
    every: str
    start: date | None
    end: date | None
    capacity: Mapping[str, int | None]
    holdout: float
    script: str
    precedence: int

    def runs_in(self, batch_kind: str, first: date, last: date) -> bool:
        """Does a batch of ``batch_kind`` (monthly | daily) covering first..last include this campaign?
        ``once`` campaigns run in the monthly batch whose period holds their start date."""
        if self.every == "once":
            return batch_kind == "monthly" and self.start is not None and first <= self.start <= last
        if self.every != batch_kind:
            return False
        return (self.start is None or self.start <= last) and (self.end is None or self.end >= first)


@dataclass(frozen=True)
class ContactPolicy:
    window_days: int
    max_contacts: int
    max_per_channel: Mapping[str, int]
    quiet_hours: Mapping[str, tuple[str, str]]
    sensitive_tags: tuple[str, ...]
    sensitive_channels: tuple[str, ...]
    do_not_disturb_file: str | None


@dataclass(frozen=True)
class CampaignConfig:
    path: str
    channels: tuple[str, ...]
    policy: ContactPolicy
    campaigns: tuple[Campaign, ...] = field(default_factory=tuple)

    def get(self, campaign_id: str) -> Campaign:
        for c in self.campaigns:
            if c.id == campaign_id:
                return c
        raise CampaignError(f"{self.path}: no campaign {campaign_id!r} (known: {', '.join(c.id for c in self.campaigns)})")

    def runs(self, batch_kind: str, first: date, last: date) -> list[Campaign]:
        return [c for c in self.campaigns if c.runs_in(batch_kind, first, last)]


Channels = tuple[str, ...]
Count = Annotated[StrictInt, Field(ge=0)]
Time = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]      # HH:MM


class _ContactPolicy(Schema):
    window_days: StrictInt = Field(ge=1)
    max_contacts: StrictInt = Field(ge=0)
    max_per_channel: dict[str, Count] = {}
    quiet_hours: dict[str, tuple[Time, Time]] = {}      # channel: [from, to], no contact in between
    sensitive_tags: tuple[str, ...] = ()
    sensitive_channels: Channels = ()
    do_not_disturb_file: str | None = None


class _Takes(Schema):
    matrix: Objective
    policies: tuple[str, ...] = ()                      # none: any the matrix recommends
    tags_any: tuple[str, ...] = ()
    condition: str | None = None


class _Cycle(Schema):
    every: Literal["monthly", "daily", "once"]
    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")

    @model_validator(mode="after")
    def _dates(self) -> _Cycle:
        if self.every == "once" and self.start is None:
            raise ValueError("a campaign run once needs 'from' (its date)")
        in_order(self.start, self.end, "from", "to")
        return self


class _Campaign(Schema):
    id: str = Field(min_length=1)
    name: str | None = None                             # the id when not given
    objective: Objective
    takes: _Takes
    rank: str | int | float                             # a rule-language expression (or a constant)
    channels: Channels = Field(min_length=1)
    cycle: _Cycle
    capacity: dict[str, Count | None] = {}              # null: no limit
    holdout: StrictFloat = Field(0.0, ge=0, lt=1)
    script: str | None = None

    @field_validator("capacity")
    @classmethod
    def _of_its_channels(cls, capacity: dict, info: ValidationInfo) -> dict:
        if "channels" not in info.data:     # the channels' own error says what is wrong
            return capacity
        for ch in capacity:
            if ch not in info.data["channels"]:
                raise ValueError(f"{ch!r} is not one of the campaign's channels")
        return capacity


class _CampaignFile(Schema):
    """conf/campaigns.yaml."""
    contact_policy: _ContactPolicy
    channels: Channels
    campaigns: tuple[_Campaign, ...]                    # in precedence order

    @model_validator(mode="after")
    def _known_channels_and_ids(self) -> _CampaignFile:
        cp, seen = self.contact_policy, set()
        named = [("contact_policy", [*cp.max_per_channel, *cp.quiet_hours, *cp.sensitive_channels])]
        for where, channels in named + [(f"campaign {c.id}", c.channels) for c in self.campaigns]:
            for ch in channels:
                if ch not in self.channels:
                    raise ValueError(f"{where}: unknown channel {ch!r} (channels: {', '.join(self.channels)})")
        for c in self.campaigns:
            if c.id in seen:
                raise ValueError(f"campaign {c.id}: the id is used twice")
            seen.add(c.id)
        return self


def load_campaigns(path: str | Path, policy_ids: set[str] | None = None) -> CampaignConfig:
    """Read and check the campaigns file. ``policy_ids``: the policy catalogue, to check `takes.policies`."""
    path = Path(path)
    try:
        doc = read(_CampaignFile, path, "campaigns file")
    except ConfigError as exc:      # callers catch CampaignError for anything wrong with the campaigns
        raise CampaignError(str(exc)) from None
    for c in doc.campaigns:
        unknown = [p for p in c.takes.policies if policy_ids is not None and p not in policy_ids]
        if unknown:
            raise CampaignError(f"{path}: campaign {c.id}.takes.policies: unknown polic"
                                f"{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} (not in the policy catalogue)")
    cp = doc.contact_policy
    policy = ContactPolicy(cp.window_days, cp.max_contacts, cp.max_per_channel, cp.quiet_hours, cp.sensitive_tags,
                           cp.sensitive_channels, cp.do_not_disturb_file)
    return CampaignConfig(str(path), doc.channels, policy, tuple(_campaign(c, i) for i, c in enumerate(doc.campaigns, 1)))


def _campaign(c: _Campaign, precedence: int) -> Campaign:
    return Campaign(
        id=c.id, name=c.name or c.id, objective=c.objective, matrix=c.takes.matrix, policies=c.takes.policies,
        tags_any=c.takes.tags_any, condition=c.takes.condition, rank=str(c.rank), channels=c.channels,
        every=c.cycle.every, start=c.cycle.start, end=c.cycle.end,
        capacity={ch: c.capacity.get(ch) for ch in c.channels}, holdout=c.holdout,
        script=c.script or "{policy_name}", precedence=precedence)


def check_expressions(cfg: CampaignConfig, kinds: Mapping[str, str], tag_ids: set[str]) -> dict[str, Any]:
    """Parse and check each campaign's condition (true/false) and rank (a number) against the state's
    columns; returns {campaign id: (condition node or None, rank node)}. Unknown tags are errors too."""
    from inlife.rules.syntax import NULL, NUM, Parser, RuleError
    from inlife.rules.expressions import Checker, parse

    out = {}
    for c in cfg.campaigns:
        where = f"{cfg.path}: campaign {c.id}"
        for t in c.tags_any + cfg.policy.sensitive_tags:
            if t not in tag_ids:
                raise CampaignError(f"{where}: unknown tag {t!r} (tags.yaml has no such id)")
        cond = None
        if c.condition:
            try:
                cond = parse(c.condition, kinds, tags=tag_ids)
            except RuleError as exc:
                raise CampaignError(f"{where}.takes.condition: {exc}") from None
        try:
            rank = Parser(c.rank, {}).parse()
            ty = Checker(kinds, tag_ids)._type(rank)
        except RuleError as exc:
            raise CampaignError(f"{where}.rank: {exc}") from None
        if ty not in (NUM, NULL):
            raise CampaignError(f"{where}.rank: must be a number, {c.rank!r} is a {ty}")
        out[c.id] = (cond, rank)
    return out

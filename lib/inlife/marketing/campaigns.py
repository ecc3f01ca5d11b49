"""conf/campaigns.yaml, loaded and checked: the campaigns and the contact policy across them.

Every mistake is reported with the file, the campaign id and the key at fault, before Spark runs anything.
Conditions and rank expressions are in the rule language (lib/inlife/rules/expressions.py) and are checked
against the subscriber state's columns by ``check_expressions`` once those columns are known.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from inlife.errors import InlifeError

OBJECTIVES = ("retention", "traffic", "new_business", "vpn")
MATRICES = ("retention", "new_business", "traffic", "vpn")
CYCLES = ("monthly", "daily", "once")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class CampaignError(InlifeError):
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


def _date(value, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CampaignError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _require(d: Mapping, key: str, where: str, kind=None):
    if key not in d or d[key] is None:
        raise CampaignError(f"{where}: '{key}' is required")
    value = d[key]
    if kind is not None and not isinstance(value, kind):
        raise CampaignError(f"{where}: '{key}' must be a {kind.__name__ if isinstance(kind, type) else kind}, got {value!r}")
    return value


def _unknown_keys(d: Mapping, allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise CampaignError(f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")


def load_campaigns(path: str | Path, policy_ids: set[str] | None = None) -> CampaignConfig:
    """Read and check the campaigns file. ``policy_ids``: the policy catalogue, to check `takes.policies`."""
    path = Path(path)
    if not path.exists():
        raise CampaignError(f"campaigns file {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CampaignError(f"{path}: not valid YAML: {exc}") from None
    where = str(path)
    _unknown_keys(doc, {"contact_policy", "channels", "campaigns"}, where)
    channels = tuple(_require(doc, "channels", where, list))
    policy = _contact_policy(_require(doc, "contact_policy", where, dict), channels, f"{where}: contact_policy")
    campaigns, seen = [], set()
    for i, c in enumerate(_require(doc, "campaigns", where, list)):
        if not isinstance(c, dict) or not c.get("id"):
            raise CampaignError(f"{where}: campaign #{i + 1} needs an 'id'")
        if c["id"] in seen:
            raise CampaignError(f"{where}: campaign {c['id']}: the id is used twice")
        seen.add(c["id"])
        campaigns.append(_campaign(c, i + 1, channels, policy_ids, f"{where}: campaign {c['id']}"))
    return CampaignConfig(where, channels, policy, tuple(campaigns))


def _contact_policy(cp: Mapping, channels: tuple[str, ...], w: str) -> ContactPolicy:
    _unknown_keys(cp, {"window_days", "max_contacts", "max_per_channel", "quiet_hours", "sensitive_tags",
                       "sensitive_channels", "do_not_disturb_file"}, w)
    per_channel = dict(cp.get("max_per_channel") or {})
    quiet = {}
    for ch, span in (cp.get("quiet_hours") or {}).items():
        if not (isinstance(span, list) and len(span) == 2 and all(isinstance(t, str) and _TIME.match(t) for t in span)):
            raise CampaignError(f"{w}.quiet_hours.{ch}: must be [\"HH:MM\", \"HH:MM\"] (from, to), got {span!r}")
        quiet[ch] = (span[0], span[1])
    for name in list(per_channel) + list(quiet) + list(cp.get("sensitive_channels") or []):
        if name not in channels:
            raise CampaignError(f"{w}: unknown channel {name!r} (channels: {', '.join(channels)})")
    for ch, n in per_channel.items():
        if not isinstance(n, int) or n < 0:
            raise CampaignError(f"{w}.max_per_channel.{ch}: must be a whole number >= 0, got {n!r}")
    for key in ("window_days", "max_contacts"):
        v = _require(cp, key, w, int)
        if v < (1 if key == "window_days" else 0):
            raise CampaignError(f"{w}.{key}: {v} is out of range")
    return ContactPolicy(int(cp["window_days"]), int(cp["max_contacts"]), per_channel, quiet,
                         tuple(cp.get("sensitive_tags") or ()), tuple(cp.get("sensitive_channels") or ()),
                         cp.get("do_not_disturb_file"))


def _campaign(c: Mapping, precedence: int, channels: tuple[str, ...], policy_ids: set[str] | None,
              cw: str) -> Campaign:
    _unknown_keys(c, {"id", "name", "objective", "takes", "rank", "channels", "cycle", "capacity", "holdout",
                      "script"}, cw)
    objective = _require(c, "objective", cw, str)
    if objective not in OBJECTIVES:
        raise CampaignError(f"{cw}: objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    takes = _require(c, "takes", cw, dict)
    matrix, policies = _takes(takes, policy_ids, f"{cw}.takes")
    chans = tuple(_require(c, "channels", cw, list))
    if not chans:
        raise CampaignError(f"{cw}: 'channels' is empty")
    for ch in chans:
        if ch not in channels:
            raise CampaignError(f"{cw}: unknown channel {ch!r} (channels: {', '.join(channels)})")
    every, start, end = _cycle(_require(c, "cycle", cw, dict), f"{cw}.cycle")
    capacity = dict(c.get("capacity") or {})
    for ch, n in capacity.items():
        if ch not in chans:
            raise CampaignError(f"{cw}.capacity: {ch!r} is not one of the campaign's channels")
        if n is not None and (not isinstance(n, int) or n < 0):
            raise CampaignError(f"{cw}.capacity.{ch}: must be a whole number >= 0 or null, got {n!r}")
    holdout = c.get("holdout", 0.0)
    if not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise CampaignError(f"{cw}.holdout: must be a share in [0, 1), got {holdout!r}")
    return Campaign(
        id=str(c["id"]), name=str(c.get("name") or c["id"]), objective=objective, matrix=matrix,
        policies=policies, tags_any=tuple(takes.get("tags_any") or ()), condition=takes.get("condition"),
        rank=str(_require(c, "rank", cw)), channels=chans, every=every, start=start, end=end,
        capacity={ch: capacity.get(ch) for ch in chans}, holdout=float(holdout),
        script=str(c.get("script") or "{policy_name}"), precedence=precedence)


def _takes(takes: Mapping, policy_ids: set[str] | None, tw: str) -> tuple[str, tuple[str, ...]]:
    """The matrix a campaign takes its offer from, and the policies it keeps (all when empty)."""
    _unknown_keys(takes, {"matrix", "policies", "tags_any", "condition"}, tw)
    matrix = _require(takes, "matrix", tw, str)
    if matrix not in MATRICES:
        raise CampaignError(f"{tw}.matrix: {matrix!r} is not one of {', '.join(MATRICES)}")
    policies = tuple(takes.get("policies") or ())
    if policy_ids is not None:
        unknown = [p for p in policies if p not in policy_ids]
        if unknown:
            raise CampaignError(f"{tw}.policies: unknown polic{'y' if len(unknown) == 1 else 'ies'} "
                                f"{', '.join(unknown)} (not in the policy catalogue)")
    return matrix, policies


def _cycle(cycle: Mapping, yw: str) -> tuple[str, date | None, date | None]:
    _unknown_keys(cycle, {"every", "from", "to"}, yw)
    every = _require(cycle, "every", yw, str)
    if every not in CYCLES:
        raise CampaignError(f"{yw}.every: {every!r} is not one of {', '.join(CYCLES)}")
    start, end = _date(cycle.get("from"), f"{yw}.from"), _date(cycle.get("to"), f"{yw}.to")
    if every == "once" and start is None:
        raise CampaignError(f"{yw}: a campaign run once needs 'from' (its date)")
    if start and end and end < start:
        raise CampaignError(f"{yw}: 'to' {end} is before 'from' {start}")
    return every, start, end


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

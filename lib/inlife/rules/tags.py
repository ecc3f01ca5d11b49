"""Customer tags (conf/tags.yaml) and retention screening rules.

    params:                       # thresholds, referenced as $name; rules.params in config overrides them
      no_recharge_days: 30
    tags:
      - id: vip_diamond
        name: 钻石卡客户 (VIP diamond)
        condition: "vip_level = 'DIAMOND'"
        validity_months: 1        # optional: how long the tag holds after the month it was set (default 1)
        advice: {script: ..., timing: ..., channel: ...}   # marketing advice (营销建议)
        precedence: 10            # optional: order of the tag in a subscriber's list
    screening:                    # retention screening rules: tags too, also evaluated daily (--day)
      - id: screen_no_recharge_after_activation
        ...

Each tag becomes one rule of matrix ``tags`` (family ``tag``); screening rules carry ``screening: true``.
Tag conditions may not use has_tag() (tags are evaluated together in one pass).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, StrictInt

from inlife.rules.loading import Collector, When, as_when, merged_params, read_entries, read_rules
from inlife.rules.model import Rule
from inlife.rules.syntax import RuleError
from inlife.yamlschema import Schema


class _Advice(Schema):
    """Marketing advice (营销建议) shown with the tag."""
    script: str | None = None
    timing: str | None = None
    channel: str | None = None


class _Tag(Schema):
    id: str = Field(min_length=1)
    name: str | None = None                 # the id when not given
    condition: str = Field(min_length=1)
    when: When = {}
    validity_months: StrictInt = Field(1, ge=1)
    advice: _Advice = _Advice()
    precedence: StrictInt = 100
    params: dict[str, Any] = {}
    description: str | None = None


class _TagsFile(Schema):
    """conf/tags.yaml."""
    params: dict[str, Any] = {}
    tags: list[Any] = []                    # each checked as a _Tag on its own (read_entries)
    screening: list[Any] = []


def load_tags(path: str | Path, overrides: Mapping[str, Any] | None = None,
              collector: Collector | None = None) -> list[Rule]:
    path = Path(path)
    where = str(path)
    collector = collector or Collector()
    try:
        raw = read_rules(_TagsFile, path)
    except RuleError as e:
        collector.add(e)
        return []
    rules: list[Rule] = []
    seen: set[str] = set()
    entries = [(section, t) for section in ("tags", "screening")
               for t in read_entries(_Tag, getattr(raw, section), path, section, collector)]
    for position, (section, t) in enumerate(entries, start=1):
        if t.id in seen:
            collector.add(RuleError("tag id used twice", where, t.id))
            continue
        seen.add(t.id)
        rules.append(Rule(
            rule_id=t.id, matrix="tags", family="tag", precedence=t.precedence, position=position,
            when=as_when(t.when), condition=t.condition, params=merged_params(raw.params, t.params, overrides or {}),
            outputs={"tag_id": t.id, "tag_name": t.name or t.id, "validity_months": t.validity_months,
                     "screening": section == "screening",
                     "advice": {k: v or "" for k, v in sorted(t.advice.model_dump().items())}},
            name=t.name or t.id, source=where))
    return rules

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

from inlife.rules.syntax import RuleError
from inlife.rules.loading import Collector, as_when, check_keys, merged_params, read_yaml
from inlife.rules.model import Rule

TAG_KEYS = {"id", "name", "condition", "when", "validity_months", "advice", "precedence", "params", "description"}
ADVICE_KEYS = {"script", "timing", "channel"}


def load_tags(path: str | Path, overrides: Mapping[str, Any] | None = None,
              collector: Collector | None = None) -> list[Rule]:
    path = Path(path)
    where = str(path)
    collector = collector or Collector()
    raw = read_yaml(path)
    try:
        check_keys(raw, {"params", "tags", "screening"}, where, None)
    except RuleError as e:
        collector.add(e)
    rules: list[Rule] = []
    seen: set[str] = set()
    position = 0
    for section in ("tags", "screening"):
        for item in raw.get(section) or []:
            position += 1
            rid = str(item.get("id") or "") if isinstance(item, dict) else ""
            try:
                if not rid:
                    raise RuleError(f"a {section} entry without an id: {item!r}", where)
                if rid in seen:
                    raise RuleError("tag id used twice", where, rid)
                seen.add(rid)
                check_keys(item, TAG_KEYS, where, rid)
                if not item.get("condition"):
                    raise RuleError("a tag needs a condition", where, rid)
                advice = item.get("advice") or {}
                if not isinstance(advice, dict):
                    raise RuleError("advice must be a mapping of script, timing, channel", where, rid)
                check_keys(advice, ADVICE_KEYS, where, rid)
                validity = item.get("validity_months", 1)
                if not isinstance(validity, int) or isinstance(validity, bool) or validity < 1:
                    raise RuleError(f"validity_months must be a whole number >= 1, got {validity!r}", where, rid)
                prec = item.get("precedence", 100)
                if not isinstance(prec, int) or isinstance(prec, bool):
                    raise RuleError(f"precedence must be a whole number, got {prec!r}", where, rid)
                rules.append(Rule(
                    rule_id=rid, matrix="tags", family="tag", precedence=prec, position=position,
                    when=as_when(item.get("when"), where, rid), condition=str(item["condition"]),
                    params=merged_params(raw.get("params"), item.get("params"), overrides or {}, where, rid),
                    outputs={"tag_id": rid, "tag_name": str(item.get("name") or rid),
                             "validity_months": validity, "screening": section == "screening",
                             "advice": {k: str(advice.get(k) or "") for k in sorted(ADVICE_KEYS)}},
                    name=str(item.get("name") or rid), source=where))
            except RuleError as e:
                collector.add(e)
    return rules

"""What tags and matrix rules become once loaded: ``Rule`` (one row of marketing.rules) and ``RuleSet``.

A rule is: an id, the matrix it belongs to (``tags`` for tags), its family (tag, priority, retention,
new_business, traffic, vpn), an explicit precedence (lower first; ties are broken by the rule's position in
its file, and lint reports ties between rules that can match the same subscriber), equality dimensions
``when`` (state column -> accepted values; absent = any value), a residual ``condition`` in the rule language
with its ``params``, and the ``outputs`` it produces (policy, policy group, priority order, script, tag advice).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

# The marketing objectives: each has a matrix family of its own, the priority matrix orders them, and a
# campaign serves one.
Objective = Literal["retention", "traffic", "new_business", "vpn"]
OBJECTIVES: tuple[str, ...] = get_args(Objective)
# families whose matrix gives every matching rule (ordered by precedence) rather than the first one
MULTI = {"tag", "new_business", "traffic"}
NULL_KEY, OTHER_KEY = "__null__", "__other__"


@dataclass
class Dimension:
    """An equality dimension: a state column with a closed list of values (the broadcast join key)."""
    column: str
    values: list[str]
    label: str = ""

    def key_values(self) -> list[str]:
        return list(self.values) + [NULL_KEY, OTHER_KEY]


@dataclass
class Rule:
    rule_id: str
    matrix: str
    family: str
    precedence: int
    position: int
    when: dict[str, list[str]] = field(default_factory=dict)
    condition: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    source: str = ""

    def content(self) -> dict:
        """What decides the rule's behaviour (its hash): not its source path nor its position in the file (the
        position - tie-breaking among equal precedence - is part of the rule set's hash instead)."""
        return {"rule_id": self.rule_id, "matrix": self.matrix, "family": self.family,
                "precedence": self.precedence, "when": {k: sorted(v) for k, v in sorted(self.when.items())},
                "condition": self.condition, "params": dict(sorted(self.params.items())),
                "outputs": self.outputs, "name": self.name}

    def content_hash(self) -> str:
        blob = json.dumps(self.content(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def sort_key(self) -> tuple:
        return (self.precedence, self.position, self.rule_id)

    def to_row(self) -> dict:
        return {"rule_id": self.rule_id, "matrix": self.matrix, "family": self.family,
                "precedence": self.precedence, "position": self.position, "name": self.name,
                "source": self.source, "when_json": json.dumps(self.when, sort_keys=True, ensure_ascii=False),
                "condition": self.condition,
                "params_json": json.dumps(self.params, sort_keys=True, ensure_ascii=False, default=str),
                "outputs_json": json.dumps(self.outputs, sort_keys=True, ensure_ascii=False, default=str),
                "content_hash": self.content_hash()}

    @classmethod
    def from_row(cls, row: dict) -> Rule:
        return cls(rule_id=row["rule_id"], matrix=row["matrix"], family=row["family"],
                   precedence=int(row["precedence"]), position=int(row["position"]),
                   when=json.loads(row["when_json"]), condition=row["condition"],
                   params=json.loads(row["params_json"]), outputs=json.loads(row["outputs_json"]),
                   name=row["name"] or "", source=row["source"] or "")


@dataclass
class RuleSet:
    rules: list[Rule]
    dimensions: dict[str, Dimension]
    matrices: dict[str, dict] = field(default_factory=dict)   # matrix -> {family, name, default}
    sources: dict[str, str] = field(default_factory=dict)     # matrix -> file

    def by_matrix(self) -> dict[str, list[Rule]]:
        out: dict[str, list[Rule]] = {}
        for r in sorted(self.rules, key=lambda r: (r.matrix,) + r.sort_key()):
            out.setdefault(r.matrix, []).append(r)
        return out

    def tag_ids(self) -> set[str]:
        return {r.outputs["tag_id"] for r in self.rules if r.family == "tag"}

    def ruleset_hash(self) -> str:
        blob = json.dumps(sorted((r.rule_id, r.content_hash(), r.position) for r in self.rules)
                          + [sorted((k, asdict(d)) for k, d in self.dimensions.items())]
                          + [sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in self.matrices.items())],
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

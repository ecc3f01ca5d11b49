"""Load every rule file, check every condition, and keep marketing.rules in step with them.

marketing.rules holds the current rule set, one row per rule: id, matrix, family, precedence, position,
dimensions, condition, parameters, outputs, content hash, the rule's own version (1 when it first appears,
+1 each time its content hash changes) and the rule set's hash. ``sync_rule_table`` writes a new table
version only when some rule's content changed (or a rule came or went); otherwise the table is untouched and
its current version is returned. Evaluation reads the rules back from the table version it reports.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.types import IntegerType, StringType, StructField, StructType, TimestampType

from inlife.config import Config
from inlife.rules.catalogue import Catalogue, load_catalogue
from inlife.rules.columns import static_kinds
from inlife.rules.syntax import Node, RuleError
from inlife.rules.expressions import parse
from inlife.rules.loading import Collector
from inlife.rules.matrices import load_dimensions, load_matrix
from inlife.rules.model import Rule, RuleSet
from inlife.rules.tags import load_tags
from inlife.tables.catalogue import RULES

RULES_SCHEMA = StructType([
    StructField("rule_id", StringType()), StructField("matrix", StringType()), StructField("family", StringType()),
    StructField("precedence", IntegerType()), StructField("position", IntegerType()), StructField("name", StringType()),
    StructField("source", StringType()), StructField("when_json", StringType()), StructField("condition", StringType()),
    StructField("params_json", StringType()), StructField("outputs_json", StringType()),
    StructField("content_hash", StringType()), StructField("rule_version", IntegerType()),
    StructField("ruleset_hash", StringType()), StructField("changed_at", TimestampType()),
    StructField("meta_json", StringType()),
])


@dataclass
class Paths:
    tags: Path
    matrices: Path
    policies: Path

    @classmethod
    def from_conf(cls, conf: Config) -> Paths:
        base = Path(conf.conf_dir)
        return cls(base / conf.get("rules.tags_file"), base / conf.get("rules.matrices_dir"),
                   base / conf.get("rules.policies_file"))


def load_ruleset(paths: Paths, overrides: Mapping[str, Any] | None = None,
                 collector: Collector | None = None) -> tuple[RuleSet, Catalogue]:
    """Read tags, dimensions, matrices and the catalogue (structure only; ``check`` parses conditions)."""
    collector = collector or Collector()
    overrides = dict(overrides or {})
    catalogue = load_catalogue(paths.policies)
    dims_file = paths.matrices / "_dimensions.yaml"
    dimensions = load_dimensions(dims_file)
    rules = load_tags(paths.tags, overrides, collector)
    matrices: dict[str, dict] = {}
    sources: dict[str, str] = {"tags": str(paths.tags)}
    for f in sorted(paths.matrices.glob("*.yaml")):
        if f.name.startswith("_"):
            continue
        try:
            meta, mrules = load_matrix(f, catalogue, dimensions, overrides, collector)
        except RuleError as e:
            collector.add(e)
            continue
        name = next(iter(meta))
        if name in matrices or name == "tags":
            collector.add(RuleError(f"matrix {name!r} is defined twice (also in {sources.get(name)})", str(f)))
            continue
        matrices.update(meta)
        sources[name] = str(f)
        rules.extend(mrules)
    ids: dict[str, str] = {}
    for r in rules:
        if r.rule_id in ids:
            collector.add(RuleError(f"rule id also used in {ids[r.rule_id]}", r.source, r.rule_id))
        ids[r.rule_id] = r.source
    return RuleSet(rules, dimensions, matrices, sources), catalogue


def check(ruleset: RuleSet, kinds: Mapping[str, str],
          collector: Collector | None = None) -> dict[str, Node | None]:
    """Parse and type-check every condition against the state columns; rule id -> checked tree (None: no
    condition). Tag conditions may not use has_tag; matrix conditions may name any tag id."""
    collector = collector or Collector()
    kinds = dict(kinds)
    tag_ids = ruleset.tag_ids()
    out: dict[str, Node | None] = {}
    for r in ruleset.rules:
        missing = [c for c in r.when if c not in kinds]
        if missing:
            collector.add(RuleError(f"dimension column(s) {missing} are not in the subscriber state", r.source, r.rule_id))
            continue
        if r.condition is None:
            out[r.rule_id] = None
            continue
        try:
            out[r.rule_id] = parse(r.condition, kinds, r.params, None if r.family == "tag" else tag_ids,
                                   r.source, r.rule_id)
        except RuleError as e:
            collector.add(e)
    return out


def load_checked(conf: Config, kinds: Mapping[str, str] | None = None) -> tuple[RuleSet, Catalogue, dict]:
    ruleset, catalogue = load_ruleset(Paths.from_conf(conf), conf.get("rules.params"))
    return ruleset, catalogue, check(ruleset, kinds or static_kinds(conf))


# -- the Delta rule table ------------------------------------------------------------------------------------
def rule_rows(ruleset: RuleSet, previous: Mapping[str, tuple[str, int]] | None = None) -> list[dict]:
    """Rows for marketing.rules; ``previous`` maps rule id -> (content hash, rule version) of the table."""
    previous = previous or {}
    rs_hash = ruleset.ruleset_hash()
    now = dt.datetime.now()
    rows = []
    for r in sorted(ruleset.rules, key=lambda r: (r.matrix,) + r.sort_key()):
        row = r.to_row()
        old = previous.get(r.rule_id)
        row["rule_version"] = 1 if old is None else (old[1] if old[0] == row["content_hash"] else old[1] + 1)
        row["ruleset_hash"] = rs_hash
        row["changed_at"] = now
        row["meta_json"] = json.dumps({"matrix": ruleset.matrices.get(r.matrix, {}),
                                       "dimensions": {c: ruleset.dimensions[c].values
                                                      for c in r.when if c in ruleset.dimensions}},
                                      sort_keys=True, ensure_ascii=False)
        rows.append(row)
    return rows


def sync_rule_table(spark: SparkSession, tables, ruleset: RuleSet) -> tuple[int, bool]:
    """Write marketing.rules when the rule set's content differs from the table's; (table version, written)."""
    previous: dict[str, tuple[str, int]] = {}
    if tables.exists(RULES):
        current = tables.read(RULES).select("rule_id", "content_hash", "rule_version", "ruleset_hash").collect()
        previous = {r["rule_id"]: (r["content_hash"], r["rule_version"]) for r in current}
        if current and {r["ruleset_hash"] for r in current} == {ruleset.ruleset_hash()} \
                and set(previous) == {r.rule_id for r in ruleset.rules}:
            return tables.version(RULES), False
    rows = rule_rows(ruleset, previous)
    df = spark.createDataFrame(rows, RULES_SCHEMA)
    result = tables.overwrite(RULES, df)
    return result.version, True


def read_rule_table(tables, version: int | None = None) -> RuleSet:
    """The rule set as stored in marketing.rules (latest or ``version``)."""
    rows = [r.asDict() for r in tables.read(RULES, version=version).collect()]
    rules = [Rule.from_row(r) for r in rows]
    matrices, dims = {}, {}
    from inlife.rules.model import Dimension
    for r in rows:
        meta = json.loads(r["meta_json"] or "{}")
        if meta.get("matrix"):
            matrices[r["matrix"]] = meta["matrix"]
        for c, values in (meta.get("dimensions") or {}).items():
            dims[c] = Dimension(c, values)
    return RuleSet(rules, dims, matrices)

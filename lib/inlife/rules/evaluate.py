"""Evaluating tags and matrices over the subscriber state: one pass, broadcast joins, residual predicates.

For each matrix (``tags`` included):

1. its rules are ordered by (precedence, position in file, id) and numbered 0..n-1; that number is the
   rule's rank, so "first matching rule" is "smallest surviving number";
2. the matrix's equality dimensions (the union of the columns its rules' ``when`` name) span a grid of
   cells - every combination of the declared values plus ``__null__`` and ``__other__``; the **key table**
   holds, per cell, the numbers of the rules whose ``when`` accepts that cell (a rule that leaves a
   dimension open is in every cell along it). It has at most ``rules.max_cells`` rows and is tiny;
3. each subscriber's cell key is computed from its own columns and the key table is joined with a
   **broadcast** hash join: exactly one row per subscriber (left join), so the join never multiplies rows
   and needs no shuffle;
4. the candidates array is filtered with the remaining (residual) predicates: one lambda in which the
   candidate's number selects its rule's predicate through a balanced tree of ``IF(i < mid, ...)``, so each
   candidate costs log2(n) integer comparisons plus its own predicate, whatever the number of rules.
   Single-winner matrices (priority, retention, VPN) fold over the candidates instead and stop testing
   predicates once the first match of each output is found.

All matrices are chained projections and broadcast joins over the same rows - the subscribers are read
once. ``tags`` is evaluated first; matrices read it through ``has_tag``. Outputs (recommendation columns,
tag rows) are lookups into literal arrays indexed by the surviving numbers.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

from inlife.rules.catalogue import Catalogue
from inlife.rules.columns import TAGS_COLUMN
from inlife.rules.expressions import Node, RuleError, to_column
from inlife.rules.model import MULTI, NULL_KEY, OTHER_KEY, Dimension, Rule, RuleSet

KEY_SEP = "\u0001"


@dataclass
class MatrixPlan:
    matrix: str
    family: str
    rules: list[Rule]                 # in rank order
    nodes: list[Node | None]          # checked residual predicates, same order
    dims: list[str]
    cells: list[tuple[str, list[int]]] = field(default_factory=list)   # key -> candidate ranks
    meta: dict = field(default_factory=dict)

    @property
    def key_col(self) -> str:
        return f"_k_{self.matrix}"

    @property
    def cand_col(self) -> str:
        return f"_c_{self.matrix}"

    @property
    def match_col(self) -> str:
        return f"_m_{self.matrix}"

    def ids(self) -> list[str]:
        return [r.rule_id for r in self.rules]


def _offered(rule: Rule, catalogue: Catalogue | None, month: str | None) -> bool:
    """A rule whose policy (or group default) is not valid in the month is left out of that month."""
    if catalogue is None or month is None:
        return True
    p, g = rule.outputs.get("policy"), rule.outputs.get("policy_group")
    if p and p in catalogue.policies and not catalogue.policies[p].valid_in(month):
        return False
    if g and g in catalogue.groups and not catalogue.group_valid_in(g, month):
        return False
    return True


def plan(ruleset: RuleSet, nodes: Mapping[str, Node | None], catalogue: Catalogue | None = None,
         month: str | None = None, matrices: list[str] | None = None, max_cells: int = 200_000,
         rule_filter=None) -> dict[str, MatrixPlan]:
    """One MatrixPlan per matrix (tags first), with its key table cells."""
    plans: dict[str, MatrixPlan] = {}
    by_matrix = ruleset.by_matrix()
    names = sorted(by_matrix, key=lambda m: (m != "tags", m))
    for m in names:
        if matrices is not None and m not in matrices:
            continue
        rules = [r for r in by_matrix[m] if _offered(r, catalogue, month) and (rule_filter is None or rule_filter(r))]
        family = "tag" if m == "tags" else ruleset.matrices.get(m, {}).get("family", by_matrix[m][0].family)
        dims = sorted({c for r in rules for c in r.when})
        p = MatrixPlan(m, family, rules, [nodes.get(r.rule_id) for r in rules], dims,
                       meta=ruleset.matrices.get(m, {}))
        p.cells = cells(p, ruleset.dimensions, max_cells)
        plans[m] = p
    return plans


def cells(p: MatrixPlan, dimensions: Mapping[str, Dimension], max_cells: int) -> list[tuple[str, list[int]]]:
    if not p.dims:
        return [("", list(range(len(p.rules))))] if p.rules else []
    domains = []
    for d in p.dims:
        if d not in dimensions:
            raise RuleError(f"matrix {p.matrix}: {d!r} is not a declared dimension")
        domains.append(dimensions[d].key_values())
    total = 1
    for dom in domains:
        total *= len(dom)
    if total > max_cells:
        raise RuleError(f"matrix {p.matrix}: its dimensions {p.dims} span {total:,} cells, more than "
                        f"rules.max_cells={max_cells:,}; move a dimension into conditions")
    # per dimension and value: the set of rule ranks that accept it
    accept = []
    all_ranks = set(range(len(p.rules)))
    for d, dom in zip(p.dims, domains):
        per_value = {}
        for v in dom:
            per_value[v] = {i for i, r in enumerate(p.rules) if d not in r.when or v in r.when[d]}
        accept.append(per_value)
    out = []
    for combo in itertools.product(*domains):
        ranks = set(all_ranks)
        for per_value, v in zip(accept, combo):
            ranks &= per_value[v]
            if not ranks:
                break
        if ranks:
            out.append((KEY_SEP.join(combo), sorted(ranks)))
    return out


def key_column(p: MatrixPlan, dimensions: Mapping[str, Dimension]) -> Column:
    if not p.dims:
        return F.lit("")
    parts = []
    for d in p.dims:
        c = F.col(d).cast("string")
        parts.append(F.when(c.isNull(), F.lit(NULL_KEY))
                     .when(c.isin(*dimensions[d].values), c).otherwise(F.lit(OTHER_KEY)))
    return F.concat_ws(KEY_SEP, *parts)


def key_table(spark: SparkSession, p: MatrixPlan) -> DataFrame:
    schema = StructType([StructField(p.key_col, StringType(), False),
                         StructField(p.cand_col, ArrayType(IntegerType(), False), False)])
    return spark.createDataFrame(p.cells, schema)


def residual(p: MatrixPlan, i: Column, tags_col: str = TAGS_COLUMN) -> Column | None:
    """The predicate of candidate ``i``: a balanced IF tree over the ranks (None: no rule has a condition)."""
    if all(n is None for n in p.nodes):
        return None
    preds = [F.lit(True) if n is None else to_column(n, tags_col) for n in p.nodes]

    def tree(lo: int, hi: int) -> Column:
        if hi - lo == 1:
            return preds[lo]
        mid = (lo + hi) // 2
        return F.when(i < mid, tree(lo, mid)).otherwise(tree(mid, hi))
    return tree(0, len(preds))


def first_slots(p: MatrixPlan) -> list[list[bool]]:
    """Single-winner matrices need only the first match per output slot (retention: the first rule with a
    policy and the first with a policy group); multi matrices (tags, new business, traffic) need all."""
    if p.family in MULTI:
        return []
    if p.family == "retention":
        return [[r.outputs.get("policy") is not None for r in p.rules],
                [r.outputs.get("policy_group") is not None for r in p.rules]]
    return [[True] * len(p.rules)]


def first_matches(p: MatrixPlan, cand: Column, slots: list[list[bool]]) -> Column:
    """The first matching rank of each slot, by one fold over the candidates that stops evaluating
    predicates for a slot once it is filled (coalesce and AND short-circuit)."""
    flags = [lit_array(s, "boolean") for s in slots]
    zero = F.struct(*[F.lit(None).cast("int").alias(f"s{k}") for k in range(len(slots))])

    def step(acc: Column, i: Column) -> Column:
        pred = F.coalesce(residual(p, i), F.lit(False))
        return F.struct(*[F.coalesce(acc[f"s{k}"], F.when(F.get(flags[k], i) & pred, i)).alias(f"s{k}")
                          for k in range(len(slots))])
    found = F.aggregate(cand, zero, step)
    firsts = F.array(*[found[f"s{k}"] for k in range(len(slots))])
    return F.array_sort(F.array_distinct(F.filter(firsts, lambda x: x.isNotNull())))


def apply_plan(spark: SparkSession, state: DataFrame, p: MatrixPlan, dimensions: Mapping[str, Dimension],
               keep_candidates: bool = False, all_matches: bool = False) -> DataFrame:
    """Adds ``_m_<matrix>``: the ranks of the matching rules, ascending (precedence order) - for
    single-winner matrices only the first per output slot unless ``all_matches`` (lint counts every match)."""
    empty = F.array().cast(ArrayType(IntegerType()))
    if not p.rules:
        return state.withColumn(p.match_col, empty)
    keyed = state.withColumn(p.key_col, key_column(p, dimensions))
    joined = keyed.join(F.broadcast(key_table(spark, p)), on=p.key_col, how="left").drop(p.key_col)
    cand = F.coalesce(F.col(p.cand_col), empty)
    has_residual = any(n is not None for n in p.nodes)
    slots = first_slots(p)
    if has_residual and slots and not all_matches:
        matched = first_matches(p, cand, slots)
    elif has_residual:
        matched = F.filter(cand, lambda i: F.coalesce(residual(p, i), F.lit(False)))
    else:
        matched = cand
    out = joined.withColumn(p.match_col, matched)
    return out if keep_candidates else out.drop(p.cand_col)


def lit_array(values: list, element: str = "string") -> Column:
    if not values:
        return F.array().cast(f"array<{element}>")
    return F.array(*[F.lit(v).cast(element) for v in values])


def evaluate_state(spark: SparkSession, state: DataFrame, ruleset: RuleSet, plans: Mapping[str, MatrixPlan],
                   keep_candidates: bool = False, all_matches: bool = False) -> DataFrame:
    """state + ``tags`` (tag ids held) + one ``_m_<matrix>`` array of matching rule ranks per matrix."""
    out = state
    tp = plans.get("tags")
    if tp is not None:
        out = apply_plan(spark, out, tp, ruleset.dimensions, keep_candidates)
        tag_ids = lit_array([r.outputs["tag_id"] for r in tp.rules])
        out = out.withColumn(TAGS_COLUMN, F.transform(F.col(tp.match_col), lambda i: F.get(tag_ids, i)))
    elif TAGS_COLUMN not in out.columns:
        out = out.withColumn(TAGS_COLUMN, F.array().cast("array<string>"))
    for m, p in plans.items():
        if m == "tags":
            continue
        out = apply_plan(spark, out, p, ruleset.dimensions, keep_candidates, all_matches)
    return out

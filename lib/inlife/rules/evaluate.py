"""Evaluating tags and matrices over the subscriber state: one pass, bit sets of rules, compiled expressions.

For each matrix (``tags`` included):

1. its rules are ordered by (precedence, position in file, id) and numbered 0..n-1; that number is the
   rule's rank, so "first matching rule" is "lowest rank left";
2. a set of rules is a bit set over the ranks, held per row in ``ceil(n / 63)`` longs ("words");
3. the matrix's equality dimensions (the union of the columns its rules' ``when`` name) span a grid of
   cells - every combination of the declared values plus null and other, numbered in mixed radix; the
   **key table** holds, per cell, the bit set of the rules whose ``when`` accepts it (a rule that leaves a
   dimension open is in every cell along it). It has at most ``rules.max_cells`` rows and is tiny. Each
   subscriber computes its cell number and joins the key table with a **broadcast** hash join: exactly one
   row per subscriber (left join), no shuffle. A matrix without dimensions has one cell, number 0;
4. the residual conditions are split into their AND conjuncts. Conjuncts on one column against literals
   (``40 < arpu <= 75``, ``vip_level in ('GOLD', 'DIAMOND')``, ``x is null``, and AND/OR/NOT of those) are
   **indexed** (index.py): the literals cut the column's values into regions and each region holds the
   bit set of the rules it admits. A subscriber finds its region in a small table (whole-number
   thresholds), by two short searches over the sorted thresholds (others) or by position (strings);
5. the subscriber's words are its cell's bit set AND the bit set of each indexed column's region. The
   conjuncts left (several columns, arithmetic, functions, ``has_tag``) are Spark expressions of their
   rule, evaluated only while the rule's bit is still set;
6. single-winner matrices (priority, retention, VPN) take the lowest bit of each output slot, multi
   matrices (tags, new business, traffic) every bit, ascending.

Per subscriber this is a fixed number of lookups and bit operations per word and indexed column - a few
dozen for a thousand rules - plus the residual predicates of the rules still in play: no pass per rule and
no loop over candidates. All of it is compiled: no expression has a lambda over the rules.

All matrices are chained projections and broadcast joins over the same rows - the subscribers are read
once. ``tags`` is evaluated first; matrices read it through ``has_tag``. Outputs (recommendation columns,
tag rows) are lookups into literal arrays indexed by the ranks.

Two things about the shape of the plan:

- Spark fuses a chain of narrow operators into one generated Java method per stage ("whole-stage
  codegen") and only gives up past 64 KB, but HotSpot does not JIT-compile methods over 8,000 bytes
  (HugeMethodLimit): fused together, the projections of all matrices make one method of 30-60 KB that runs
  in the bytecode interpreter, several times slower. The projections that do the work (words, matches)
  are therefore kept out of fusion (``unfused_empty``) and are compiled on their own, a method per
  expression; what stays fused per stage (cell number, regions, join) is small.
- The cell number and the regions are computed before the join and everything after reads the join's
  output: a filter on the matches that the optimizer pushes down stops at the join instead of inlining
  the expressions of the regions into itself.
"""
from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, LongType, StructField, StructType

from inlife.rules.catalogue import Catalogue
from inlife.rules.columns import TAGS_COLUMN
from inlife.rules.syntax import Node, RuleError
from inlife.rules.translate import to_column
from inlife.rules.index import ColumnIndex, build_index
from inlife.rules.model import MULTI, Dimension, Rule, RuleSet

WORD = 63                           # rule bits per long: the sign bit stays clear, so v & -v never overflows
WORD_MASK = (1 << WORD) - 1
# whole-number thresholds spanning at most this many values are looked up in a table instead of searched
MAX_TABLE_SPAN = 4096


@dataclass
class MatrixPlan:
    matrix: str
    family: str
    rules: list[Rule]                 # in rank order
    nodes: list[Node | None]          # checked residual predicates, same order
    dims: list[str]
    cells: list[tuple[int, list[int]]] = field(default_factory=list)   # cell number -> candidate ranks
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


def cells(p: MatrixPlan, dimensions: Mapping[str, Dimension], max_cells: int) -> list[tuple[int, list[int]]]:
    """The non-empty cells: (cell number, candidate ranks). Cells are numbered in the order of
    ``itertools.product`` over the dimensions' key values (declared values, null, other): mixed radix,
    the last dimension fastest - as ``key_column`` computes them."""
    if not p.dims:
        return [(0, list(range(len(p.rules))))] if p.rules else []
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
    for number, combo in enumerate(itertools.product(*domains)):
        ranks = set(all_ranks)
        for per_value, v in zip(accept, combo):
            ranks &= per_value[v]
            if not ranks:
                break
        if ranks:
            out.append((number, sorted(ranks)))
    return out


def key_column(p: MatrixPlan, dimensions: Mapping[str, Dimension]) -> Column:
    """The subscriber's cell number: per dimension the position of its value (as a string) among the
    declared values, then null, then other; combined in mixed radix."""
    key = F.lit(0).cast("long")
    for d in p.dims:
        values = dimensions[d].values
        c = F.col(d).cast("string")
        at = F.array_position(lit_array(values), c)                  # 1-based, 0: not declared
        index = F.when(c.isNull(), len(values)).when(at == 0, len(values) + 1).otherwise(at - 1)
        key = key * (len(values) + 2) + index
    return key


def words(n: int) -> int:
    """How many longs hold one bit per rule."""
    return max(1, -(-n // WORD))


def split_words(mask: int, n_words: int) -> list[int]:
    """A bit set over ranks (Python int, bit i = rank i) as longs: rank i is bit i % 63 of word i // 63."""
    return [(mask >> (WORD * w)) & WORD_MASK for w in range(n_words)]


def key_table(spark: SparkSession, p: MatrixPlan) -> DataFrame:
    """One row per non-empty cell: its number and the bit set of its candidate ranks, as longs."""
    schema = StructType([StructField(p.key_col, LongType(), False),
                         StructField(p.cand_col, ArrayType(LongType(), False), False)])
    n = words(len(p.rules))
    return spark.createDataFrame([(k, split_words(sum(1 << i for i in ranks), n)) for k, ranks in p.cells], schema)


def lit_array(values: list, element: str = "string") -> Column:
    """A literal array built from one JSON string literal (one call into the JVM whatever its length; the
    optimizer folds it to a constant)."""
    if not values:
        return F.array().cast(f"array<{element}>")
    return F.from_json(F.lit(json.dumps(list(values), ensure_ascii=False)), f"array<{element}>")


def lit_numbers(values: list) -> Column:
    """Thresholds as one literal array: bigint if all are whole numbers, else double (exact either way: see
    index.py for which literals are indexed)."""
    if all(isinstance(v, int) for v in values):
        return lit_array([int(v) for v in values], "bigint")
    return lit_array([float(v) for v in values], "double")


def empty_ints() -> Column:
    return F.array().cast(ArrayType(IntegerType()))


def unfused_empty(anchor: str) -> Column:
    """An empty array<int> made by a lambda (over whether column ``anchor`` is null, so that it is not
    folded away). A projection holding a lambda is not fused into whole-stage generated code (see the module
    notes): each projection that does real work adds this (or ``unfused_zero``) to one of its columns. The
    lambda runs once per row, on one element."""
    return F.filter(F.array(F.col(anchor).isNull().cast("int")), lambda x: F.lit(False))


def pushdown_barrier() -> Column:
    """0, but nondeterministic (the partition id times 0): the optimizer does not push a filter through a
    projection holding it. Without it, a filter on the outputs (``main_policy is not null``) is rewritten in
    terms of the words' expressions, inlined once per reference: with a thousand rules the plan's text
    alone then fills the driver's heap."""
    return (F.spark_partition_id() * 0).cast("long")


def unfused_zero(anchor: str) -> Column:
    """0, made by a lambda: see ``unfused_empty``."""
    return F.size(unfused_empty(anchor))


# -- regions of the indexed columns ---------------------------------------------------------------------
def table_span(c: ColumnIndex) -> bool:
    """Whole-number thresholds close enough together for a lookup table."""
    return c.kind != "string" and all(isinstance(v, int) for v in c.points) \
        and c.points[-1] - c.points[0] < MAX_TABLE_SPAN


def block(c: ColumnIndex) -> int:
    return math.isqrt(len(c.points) - 1) + 1                    # ceil(sqrt(k))


def coarse_count(c: ColumnIndex) -> Column:
    """For the searched columns: how many whole blocks of ``block(c)`` thresholds lie below x (those whose
    last threshold does)."""
    x, b = F.col(c.column), block(c)
    terms = [(x > c.points[j * b - 1]).cast("int") for j in range(1, len(c.points) // b + 1)]
    return functools.reduce(lambda a, t: a + t, terms) if terms else F.lit(0)


def region_column(c: ColumnIndex, coarse: Column | None) -> Column:
    """The region (see index.py) of the subscriber's value of an indexed column, 0 when it is null.

    - strings: the position in the literal list (k + 1 when absent);
    - whole-number thresholds lo..hi (``table_span``): below lo and above hi (NaN included) directly, in
      between a table indexed by floor(x) - lo holding the region of floor(x), plus one if floor(x) is a
      threshold and x has a fraction (x is then just above it);
    - otherwise ``coarse`` whole blocks below x (``coarse_count``), plus the thresholds below x in the next
      block, plus one if x equals the next threshold: about 2 sqrt(k) comparisons."""
    x = F.col(c.column)
    k = len(c.points)
    if c.kind == "string":
        at = F.array_position(lit_array(c.points), x)
        region = F.when(at == 0, F.lit(k + 1)).otherwise(at)
    elif table_span(c):
        lo, hi = c.points[0], c.points[-1]
        pos = {v: j for j, v in enumerate(c.points)}
        below, regions, exact = 0, [], []
        for v in range(lo, hi + 1):
            if v in pos:
                regions.append(2 * pos[v] + 2)
                exact.append(1)
                below = pos[v] + 1
            else:
                regions.append(2 * below + 1)
                exact.append(0)
        if c.kind == "double":
            f = F.floor(x)
            inside = F.get(lit_array(regions, "int"), f - lo) \
                + F.when(x != f, F.get(lit_array(exact, "int"), f - lo)).otherwise(0)
        else:
            inside = F.get(lit_array(regions, "int"), x - lo)            # F.get is 0-based
        region = F.when(x < lo, 1).when(x > hi, 2 * k + 1).otherwise(inside)
    else:
        b = block(c)
        padded = lit_numbers(c.points + [c.points[-1]] * b)    # every lookup below is in bounds
        first = coarse * b
        below = functools.reduce(lambda a, t: a + t, [(F.get(padded, first + i) < x).cast("int") for i in range(b)])
        below = F.least(below, F.lit(k) - first) + first        # the padding repeats the last threshold
        equal = F.coalesce(F.get(lit_numbers(c.points), below) == x, F.lit(False))
        region = below * 2 + 1 + equal.cast("int")
    return F.when(x.isNull(), 0).otherwise(region).cast("int")


# -- from words to ranks ---------------------------------------------------------------------------------
def first_rank(wcols: list[Column], mask: int) -> Column:
    """The lowest rank set in both the row's words and ``mask`` (null if none): the first word with a bit
    left, and in it the lowest bit (the count of bits at and below it)."""
    out = None
    for w, m in enumerate(split_words(mask, len(wcols))):
        if not m:
            continue
        v = wcols[w].bitwiseAND(m)
        rank = F.bit_count(v.bitwiseXOR(v - 1)) + (WORD * w - 1)     # v ^ (v - 1): the lowest set bit and below
        out = F.when(v != 0, rank) if out is None else out.when(v != 0, rank)
    return F.lit(None).cast("int") if out is None else out.cast("int")


def all_ranks(wcols: list[Column], possible: int, labels: list[str] | None = None) -> Column:
    """Every rank set in the row's words, ascending (only ranks in ``possible`` are looked at) - or, given
    ``labels`` (one per rank), their labels in that order. Each rank contributes a literal one-element
    array or the empty one, and they are concatenated."""
    element = "int" if labels is None else "string"
    empty = F.array().cast(f"array<{element}>")
    parts = []
    for w, c in enumerate(wcols):
        ranks = [i for i in range(WORD * w, WORD * (w + 1)) if possible >> i & 1]
        if not ranks:
            continue
        hits = [F.when(c.bitwiseAND(1 << (i - WORD * w)) != 0,
                       F.array(F.lit(i if labels is None else labels[i]).cast(element))).otherwise(empty)
                for i in ranks]
        parts.append(F.when(c == 0, empty).otherwise(F.concat(*hits)))
    if not parts:
        return empty
    return (parts[0] if len(parts) == 1 else F.concat(*parts)).cast(f"array<{element}>")


def first_slots(p: MatrixPlan) -> list[int]:
    """Single-winner matrices need only the first match per output slot (retention: the first rule with a
    policy and the first with a policy group); multi matrices (tags, new business, traffic) need all. A slot
    is the bit set of the ranks that can fill it."""
    if p.family in MULTI:
        return []
    if p.family == "retention":
        return [sum(1 << i for i, r in enumerate(p.rules) if r.outputs.get("policy") is not None),
                sum(1 << i for i, r in enumerate(p.rules) if r.outputs.get("policy_group") is not None)]
    return [(1 << len(p.rules)) - 1]


def first_matches(wcols: list[Column], slots: list[int]) -> Column:
    """The first rank of each slot, distinct and ascending."""
    firsts = [first_rank(wcols, s) for s in slots]

    def one(f: Column) -> Column:
        return F.when(f.isNull(), empty_ints()).otherwise(F.array(f))
    if len(firsts) == 1:
        return one(firsts[0])
    if len(firsts) == 2:
        a, b = firsts
        other = F.when(b.isNull() | (a == b), empty_ints()).otherwise(F.array(b))
        return F.sort_array(F.concat(one(a), other))
    return F.sort_array(F.array_distinct(F.concat(*[one(f) for f in firsts])))


# -- one matrix ------------------------------------------------------------------------------------------
def apply_plan(spark: SparkSession, state: DataFrame, p: MatrixPlan, dimensions: Mapping[str, Dimension],
               keep_candidates: bool = False, all_matches: bool = False,
               labels: Mapping[str, list[str]] | None = None) -> DataFrame:
    """Adds ``_m_<matrix>``: the ranks of the matching rules, ascending (precedence order) - for
    single-winner matrices only the first per output slot unless ``all_matches`` (lint counts every match).
    ``labels`` (column -> one distinct string per rank) adds columns holding the labels of every match;
    ``keep_candidates`` keeps ``_c_<matrix>``, the ranks the subscriber's cell admits (null: none)."""
    if not p.rules:
        return state.withColumn(p.match_col, empty_ints())
    m, n, nw = p.matrix, len(p.rules), words(len(p.rules))
    everything = (1 << n) - 1
    ix = build_index(p.nodes, state.schema, nw)
    regions = {c.column: f"_r_{m}_{k}" for k, c in enumerate(ix.columns)}
    searched = [c for c in ix.columns if c.kind != "string" and not table_span(c)]

    # before the join: the cell number and the regions (searched columns: the coarse counts first, the
    # regions in a projection of their own as their expressions are larger)
    out = state.select("*", key_column(p, dimensions).alias(p.key_col),
                       *[region_column(c, None).alias(regions[c.column]) for c in ix.columns if c not in searched],
                       *[coarse_count(c).alias(f"{regions[c.column]}_b") for c in searched])
    if searched:
        found = [region_column(c, F.col(f"{regions[c.column]}_b")) for c in searched]
        found[0] = found[0] + unfused_zero(searched[0].column)
        out = out.select("*", *[r.alias(regions[c.column]) for r, c in zip(found, searched)]) \
            .drop(*[f"{regions[c.column]}_b" for c in searched])

    # the cell's candidates: one key-table row per subscriber, broadcast
    out = out.join(F.broadcast(key_table(spark, p)), on=p.key_col, how="left").drop(p.key_col)
    key_words = [F.coalesce(F.get(F.col(p.cand_col), w), F.lit(0).cast("long")) for w in range(nw)]

    # the words: the cell's candidates AND, per indexed column, the rules its region admits; then a rule
    # with a residual predicate keeps its bit if it is still a candidate and the predicate holds (the
    # predicate is evaluated only then)
    full = split_words(everything, nw)
    admitted = []                    # per indexed column: its region's words and the words that can differ
    for c in ix.columns:
        table = [split_words(bits, nw) for bits in c.bits]
        differ = {w for w in range(nw) if any(ws[w] != full[w] for ws in table)}
        admitted.append((F.get(lit_array(table, "array<bigint>"), F.col(regions[c.column])), differ))
    found = []
    for w in range(nw):
        word = key_words[w]
        for region_words, differ in admitted:
            if w in differ:
                word = word.bitwiseAND(F.get(region_words, w))
        lo, hi = WORD * w, min(n, WORD * (w + 1))
        checked = [i for i in range(lo, hi) if ix.residual[i]]
        if checked:
            pre = word
            word = pre.bitwiseAND(sum(1 << (i - lo) for i in range(lo, hi) if not ix.residual[i]))
            for i in checked:
                bit = 1 << (i - lo)
                pred = functools.reduce(lambda a, b: a & b, [to_column(c, TAGS_COLUMN) for c in ix.residual[i]])
                word = word.bitwiseOR(F.when((pre.bitwiseAND(bit) != 0) & F.coalesce(pred, F.lit(False)), bit)
                                      .otherwise(0))
        found.append(word)
    found[0] = found[0] + unfused_zero(p.cand_col) + pushdown_barrier()
    out = out.select("*", *[word.alias(f"_w_{m}_{w}") for w, word in enumerate(found)])
    wcols = [F.col(f"_w_{m}_{w}") for w in range(nw)]

    # the matches
    slots = first_slots(p)
    matched = first_matches(wcols, slots) if slots and not all_matches else all_ranks(wcols, everything)
    added = [F.concat(matched.cast(ArrayType(IntegerType())), unfused_empty(p.cand_col)).alias(p.match_col)]
    added += [all_ranks(wcols, everything, values).alias(name) for name, values in (labels or {}).items()]
    if keep_candidates:
        added.append(F.when(F.col(p.cand_col).isNotNull(), all_ranks(key_words, everything)).alias(f"_cand_{m}"))
    out = out.select("*", *added).drop(p.cand_col, *regions.values(), *[f"_w_{m}_{w}" for w in range(nw)])
    return out.withColumnRenamed(f"_cand_{m}", p.cand_col) if keep_candidates else out


def evaluate_state(spark: SparkSession, state: DataFrame, ruleset: RuleSet, plans: Mapping[str, MatrixPlan],
                   keep_candidates: bool = False, all_matches: bool = False) -> DataFrame:
    """state + ``tags`` (tag ids held) + one ``_m_<matrix>`` array of matching rule ranks per matrix."""
    out = state
    tp = plans.get("tags")
    if tp is not None:
        tag_ids = [r.outputs["tag_id"] for r in tp.rules]
        if len(set(tag_ids)) == len(tag_ids):
            out = apply_plan(spark, out.drop(TAGS_COLUMN), tp, ruleset.dimensions, keep_candidates,
                             labels={TAGS_COLUMN: tag_ids})
        else:
            out = apply_plan(spark, out, tp, ruleset.dimensions, keep_candidates)
            ids = lit_array(tag_ids)
            out = out.withColumn(TAGS_COLUMN, F.transform(F.col(tp.match_col), lambda i: F.get(ids, i)))
    elif TAGS_COLUMN not in out.columns:
        out = out.withColumn(TAGS_COLUMN, F.array().cast("array<string>"))
    for m, p in plans.items():
        if m == "tags":
            continue
        out = apply_plan(spark, out, p, ruleset.dimensions, keep_candidates, all_matches)
    return out

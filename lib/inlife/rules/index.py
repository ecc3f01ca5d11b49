"""Value-region indexes of residual conditions: which rules a subscriber's own value of a column admits.

A rule's condition is split into its top-level AND conjuncts. A conjunct that tests one column against
literals only - comparisons (chained too), BETWEEN, IN, IS NULL, and AND/OR/NOT of those, e.g.
``40 < arpu <= 75`` or ``vip_level in ('GOLD', 'DIAMOND')`` - is *indexed*; everything else (arithmetic, two
columns, functions, ``has_tag``) stays a residual predicate, evaluated as a compiled Spark expression for the
rules still in play.

For an indexed column the literals of every rule's conjuncts cut the column's values into regions:

- numbers, thresholds t1 < ... < tk: 0 = null, 1 = below t1, 2 = exactly t1, 3 = between t1 and t2, ...,
  2k = exactly tk, 2k+1 = above tk (NaN too: Spark orders it above every number);
- strings, literals s1..sk: 0 = null, j = sj, k+1 = any other value.

Every conjunct has one truth value per region, so per region we keep the bit set of the rules whose
conjuncts on the column hold there (rules that do not test the column are in every region). A subscriber
finds its region with a few comparisons and ANDs the bit sets of its regions: what is left are the rules whose
indexed conditions all hold, whatever the number of rules. Bit sets are Python ints over the rule ranks
(bit i = rank i) here; evaluate.py cuts them into 63-bit Spark longs.

Only comparisons Spark evaluates exactly the way Python orders the literals are indexed: tinyint, smallint,
int and double columns against finite numbers (whole ones up to 2^53), bigint against whole numbers; string
columns (binary collation) by equality and IN. Float and decimal columns, dates and booleans stay residual.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from pyspark.sql.types import ByteType, DataType, DoubleType, IntegerType, LongType, ShortType, StringType, StructType

from inlife.rules.syntax import NUM, STR, Node

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "==": "=", "!=": "!=", "<>": "!="}
_EXACT = 2 ** 53
_LONG = 2 ** 63
# an index whose bit sets would hold more longs than this is not built (its conjuncts stay residual)
MAX_INDEX_LONGS = 1 << 20


def conjuncts(node: Node | None) -> list[Node]:
    """The top-level AND operands of a condition (none for no condition)."""
    if node is None:
        return []
    if node.kind == "and":
        return [c for a in node.args for c in conjuncts(a)]
    return [node]


def _kind_of(dt: DataType) -> str | None:
    if isinstance(dt, (ByteType, ShortType, IntegerType)):
        return "int"
    if isinstance(dt, LongType):
        return "long"
    if isinstance(dt, DoubleType):
        return "double"
    if isinstance(dt, StringType) and getattr(dt, "collation", "UTF8_BINARY") == "UTF8_BINARY":
        return "string"
    return None


def _literal_ok(kind: str, lit: Node) -> bool:
    if lit.kind != "lit" or lit.value is None or isinstance(lit.value, bool):
        return False
    v = lit.value
    if kind == "string":
        return lit.type == STR and isinstance(v, str)
    if lit.type != NUM or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float):
        return kind != "long" and math.isfinite(v)
    return -_LONG <= v < _LONG if kind == "long" else -_EXACT <= v <= _EXACT


def _atom(n: Node, kinds: dict[str, str]) -> tuple[str, str, list] | None:
    """(column, operator, literals) of a one-column leaf, or None. Operators: <, <=, >, >=, =, !=, in, not in,
    between, not between, is null, is not null; literals as written."""
    def col(x: Node) -> str | None:
        return x.value if x.kind == "col" and x.value in kinds else None

    if n.kind == "cmp":
        a, b = n.args
        op = "=" if n.value == "==" else "!=" if n.value == "<>" else n.value
        if col(a) and not col(b):
            c, lit = col(a), b
        elif col(b) and not col(a):
            c, lit, op = col(b), a, _FLIP[op]
        else:
            return None
        if not _literal_ok(kinds[c], lit) or (kinds[c] == "string" and op not in ("=", "!=")):
            return None
        return c, op, [lit.value]
    if n.kind == "between":
        c = col(n.args[0])
        if not c or kinds[c] == "string" or not all(_literal_ok(kinds[c], x) for x in n.args[1:]):
            return None
        return c, "not between" if n.negated else "between", [n.args[1].value, n.args[2].value]
    if n.kind == "in":
        c = col(n.args[0])
        if not c or not all(_literal_ok(kinds[c], x) for x in n.args[1:]):
            return None
        return c, "not in" if n.negated else "in", [x.value for x in n.args[1:]]
    if n.kind == "isnull":
        c = col(n.args[0])
        return (c, "is not null" if n.negated else "is null", []) if c else None
    return None


def _column_of(n: Node, kinds: dict[str, str]) -> str | None:
    """The one column a conjunct tests if it is made of one-column leaves only, else None."""
    if n.kind in ("and", "or", "not"):
        cols = {_column_of(a, kinds) for a in n.args}
        return cols.pop() if len(cols) == 1 and None not in cols else None
    a = _atom(n, kinds)
    return a[0] if a else None


@dataclass
class ColumnIndex:
    column: str
    kind: str                       # int, long, double, string
    points: list                    # thresholds ascending (numbers) or literals (strings), as written
    bits: list[int]                 # per region: the rules admitted (bit i = rank i)

    @property
    def regions(self) -> int:
        return len(self.bits)


@dataclass
class MatrixIndex:
    columns: list[ColumnIndex] = field(default_factory=list)
    residual: list[list[Node]] = field(default_factory=list)    # per rank: the conjuncts left to evaluate


class _Space:
    """The regions of one column and the truth of a leaf in each of them, as a bit mask over regions."""

    def __init__(self, kind: str, values: list):
        self.kind = kind
        if kind == "string":
            self.points = sorted(set(values))
            self.size = len(self.points) + 2
        else:
            by_value: dict = {}
            for v in values:
                by_value.setdefault(v, v)       # 12 and 12.0 are one threshold (the first spelling kept)
            self.points = sorted(by_value.values())
            self.size = 2 * len(self.points) + 2
        self.pos = {v: j for j, v in enumerate(self.points)}
        self.not_null = ((1 << self.size) - 1) & ~1

    def _range(self, lo: int, hi: int) -> int:        # regions lo..hi inclusive
        return ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1) if hi >= lo else 0

    def leaf(self, op: str, lits: list) -> tuple[int, bool | None]:
        """(mask over the non-null regions, truth when the column is null: None for unknown)."""
        if op == "is null":
            return 0, True
        if op == "is not null":
            return self.not_null, False
        if self.kind == "string":
            hit = 0
            for v in lits:
                hit |= 1 << (self.pos[v] + 1)
            if op in ("=", "in"):
                return hit, None
            return self.not_null & ~hit, None                # !=, not in
        top = 2 * len(self.points) + 1

        def eq(v) -> int:
            return 2 * self.pos[v] + 2

        if op in ("<", "<=", ">", ">="):
            e = eq(lits[0])
            lo, hi = {"<": (1, e - 1), "<=": (1, e), ">": (e + 1, top), ">=": (e, top)}[op]
            return self._range(lo, hi), None
        if op in ("=", "!="):
            hit = 1 << eq(lits[0])
            return (hit if op == "=" else self.not_null & ~hit), None
        if op in ("in", "not in"):
            hit = 0
            for v in lits:
                hit |= 1 << eq(v)
            return (hit if op == "in" else self.not_null & ~hit), None
        inside = self._range(eq(lits[0]), eq(lits[1]))    # between: lo <= x <= hi (empty when lo > hi)
        return (inside if op == "between" else self.not_null & ~inside), None


def _truth(n: Node, space: _Space, kinds: dict[str, str]) -> tuple[int, bool | None]:
    """A one-column conjunct in every region: SQL's three-valued AND/OR/NOT; a comparison with null is
    unknown (as in Spark), and a rule holds only where its condition is true."""
    if n.kind in ("and", "or"):
        (ma, na), (mb, nb) = (_truth(a, space, kinds) for a in n.args)
        if n.kind == "and":
            null = False if False in (na, nb) else (None if None in (na, nb) else True)
            return ma & mb, null
        null = True if True in (na, nb) else (None if None in (na, nb) else False)
        return ma | mb, null
    if n.kind == "not":
        m, null = _truth(n.args[0], space, kinds)
        return space.not_null & ~m, (None if null is None else not null)
    _, op, lits = _atom(n, kinds)
    return space.leaf(op, lits)


def build_index(nodes: list[Node | None], schema: StructType, words: int) -> MatrixIndex:
    """Index the one-column conjuncts of a matrix's rules (in rank order) over the state's columns."""
    kinds = {f.name: k for f in schema.fields if (k := _kind_of(f.dataType)) is not None}
    per_rule = [conjuncts(n) for n in nodes]
    found: dict[str, list[tuple[int, Node]]] = {}
    residual: list[list[Node]] = [[] for _ in nodes]
    for i, cs in enumerate(per_rule):
        for c in cs:
            col = _column_of(c, kinds)
            if col is None:
                residual[i].append(c)
            else:
                found.setdefault(col, []).append((i, c))
    out = MatrixIndex(residual=residual)
    total = 0
    for col in sorted(found):
        tests = found[col]
        values = [v for _, c in tests for leaf in c.walk() if (a := _atom(leaf, kinds)) for v in a[2]]
        space = _Space(kinds[col], values)
        if total + space.size * words > MAX_INDEX_LONGS:
            for i, c in tests:
                residual[i].append(c)
            continue
        total += space.size * words
        accept: dict[int, int] = {}
        for i, c in tests:
            m, null = _truth(c, space, kinds)
            accept[i] = accept.get(i, (1 << space.size) - 1) & (m | (1 if null is True else 0))
        out.columns.append(ColumnIndex(col, kinds[col], space.points, _transpose(accept, space.size, len(nodes))))
    return out


def _transpose(accept: dict[int, int], regions: int, n: int) -> list[int]:
    """Rule -> region mask into region -> rule mask. A mask is a few runs of regions: walk the places where
    a rule enters or leaves (bit r of mask ^ mask << 1) and keep a running XOR."""
    free = ((1 << n) - 1) & ~sum(1 << i for i in accept)    # rules that do not test the column
    delta = [0] * (regions + 1)
    for i, m in accept.items():
        edges = m ^ (m << 1)
        while edges:
            low = edges & -edges
            delta[low.bit_length() - 1] ^= 1 << i
            edges ^= low
    out, cur = [], 0
    for r in range(regions):
        cur ^= delta[r]
        out.append(cur | free)
    return out

"""The rule condition language: a small SQL-like grammar, parsed and type-checked before Spark sees it.

    86 < return_rate <= 100 and arpu < $max_arpu and vip_level in ('GOLD', 'DIAMOND')
    tenure_months between 3 and 12 and not has_tag('negative_value') and bundle_end_date is null

Grammar (case-insensitive keywords)::

    expr     := expr OR expr | expr AND expr | NOT expr | predicate
    predicate:= sum (cmp sum)+            -- chained: a < b <= c means a < b AND b <= c
              | sum [NOT] IN (lit, ...) | sum [NOT] BETWEEN sum AND sum | sum IS [NOT] NULL | sum
    sum      := sum (+|-) term | term ;  term := term (*|/|%) unary ;  unary := -unary | atom
    atom     := number | 'string' | TRUE | FALSE | NULL | $param | column | function(args) | (expr)

Only known state columns, literals, ``$parameters`` (replaced by the rule's parameter values), the operators
above and an allow-list of pure functions (``FUNCTIONS``) are accepted. Everything else - unknown columns or
functions (``reflect``, ``java_method``, UDFs, ``input_file_name``...), subqueries, qualified names,
semicolons, comments, type mismatches such as a string column compared with a number - raises
``RuleError`` naming the file, the rule and the offending part. A checked expression is translated to a
``pyspark.sql.Column`` node by node (never through SQL text), so nothing a planner writes reaches Spark's
parser.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from inlife.rules.syntax import BOOL, DATE, IDENTIFIER, NULL, NUM, STR, Node, Parser, RuleError


# -- functions -----------------------------------------------------------------------------------------------
def _numeric(name: str, n: int | tuple[int, int]):
    lo, hi = (n, n) if isinstance(n, int) else n

    def check(node: Node, types: list[str]) -> str:
        _arity(node, len(types), lo, hi)
        for a, ty in zip(node.args, types):
            if ty not in (NUM, NULL):
                raise RuleError(f"{name}() takes numbers, not {ty}", part=a.text)
        return NUM
    return check


def _round(node: Node, types: list[str]) -> str:
    _numeric("round", (1, 2))(node, types)
    if len(node.args) == 2 and not (node.args[1].kind == "lit" and isinstance(node.args[1].value, int)):
        raise RuleError("round()'s second argument must be a whole number literal", part=node.text)
    return NUM


def _strings(name: str, result: str):
    def check(node: Node, types: list[str]) -> str:
        _arity(node, len(types), 1, 1)
        if types[0] not in (STR, NULL):
            raise RuleError(f"{name}() takes a string, not {types[0]}", part=node.args[0].text)
        return result
    return check


def _same(name: str, min_args: int):
    def check(node: Node, types: list[str]) -> str:
        _arity(node, len(types), min_args, 99)
        known = {t for t in types if t != NULL}
        if len(known) > 1:
            raise RuleError(f"{name}() arguments must have one type, got {', '.join(sorted(known))}", part=node.text)
        return known.pop() if known else NULL
    return check


def _has_tag(node: Node, types: list[str]) -> str:
    _arity(node, len(types), 1, 1)
    a = node.args[0]
    if a.kind != "lit" or a.type != STR:
        raise RuleError("has_tag() takes one tag id as a string literal", part=node.text)
    return BOOL


def _arity(node: Node, n: int, lo: int, hi: int) -> None:
    if not lo <= n <= hi:
        want = str(lo) if lo == hi else f"{lo} or more" if hi >= 99 else f"{lo} to {hi}"
        raise RuleError(f"{node.value}() takes {want} argument(s), got {n}", part=node.text)


FUNCTIONS: dict[str, Callable[[Node, list[str]], str]] = {
    "abs": _numeric("abs", 1), "round": _round, "floor": _numeric("floor", 1),
    "ceil": _numeric("ceil", 1), "sqrt": _numeric("sqrt", 1),
    "least": _same("least", 2), "greatest": _same("greatest", 2), "coalesce": _same("coalesce", 1),
    "lower": _strings("lower", STR), "upper": _strings("upper", STR), "trim": _strings("trim", STR),
    "length": _strings("length", NUM), "has_tag": _has_tag,
}


# -- checking ------------------------------------------------------------------------------------------------
def spark_type_kind(simple: str) -> str:
    """A Spark simpleString type -> the checker's kind."""
    if simple in ("string", "varchar", "char") or simple.startswith(("varchar", "char")):
        return STR
    if simple in ("date", "timestamp", "timestamp_ntz"):
        return DATE
    if simple == "boolean":
        return BOOL
    if simple in ("tinyint", "smallint", "int", "bigint", "float", "double") or simple.startswith("decimal"):
        return NUM
    return simple  # arrays, maps, structs: usable by nothing


def _comparable(a: str, b: str, right: Node) -> bool:
    if NULL in (a, b) or a == b:
        return a in (NUM, STR, DATE, BOOL, NULL) and b in (NUM, STR, DATE, BOOL, NULL)
    # a date column against a 'yyyy-MM-dd' string literal
    if {a, b} == {DATE, STR} and right.kind == "lit":
        _date_literal(right)
        return True
    return False


def _date_literal(n: Node) -> None:
    """A string compared with a date must be a date: anything else ('yesterday') would become null and the
    comparison false for everyone, or fail under ANSI mode."""
    try:
        date.fromisoformat(n.value)
        ok = len(n.value) == 10
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise RuleError(f"{n.text} is compared with a date but is not one: write dates as 'yyyy-MM-dd'", part=n.text)


class Checker:
    """Types every node against ``columns`` (name -> kind); ``tags`` are the ids has_tag() may name
    (None: has_tag is not available, as in tag conditions themselves)."""

    def __init__(self, columns: Mapping[str, str], tags: set[str] | None = None):
        self.columns = {k.lower(): (k, v) for k, v in columns.items()}
        self.tags = tags

    def check(self, node: Node) -> str:
        ty = self._type(node)
        if ty not in (BOOL,):
            raise RuleError(f"a condition must be true or false, this is a {ty}", part=node.text)
        return ty

    def _type(self, node: Node) -> str:
        node.type = self._infer(node)
        return node.type

    def _infer(self, n: Node) -> str:
        k = n.kind
        if k == "lit":
            return n.type
        if k == "col":
            hit = self.columns.get(n.value.lower())
            if hit is None:
                raise RuleError(f"unknown column {n.value!r}", part=n.text)
            n.value = hit[0]
            if hit[1] == IDENTIFIER:
                raise RuleError(f"column {n.value!r} identifies one customer: conditions select groups, they "
                                f"cannot single anyone out", part=n.text)
            if hit[1] not in (NUM, STR, DATE, BOOL):
                raise RuleError(f"column {n.value!r} is a {hit[1]} and cannot be used in a condition", part=n.text)
            return hit[1]
        if k == "call":
            fn = FUNCTIONS.get(n.value)
            if fn is None:
                raise RuleError(f"function {n.value}() is not allowed (allowed: {', '.join(sorted(FUNCTIONS))})",
                                part=n.text)
            if n.value == "has_tag":
                if self.tags is None:
                    raise RuleError("has_tag() is not available here (tags cannot depend on tags)", part=n.text)
                ty = fn(n, [a.type or "?" for a in n.args])
                if n.args[0].value not in self.tags:
                    raise RuleError(f"unknown tag {n.args[0].value!r}", part=n.text)
                return ty
            return fn(n, [self._type(a) for a in n.args])
        if k in ("and", "or", "not"):
            for a in n.args:
                if self._type(a) not in (BOOL, NULL):
                    raise RuleError(f"{k.upper()} needs true/false operands, {a.text!r} is a {a.type}", part=a.text)
            return BOOL
        if k == "neg":
            if self._type(n.args[0]) not in (NUM, NULL):
                raise RuleError("minus needs a number", part=n.text)
            return NUM
        if k == "arith":
            for a in n.args:
                if self._type(a) not in (NUM, NULL):
                    raise RuleError(f"arithmetic {n.value} needs numbers, {a.text!r} is a {a.type}", part=n.text)
            return NUM
        if k == "cmp":
            a, b = (self._type(x) for x in n.args)
            if not (_comparable(a, b, n.args[1]) or _comparable(b, a, n.args[0])):
                raise RuleError(f"type mismatch: cannot compare {a} with {b}", part=n.text)
            if BOOL in (a, b) and n.value not in ("=", "==", "!=", "<>"):
                raise RuleError("true/false values can only be compared with = or !=", part=n.text)
            return BOOL
        if k in ("in", "between"):
            left = self._type(n.args[0])
            for item in n.args[1:]:
                ty = self._type(item)
                if k == "in" and item.kind != "lit":
                    raise RuleError("IN lists may hold literals only", part=item.text)
                if not (_comparable(left, ty, item)):
                    raise RuleError(f"type mismatch: {n.args[0].text!r} is a {left}, {item.text!r} is a {ty}",
                                    part=n.text)
            return BOOL
        if k == "isnull":
            self._type(n.args[0])
            return BOOL
        raise RuleError(f"unsupported expression {k}", part=n.text)


def parse(text: str, columns: Mapping[str, str], params: Mapping[str, Any] | None = None,
          tags: set[str] | None = None, where: str | None = None, rule: str | None = None) -> Node:
    """Parse and check one condition; errors carry ``where`` (file) and ``rule``."""
    if not isinstance(text, str):
        raise RuleError(f"a condition must be a string, got {type(text).__name__} {text!r}", where, rule)
    try:
        node = Parser(text, params).parse()
        Checker(columns, tags).check(node)
        return node
    except RuleError as exc:
        raise RuleError(exc.reason, where, rule, exc.part or text) from None


def columns_of(node: Node) -> set[str]:
    return {n.value for n in node.walk() if n.kind == "col"}

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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inlife.errors import InlifeError

NUM, STR, DATE, BOOL, NULL = "number", "string", "date", "boolean", "null"


class RuleError(InlifeError):
    """A rule file, rule or condition is malformed or unsafe. The message names file, rule and the part."""

    def __init__(self, message: str, where: str | None = None, rule: str | None = None, part: str | None = None):
        self.where, self.rule, self.part, self.reason = where, rule, part, message
        prefix = ": ".join(p for p in (where, f"rule {rule}" if rule else None) if p)
        suffix = f" (at {part!r})" if part else ""
        super().__init__(f"{prefix + ': ' if prefix else ''}{message}{suffix}")


# -- tokens --------------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<param>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|==|=|<|>|\+|-|\*|/|%|\(|\)|,)
""", re.VERBOSE)

KEYWORDS = {"and", "or", "not", "in", "between", "is", "null", "true", "false"}
FORBIDDEN_KEYWORDS = {"select", "from", "where", "join", "union", "exists", "with", "insert", "update", "delete",
                      "drop", "create", "table", "values", "lateral", "transform"}
COMPARISONS = {"=", "==", "!=", "<>", "<", "<=", ">", ">="}


@dataclass
class Token:
    kind: str      # num, str, param, name, op, kw, end
    value: str
    pos: int


def tokenize(text: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(text):
        if text.startswith("--", pos) or text.startswith("/*", pos):
            raise RuleError("comments are not allowed in conditions", part=text[pos:pos + 20])
        m = _TOKEN.match(text, pos)
        if not m:
            for t in out:
                if t.kind == "name" and t.value.lower() in FORBIDDEN_KEYWORDS:
                    raise RuleError(f"subqueries and SQL statements are not allowed ({t.value.upper()})",
                                    part=text[t.pos:t.pos + 30])
            ch = text[pos]
            what = {";": "statement separators (;) are not allowed", "`": "quoted identifiers are not allowed",
                    ".": "qualified names and attribute access are not allowed",
                    "[": "subscripts are not allowed", "{": "braces are not allowed"}.get(ch, f"unexpected character {ch!r}")
            raise RuleError(what, part=text[max(0, pos - 10):pos + 10].strip())
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "name" and value.lower() in KEYWORDS:
            kind, value = "kw", value.lower()
        if kind != "ws":
            if kind == "num" and m.end() < len(text) and (text[m.end()].isalpha() or text[m.end()] == "_"):
                raise RuleError("a name cannot start with a digit", part=text[pos:m.end() + 5])
            out.append(Token(kind, value, pos))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


# -- syntax tree ---------------------------------------------------------------------------------------------
@dataclass
class Node:
    kind: str                  # lit, col, call, neg, not, and, or, arith, cmp, in, between, isnull
    text: str                  # the source span, for error messages
    value: Any = None          # lit: value; col: name; call: function name; arith/cmp: operator
    args: list = field(default_factory=list)
    negated: bool = False
    type: str | None = None    # set by the checker
    pos: int | None = None     # where the node starts in the condition

    def walk(self):
        yield self
        for a in self.args:
            yield from a.walk()


class Parser:
    """A Pratt parser over the tokens. ``params`` replace ``$name`` with literals."""

    def __init__(self, text: str, params: Mapping[str, Any] | None = None):
        self.text = text
        self.params = dict(params or {})
        self.toks = tokenize(text)
        self.i = 0

    # helpers
    def peek(self) -> Token:
        return self.toks[self.i]

    def next(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def span(self, start: int) -> str:
        end = self.toks[self.i - 1]
        return self.text[start:end.pos + len(end.value)].strip() if self.i else ""

    def expect(self, kind: str, value: str | None = None) -> Token:
        t = self.next()
        if t.kind != kind or (value is not None and t.value.lower() != value):
            want = value or kind
            got = t.value or "end of condition"
            raise RuleError(f"expected {want!r}, found {got!r}", part=self.text[max(0, t.pos - 15):t.pos + 15].strip())
        return t

    def parse(self) -> Node:
        if not self.text or not self.text.strip():
            raise RuleError("empty condition")
        node = self.expr(0)
        t = self.peek()
        if t.kind != "end":
            raise RuleError(f"unexpected {t.value!r} after a complete condition", part=self.text[t.pos:t.pos + 20])
        return node

    # binding powers: or 1, and 2, not 3, predicates 4, + - 5, * / % 6
    def lbp(self, t: Token) -> int:
        if t.kind == "kw":
            return {"or": 1, "and": 2, "in": 4, "between": 4, "is": 4, "not": 4}.get(t.value, 0)
        if t.kind == "op":
            if t.value in COMPARISONS:
                return 4
            if t.value in ("+", "-"):
                return 5
            if t.value in ("*", "/", "%"):
                return 6
        return 0

    def expr(self, rbp: int) -> Node:
        t = self.next()
        left = self.nud(t)
        if left.pos is None:
            left.pos = t.pos
        while rbp < self.lbp(self.peek()):
            t = self.next()
            start = left.pos
            left = self.led(t, left)
            left.pos = start
        return left

    def nud(self, t: Token) -> Node:
        if t.kind == "num":
            v = float(t.value) if any(c in t.value for c in ".eE") else int(t.value)
            return Node("lit", t.value, v, type=NUM)
        if t.kind == "str":
            q = t.value[0]
            return Node("lit", t.value, t.value[1:-1].replace(q + q, q), type=STR)
        if t.kind == "param":
            name = t.value.strip("${}")
            if name not in self.params:
                known = ", ".join(sorted(self.params)) or "none"
                raise RuleError(f"unknown parameter ${name} (parameters: {known})", part=t.value)
            v = self.params[name]
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise RuleError(f"parameter ${name} must be a number or a string, got {v!r}", part=t.value)
            return Node("lit", t.value, v, type=STR if isinstance(v, str) else NUM)
        if t.kind == "kw":
            if t.value in ("true", "false"):
                return Node("lit", t.value, t.value == "true", type=BOOL)
            if t.value == "null":
                return Node("lit", t.value, None, type=NULL)
            if t.value == "not":
                start = t.pos
                operand = self.expr(3)
                return Node("not", self.span(start), args=[operand])
            raise RuleError(f"unexpected keyword {t.value.upper()!r}", part=self.text[t.pos:t.pos + 20])
        if t.kind == "name":
            if t.value.lower() in FORBIDDEN_KEYWORDS:
                raise RuleError(f"subqueries and SQL statements are not allowed ({t.value.upper()})",
                                part=self.text[t.pos:t.pos + 30])
            if self.peek().kind == "op" and self.peek().value == "(":
                self.next()
                args = []
                if not (self.peek().kind == "op" and self.peek().value == ")"):
                    while True:
                        args.append(self.expr(0))
                        if self.peek().kind == "op" and self.peek().value == ",":
                            self.next()
                            continue
                        break
                self.expect("op", ")")
                return Node("call", self.span(t.pos), t.value.lower(), args)
            return Node("col", t.value, t.value)
        if t.kind == "op" and t.value == "(":
            start = t.pos
            if self.peek().kind == "name" and self.peek().value.lower() in FORBIDDEN_KEYWORDS:
                raise RuleError("subqueries are not allowed", part=self.text[start:start + 30])
            inner = self.expr(0)
            self.expect("op", ")")
            inner.text = self.span(start)
            inner.pos = start
            return inner
        if t.kind == "op" and t.value == "-":
            operand = self.expr(7)
            if operand.kind == "lit" and operand.type == NUM:
                return Node("lit", "-" + operand.text, -operand.value, type=NUM)
            return Node("neg", "-" + operand.text, args=[operand])
        if t.kind == "end":
            raise RuleError("the condition ends too early", part=self.text[-20:])
        raise RuleError(f"unexpected {t.value!r}", part=self.text[max(0, t.pos - 10):t.pos + 10])

    def led(self, t: Token, left: Node) -> Node:
        start = self._start(left)
        if t.kind == "kw" and t.value in ("and", "or"):
            right = self.expr(2 if t.value == "and" else 1)
            return Node(t.value, self.span(start), args=[left, right])
        if t.kind == "op" and t.value in ("+", "-", "*", "/", "%"):
            right = self.expr(self.lbp(t))
            return Node("arith", self.span(start), t.value, [left, right])
        if t.kind == "op" and t.value in COMPARISONS:
            right = self.expr(4)
            node = Node("cmp", self.span(start), t.value, [left, right])
            # chained comparisons: a < b <= c
            while self.peek().kind == "op" and self.peek().value in COMPARISONS:
                op = self.next().value
                nxt = self.expr(4)
                link = Node("cmp", f"{right.text} {op} {nxt.text}", op, [right, nxt])
                node = Node("and", self.span(start), args=[node, link])
                right = nxt
            return node
        negated = False
        if t.kind == "kw" and t.value == "not":
            negated = True
            t = self.next()
            if not (t.kind == "kw" and t.value in ("in", "between")):
                raise RuleError("NOT here must be followed by IN or BETWEEN", part=self.text[start:t.pos + 10])
        if t.kind == "kw" and t.value == "in":
            self.expect("op", "(")
            if self.peek().kind == "name" and self.peek().value.lower() in FORBIDDEN_KEYWORDS:
                raise RuleError("subqueries are not allowed", part=self.text[self.peek().pos:self.peek().pos + 30])
            items = [self.expr(5)]
            while self.peek().kind == "op" and self.peek().value == ",":
                self.next()
                items.append(self.expr(5))
            self.expect("op", ")")
            return Node("in", self.span(start), args=[left] + items, negated=negated)
        if t.kind == "kw" and t.value == "between":
            lo = self.expr(4)
            self.expect("kw", "and")
            hi = self.expr(4)
            return Node("between", self.span(start), args=[left, lo, hi], negated=negated)
        if t.kind == "kw" and t.value == "is":
            neg = False
            if self.peek().kind == "kw" and self.peek().value == "not":
                self.next()
                neg = True
            self.expect("kw", "null")
            return Node("isnull", self.span(start), args=[left], negated=neg)
        raise RuleError(f"unexpected {t.value!r}", part=self.text[t.pos:t.pos + 15])

    def _start(self, node: Node) -> int:
        return node.pos if node.pos is not None else 0


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
    return {a, b} == {DATE, STR} and right.kind == "lit"


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


# -- translation to Spark ------------------------------------------------------------------------------------
def to_column(node: Node, tags_col: str = "tags"):
    """The checked tree as a pyspark Column, built node by node."""
    from pyspark.sql import functions as F

    def lit(n: Node):
        return F.lit(n.value)

    def go(n: Node):
        k = n.kind
        if k == "lit":
            return lit(n)
        if k == "col":
            return F.col(n.value)
        if k == "and":
            return go(n.args[0]) & go(n.args[1])
        if k == "or":
            return go(n.args[0]) | go(n.args[1])
        if k == "not":
            return ~go(n.args[0])
        if k == "neg":
            return -go(n.args[0])
        if k == "arith":
            a, b = go(n.args[0]), go(n.args[1])
            if n.value == "/":
                return F.try_divide(a, b)
            if n.value == "%":
                return F.when(b != 0, a % b)
            return {"+": a + b, "-": a - b, "*": a * b}[n.value]
        if k == "cmp":
            a, b = (_cast_pair(n.args[0], n.args[1], go))
            op = n.value
            return {"=": a == b, "==": a == b, "!=": a != b, "<>": a != b, "<": a < b, "<=": a <= b,
                    ">": a > b, ">=": a >= b}[op]
        if k == "in":
            left = go(n.args[0])
            items = [i.value for i in n.args[1:] if i.value is not None]
            if n.args[0].type == DATE:
                items = [F.to_date(F.lit(v)) for v in items]
            col = left.isin(*items)
            return ~col if n.negated else col
        if k == "between":
            x, lo = _cast_pair(n.args[0], n.args[1], go)
            _, hi = _cast_pair(n.args[0], n.args[2], go)
            col = (x >= lo) & (x <= hi)
            return ~col if n.negated else col
        if k == "isnull":
            x = go(n.args[0])
            return x.isNotNull() if n.negated else x.isNull()
        if k == "call":
            f, args = n.value, [go(a) for a in n.args]
            if f == "has_tag":
                return F.array_contains(F.col(tags_col), n.args[0].value)
            if f == "round":
                return F.round(args[0], int(n.args[1].value) if len(n.args) > 1 and n.args[1].kind == "lit" else 0)
            return {"abs": F.abs, "floor": F.floor, "ceil": F.ceil, "sqrt": F.sqrt, "lower": F.lower,
                    "upper": F.upper, "trim": F.trim, "length": F.length}[f](args[0]) if f in (
                "abs", "floor", "ceil", "sqrt", "lower", "upper", "trim", "length") else \
                {"least": F.least, "greatest": F.greatest, "coalesce": F.coalesce}[f](*args)
        raise RuleError(f"cannot translate {k}", part=n.text)

    return go(node)


def _cast_pair(a: Node, b: Node, go):
    from pyspark.sql import functions as F

    x, y = go(a), go(b)
    if a.type == DATE and b.type == STR:
        y = F.to_date(y)
    elif b.type == DATE and a.type == STR:
        x = F.to_date(x)
    return x, y

"""The rule condition language's syntax: tokens, the tree and a Pratt parser (inlife.rules.expressions
checks the tree; inlife.rules.translate turns it into Spark columns)."""
from __future__ import annotations

import math

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inlife.errors import ConfigError

NUM, STR, DATE, BOOL, NULL = "number", "string", "date", "boolean", "null"
IDENTIFIER = "identifier"     # a column naming one customer (subscriber_id, msisdn): no condition may use it


class RuleError(ConfigError):
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


# Bounds on one condition, checked before it is parsed: a planner's condition is a line or two, and without
# them a pasted 10 MB literal, thousands of nested parentheses or `not`s, or hundreds of ORs stall the
# parser, exhaust Python's recursion or, in Spark, the JVM's stack.
MAX_CHARS = 4000
MAX_TOKENS = 400
MAX_NESTING = 32          # open parentheses plus prefix operators (not, unary minus) in a row
MAX_DIGITS = 18           # a number's digits: every integer fits a long


def check_bounds(text: str, tokens: list[Token] | None = None) -> None:
    """RuleError when ``text`` (or its ``tokens``) is beyond the bounds above, naming the position."""
    if tokens is None:
        if len(text) > MAX_CHARS:
            raise RuleError(f"the condition is {len(text):,} characters long, more than {MAX_CHARS:,}: split it "
                            f"into tags", part=text[:40])
        return
    if len(tokens) > MAX_TOKENS:
        t = tokens[MAX_TOKENS]
        raise RuleError(f"the condition has {len(tokens) - 1:,} terms, more than {MAX_TOKENS}: split it into tags "
                        f"(at character {t.pos})", part=text[t.pos:t.pos + 30])
    depth, prefix = 0, 0
    for k, t in enumerate(tokens):
        if t.kind == "num" and len(re.sub(r"[^0-9]", "", t.value.split("e")[0].split("E")[0])) > MAX_DIGITS:
            raise RuleError(f"a number of more than {MAX_DIGITS} digits (at character {t.pos})",
                            part=t.value[:30])
        opens = t.value == "(" and t.kind == "op"
        depth += 1 if opens else -1 if (t.value == ")" and t.kind == "op") else 0
        prefix = prefix + 1 if (t.kind == "kw" and t.value == "not") or (t.kind == "op" and t.value in "-+" and
                                                                       not _operand_before(tokens[k - 1] if k else None)) else 0
        if depth + prefix > MAX_NESTING:
            raise RuleError(f"the condition nests more than {MAX_NESTING} levels (at character {t.pos})",
                            part=text[t.pos:t.pos + 30])


def _operand_before(before: Token | None) -> bool:
    """Whether a + or - after ``before`` is binary (it follows an operand)."""
    if before is None:
        return False
    return before.kind in ("num", "str", "param", "name") or (before.kind == "op" and before.value == ")") \
        or (before.kind == "kw" and before.value in ("null", "true", "false"))


@dataclass
class Token:
    kind: str      # num, str, param, name, op, kw, end
    value: str
    pos: int


def tokenize(text: str) -> list[Token]:
    check_bounds(text)
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
    check_bounds(text, out)
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


def finite(v: int | float, what: str, part: str) -> int | float:
    """``v`` when it is a finite number. NaN would match everyone (Spark orders it above every number) and
    an infinity no one, silently."""
    if isinstance(v, float) and not math.isfinite(v):
        raise RuleError(f"{what} is {v!r}: a condition compares with finite numbers only", part=part)
    return v


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
            return Node("lit", t.value, finite(v, f"the number {t.value}", t.value), type=NUM)
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
            if not isinstance(v, str):
                finite(v, f"parameter ${name}", t.value)
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

"""A checked condition as a pyspark Column, built node by node (never through SQL text)."""
from __future__ import annotations

from inlife.rules.syntax import DATE, STR, Node, RuleError


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
        # Arithmetic cannot fail a run: an overflow (tenure_months * 2147483647 * 4) or a division by
        # zero is null, as a missing value is, where ANSI mode would raise.
        if k == "neg":
            return F.try_subtract(F.lit(0), go(n.args[0]))
        if k == "arith":
            a, b = go(n.args[0]), go(n.args[1])
            if n.value == "/":
                return F.try_divide(a, b)
            if n.value == "%":
                return F.try_mod(a, b)
            return {"+": F.try_add, "-": F.try_subtract, "*": F.try_multiply}[n.value](a, b)
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

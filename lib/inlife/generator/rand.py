"""Hash-based randomness: every random draw is a pure function of (seed, salt, keys).

Spark's rand() depends on how rows are split into partitions; a hash of the row's own identity does not,
so the same arguments give the same rows on any machine, partitioning or number of cores. Each draw
uses its own ``salt`` so that two draws on the same keys are independent.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

_MASK53 = (1 << 53) - 1
_TWO53 = float(1 << 53)


def uniform(seed: int, salt: str, *keys) -> Column:
    """A uniform draw in [0, 1) from xxhash64(seed, salt, keys...): 53 random bits, like a double."""
    h = F.xxhash64(F.lit(int(seed)), F.lit(salt), *keys)
    return F.shiftright(h, 11).bitwiseAND(F.lit(_MASK53)) / F.lit(_TWO53)


def normal(seed: int, salt: str, *keys) -> Column:
    """A standard normal draw (Box-Muller on two independent uniforms)."""
    u1 = F.lit(1.0) - uniform(seed, salt + "#n1", *keys)      # (0, 1]: log is finite
    u2 = uniform(seed, salt + "#n2", *keys)
    return F.sqrt(F.lit(-2.0) * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)


def lognormal(seed: int, salt: str, mu, sigma, *keys) -> Column:
    """Heavy right tail (ARPU, minutes, volumes): exp(mu + sigma * z)."""
    return F.exp(_c(mu) + _c(sigma) * normal(seed, salt, *keys))


def poisson(lam: Column, u: Column, z: Column | None = None, terms: int = 7) -> Column:
    """A Poisson count with mean ``lam`` by inverse CDF (small means) or a normal approximation (large).

    ``lam`` should be a column reference (materialise it in an earlier select): it is used O(terms^2)
    times. The CDF after k terms is exp(-lam) * S_k with S_k = 1 + lam(1 + lam/2(1 + ... (1 + lam/k))),
    Horner's form, so the expression stays small. Exact enough below a mean of ~5; above it the normal
    approximation is used (z: a normal draw).
    """
    lam = _c(lam)
    e = F.exp(-lam)
    count = F.lit(0)
    for k in range(terms):
        s = F.lit(1.0)
        for i in range(k, 0, -1):
            s = F.lit(1.0) + lam / F.lit(float(i)) * s
        count = count + F.when(u >= e * s, 1).otherwise(0)
    if z is None:
        return count
    approx = F.greatest(F.lit(0), F.round(lam + F.sqrt(lam) * z).cast("int"))
    return F.when(lam > 1.5, approx).otherwise(count)


def choice_index(u: Column, weights: Sequence[float]) -> Column:
    """Index of the category drawn by ``u`` from (unnormalised) ``weights``."""
    total = float(sum(weights))
    acc = 0.0
    expr = None
    for i, w in enumerate(weights[:-1]):
        acc += w / total
        expr = F.when(u < acc, i) if expr is None else expr.when(u < acc, i)
    last = len(weights) - 1
    return F.lit(last) if expr is None else expr.otherwise(last)


def pick(values: Sequence, index: Column) -> Column:
    """values[index] for a 0-based index column (a literal array lookup, no join).

    The array is one SQL literal (a single call into the JVM), not one Column per value.
    """
    return F.element_at(F.expr(_sql_array(values)), index.cast("int") + 1)


def _sql_array(values: Sequence) -> str:
    def lit(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return f"{v}"
        if isinstance(v, float):
            return f"CAST({v!r} AS DOUBLE)"
        return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "array(" + ", ".join(lit(v) for v in values) + ")"


def sigmoid(x: Column) -> Column:
    return F.lit(1.0) / (F.lit(1.0) + F.exp(-x))


def _c(x) -> Column:
    return x if isinstance(x, Column) else F.lit(x)

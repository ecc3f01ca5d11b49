"""The analytic hierarchy process: weights from pairwise comparisons, and their consistency.

Weights are the principal eigenvector of the comparison matrix, normalised to sum to 1. Consistency:
CI = (lambda_max - n) / (n - 1), CR = CI / RI(n) with Saaty's random indices; CR >= 0.1 means the expert's
comparisons contradict each other too much to use.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from inlife.errors import ConfigError

# Saaty's random consistency index by matrix size
RANDOM_INDEX = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49}
MAX_CR = 0.1


@dataclass(frozen=True)
class Priorities:
    weights: tuple[float, ...]
    lambda_max: float
    ci: float
    cr: float


def parse_matrix(rows: Sequence[Sequence], where: str) -> np.ndarray:
    """A square matrix of numbers or fractions written as '1/3'; checked to be positive and reciprocal."""
    try:
        m = np.array([[float(Fraction(str(v))) for v in row] for row in rows], dtype=float)
    except (ValueError, ZeroDivisionError, TypeError) as exc:
        raise ConfigError(f"{where}: entries must be numbers or fractions like 1/3 ({exc})") from None
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ConfigError(f"{where}: the comparison matrix must be square, got {m.shape}")
    if (m <= 0).any():
        raise ConfigError(f"{where}: comparison entries must be positive")
    bad = [(i, j) for i in range(len(m)) for j in range(len(m)) if not np.isclose(m[i, j] * m[j, i], 1.0, rtol=1e-3)]
    if bad:
        i, j = bad[0]
        raise ConfigError(f"{where}: not reciprocal: entry [{i}][{j}] = {m[i, j]:.4g} but [{j}][{i}] = "
                          f"{m[j, i]:.4g} (should be {1 / m[i, j]:.4g})")
    return m


def priorities(matrix: np.ndarray) -> Priorities:
    n = matrix.shape[0]
    if n == 1:
        return Priorities((1.0,), 1.0, 0.0, 0.0)
    values, vectors = np.linalg.eig(matrix)
    k = int(np.argmax(values.real))
    w = np.abs(vectors[:, k].real)
    w = w / w.sum()
    lam = float(values[k].real)
    ci = (lam - n) / (n - 1)
    ri = RANDOM_INDEX.get(n, 1.49)
    cr = ci / ri if ri else 0.0
    return Priorities(tuple(float(x) for x in w), lam, ci, cr)


def checked_priorities(rows, where: str) -> Priorities:
    """Weights of a configured matrix; stops when its consistency ratio is 0.1 or more."""
    p = priorities(parse_matrix(rows, where))
    if p.cr >= MAX_CR:
        raise ConfigError(f"{where}: consistency ratio {p.cr:.3f} >= {MAX_CR} (lambda_max {p.lambda_max:.3f}): "
                          f"the pairwise comparisons contradict each other; revise this matrix")
    return p

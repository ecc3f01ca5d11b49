"""A suite's checks in one aggregation over the frame.

Great Expectations' Spark engine resolves a suite metric by metric: a few Spark jobs per expectation and a
few hundred py4j calls per suite, which at demo size cost as much as building the table. The kinds of
expectation inlife's suites use are computed here instead, all in one ``agg`` (one Spark job), from the
same conditions Great Expectations' Spark engine applies (which rows it ignores, ``mostly``, ``or_equal``,
strict bounds), and judged as it judges them; ``tests/test_quality.py`` checks both agree case by case.

Great Expectations stays what users see and edit (the suites, the results, Data Docs) and what explains a
failure: a failed check is computed again by Great Expectations for its details (see ``validator``). A suite
holding a kind of expectation or an option not listed here is left to Great Expectations whole.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

ROWS = "rows"          # the one aggregate every check may read: the frame's row count

# What a check computed and how Great Expectations would judge it: (success, GX-style result).
Judged = tuple[bool, dict[str, Any]]


@dataclass(frozen=True)
class Check:
    """One expectation as aggregates (named apart from every other check's) and a judge of their values.
    ``repeats``: name -> (which rows are considered, the columns of a value): whether a value occurs twice,
    answered by a grouping of its own (see ``any_repeated``) under that name."""
    aggregates: dict[str, Column]
    judge: Callable[[dict[str, Any]], Judged]
    repeats: dict[str, tuple[Column, list[str]]] = field(default_factory=dict)


# -- Great Expectations' judgement ---------------------------------------------------------------------------
def mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    """GX's ``_mostly_success``: the share of considered rows that are expected, at least ``mostly``."""
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def map_result(element_count: int, considered: int, unexpected: int | None) -> dict[str, Any]:
    """The counts of a map expectation's result (GX's BASIC result without samples); ``unexpected`` None
    where only whether there were any is known (uniqueness)."""
    missing = element_count - considered
    out: dict[str, Any] = {"element_count": element_count, "missing_count": missing,
                           "missing_percent": missing / element_count * 100 if element_count else None,
                           "unexpected_count": unexpected, "partial_unexpected_list": []}
    if unexpected is not None:
        out["unexpected_percent"] = unexpected / considered * 100 if considered else None
        out["unexpected_percent_total"] = unexpected / element_count * 100 if element_count else None
    return out


def judged_map(rows: int, considered: int, unexpected: int, mostly: float) -> Judged:
    """A map expectation: vacuously true without rows or without considered rows."""
    success = rows == 0 or considered == 0 or mostly_success(considered, unexpected, mostly)
    return success, map_result(rows, considered, unexpected)


def judged_between(observed: Any, kw: dict[str, Any]) -> Judged:
    """GX's ``_validate_metric_value_between`` for a number: a missing value fails."""
    if observed is None:
        return False, {"observed_value": None}
    low, high = kw.get("min_value"), kw.get("max_value")
    above = low is None or (observed > low if kw.get("strict_min") else observed >= low)
    below = high is None or (observed < high if kw.get("strict_max") else observed <= high)
    return bool(above and below), {"observed_value": observed}


# -- conditions, as Great Expectations' Spark metric providers write them -----------------------------------
def between(column: Column, kw: dict[str, Any]) -> Column:
    low, high = kw.get("min_value"), kw.get("max_value")
    above = None if low is None else (column > F.lit(low) if kw.get("strict_min") else column >= F.lit(low))
    below = None if high is None else (column < F.lit(high) if kw.get("strict_max") else column <= F.lit(high))
    if above is None:
        return below
    return above if below is None else above & below


def greater(a: Column, b: Column, or_equal: bool) -> Column:
    return (a >= b) | a.eqNullSafe(b) if or_equal else a > b


def pair_considered(a: Column, b: Column, ignore_row_if: str) -> Column:
    return {"both_values_are_missing": ~(a.isNull() & b.isNull()),
            "either_value_is_missing": ~(a.isNull() | b.isNull()),
            "neither": F.lit(True)}[ignore_row_if]


def multicolumn_considered(columns: list[Column], ignore_row_if: str) -> Column:
    nulls = [c.isNull() for c in columns]
    if ignore_row_if == "never":
        return F.lit(True)
    joined = nulls[0]
    for n in nulls[1:]:
        joined = joined & n if ignore_row_if == "all_values_are_missing" else joined | n
    return ~joined


def count_if(condition: Column) -> Column:
    """Rows where ``condition`` is true (null counts as not: GX's ``when(unexpected, 1).otherwise(0)``)."""
    return F.count(F.when(condition, 1))


# -- the checks --------------------------------------------------------------------------------------------
def _column_map(key: str, kw: dict, condition: Callable[[Column], Column]) -> Check:
    """A column map expectation: the column's null rows are not considered."""
    c = F.col(kw["column"])
    mostly = float(kw.get("mostly", 1))
    return Check({f"{key}_n": F.count(c), f"{key}_u": count_if(c.isNotNull() & ~condition(c))},
                 lambda r: judged_map(r[ROWS], r[f"{key}_n"], r[f"{key}_u"], mostly))


def _not_null(key: str, kw: dict) -> Check:
    mostly = float(kw.get("mostly", 1))

    def judge(r: dict) -> Judged:
        rows, nulls = r[ROWS], r[f"{key}_u"]
        success = rows == 0 or (rows - nulls) / rows >= mostly
        return success, {**map_result(rows, rows, nulls), "missing_count": nulls,
                         "missing_percent": nulls / rows * 100 if rows else None}
    return Check({f"{key}_u": count_if(F.col(kw["column"]).isNull())}, judge)


def _distinct(key: str, considered: Column, columns: list[str]) -> Check:
    """Uniqueness with ``mostly`` 1: the considered rows are unique when no value of ``columns`` occurs twice
    among them (how many rows repeat a value, GX's unexpected count, is computed only for a failure)."""
    def judge(r: dict) -> Judged:
        rows, n = r[ROWS], r[f"{key}_n"]
        success = rows == 0 or n == 0 or not r[f"{key}_r"]
        return success, map_result(rows, n, 0 if success else None)
    return Check({f"{key}_n": count_if(considered)}, judge, {f"{key}_r": (considered, columns)})


def _unique(key: str, kw: dict) -> Check:
    return _distinct(key, F.col(kw["column"]).isNotNull(), [kw["column"]])


def _compound_unique(key: str, kw: dict) -> Check:
    columns = [F.col(c) for c in kw["column_list"]]
    return _distinct(key, multicolumn_considered(columns, kw.get("ignore_row_if", "all_values_are_missing")),
                     list(kw["column_list"]))


def _pair_greater(key: str, kw: dict) -> Check:
    a, b = F.col(kw["column_A"]), F.col(kw["column_B"])
    keep = pair_considered(a, b, kw.get("ignore_row_if", "both_values_are_missing"))
    mostly = float(kw.get("mostly", 1))
    return Check({f"{key}_n": count_if(keep), f"{key}_u": count_if(keep & ~greater(a, b, bool(kw.get("or_equal"))))},
                 lambda r: judged_map(r[ROWS], r[f"{key}_n"], r[f"{key}_u"], mostly))


def _row_count(key: str, kw: dict) -> Check:
    return Check({}, lambda r: (r[ROWS] == kw["value"], {"observed_value": r[ROWS]}))


def _sum_between(key: str, kw: dict) -> Check:
    return Check({f"{key}_s": F.sum(F.col(kw["column"]))}, lambda r: judged_between(r[f"{key}_s"], kw))


NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
OPTIONS = {"mostly", "result_format", "catch_exceptions"}


@dataclass(frozen=True)
class Kind:
    build: Callable[[str, dict], Check]
    kwargs: frozenset[str]                     # what it may hold beyond OPTIONS
    numeric: tuple[str, ...] = ()              # columns that must be numeric (bounds are numbers)


KINDS: dict[str, Kind] = {
    "expect_column_values_to_not_be_null": Kind(_not_null, frozenset({"column"})),
    "expect_column_values_to_be_between": Kind(
        lambda k, kw: _column_map(k, kw, lambda c: between(c, kw)),
        frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"}), ("column",)),
    "expect_column_values_to_be_in_set": Kind(
        lambda k, kw: _column_map(k, kw, lambda c: F.lit(True) if kw["value_set"] is None else c.isin(kw["value_set"])),
        frozenset({"column", "value_set"})),
    "expect_column_values_to_match_regex": Kind(
        lambda k, kw: _column_map(k, kw, lambda c: c.rlike(kw["regex"])), frozenset({"column", "regex"})),
    "expect_column_values_to_be_unique": Kind(_unique, frozenset({"column"})),
    "expect_compound_columns_to_be_unique": Kind(_compound_unique, frozenset({"column_list", "ignore_row_if"})),
    "expect_column_pair_values_a_to_be_greater_than_b": Kind(
        _pair_greater, frozenset({"column_A", "column_B", "or_equal", "ignore_row_if"})),
    "expect_table_row_count_to_equal": Kind(_row_count, frozenset({"value"})),
    "expect_column_sum_to_be_between": Kind(
        _sum_between, frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"}), ("column",)),
}
UNIQUENESS = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}


def computable(expectation: dict, schema: T.StructType) -> bool:
    """Whether this module computes the expectation as Great Expectations would: a kind of ``KINDS`` with no
    option it does not know, on columns the frame has, numbers compared with numbers, ``mostly`` 1 for
    uniqueness (whose unexpected count it does not compute)."""
    kind, kw = KINDS.get(expectation["type"]), expectation.get("kwargs", {})
    if kind is None or set(kw) - kind.kwargs - OPTIONS:
        return False
    types = {f.name: f.dataType for f in schema.fields}
    named = [kw[k] for k in ("column", "column_A", "column_B") if k in kw] + list(kw.get("column_list", []))
    if any(c not in types for c in named):
        return False
    if any(not isinstance(types[kw[c]], NUMERIC) for c in kind.numeric):
        return False
    bounds = [kw.get(k) for k in ("min_value", "max_value")]
    if any(b is not None and (isinstance(b, bool) or not isinstance(b, int | float)) for b in bounds):
        return False
    if (kind.numeric and all(b is None for b in bounds)) or (None not in bounds and bounds[0] > bounds[1]):
        return False            # GX reports these as errors of the expectation: let it
    mostly = kw.get("mostly", 1)
    if isinstance(mostly, bool) or not isinstance(mostly, int | float) or not 0 <= mostly <= 1:
        return False
    return not (expectation["type"] in UNIQUENESS and mostly != 1)


def evaluate(df: DataFrame, expectations: list[dict]) -> list[Judged] | None:
    """Every expectation judged from one aggregation over ``df``, in order; None when one of them is not
    ``computable`` (parameters must be filled in already)."""
    if not all(computable(e, df.schema) for e in expectations):
        return None
    checks = [KINDS[e["type"]].build(f"e{i}", e.get("kwargs", {})) for i, e in enumerate(expectations)]
    aggregates = {ROWS: F.count(F.lit(1)), **{k: v for c in checks for k, v in c.aggregates.items()}}
    row = df.agg(*[col.alias(name) for name, col in aggregates.items()]).first().asDict()
    for c in checks:
        row.update({name: any_repeated(df, considered, columns) for name, (considered, columns) in c.repeats.items()})
    return [c.judge(row) for c in checks]


def any_repeated(df: DataFrame, considered: Column, columns: list[str]) -> bool:
    """Whether a value of ``columns`` occurs on two considered rows (nulls equal to nulls, as a distinct
    count of their struct has them). A grouping by the columns themselves, not a distinct count inside the
    suite's aggregation: that one made Spark carry every other aggregate's buffer through a shuffle by the
    value, and a frame already partitioned by these columns (ingestion's, by its natural key) is grouped
    without a shuffle at all."""
    return bool(repeated_values(df, considered, columns).limit(1).count())


def repeated_values(df: DataFrame, considered: Column, columns: list[str]) -> DataFrame:
    """The values of ``columns`` found on more than one considered row, with how many (``_n``)."""
    grouped = df.where(considered).groupBy(*[F.col(f"`{c}`") for c in columns]).agg(F.count(F.lit(1)).alias("_n"))
    return grouped.where(F.col("_n") > 1)

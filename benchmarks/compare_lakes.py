"""Compare every table of two lakes row for row (for a change that must not change results: run the demo
before and after it into two lakes, then compare them).

    .venv/bin/python benchmarks/compare_lakes.py BEFORE_LAKE AFTER_LAKE [--ignore COLUMN ...]

Reads each table's latest snapshot with deltalake (no Spark), sorts the rows and compares them column by
column; ``--ignore`` leaves out columns that differ by design from run to run (commit times, run ids).
Prints one JSON object: per table the rows on each side and the columns that differ; exits 1 if any do.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def tables_of(lake: Path) -> set[str]:
    return {f"{p.parent.parent.name}.{p.parent.name}" for p in lake.glob("*/*/_delta_log")}


def _text(value) -> str:
    """A nested value (array, map, struct) as exact text: every element, floats in full."""
    return json.dumps(value.tolist() if hasattr(value, "tolist") else value, default=str, sort_keys=True)


def frame(lake: Path, name: str, ignore: set[str]):
    import deltalake

    layer, table = name.split(".")
    df = deltalake.DeltaTable(str(lake / layer / table)).to_pandas()
    df = df[[c for c in df.columns if c not in ignore]]
    df = df.apply(lambda col: col.map(_text) if col.dtype == object else col)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def compare(before: Path, after: Path, name: str, ignore: set[str]) -> dict:
    a, b = frame(before, name, ignore), frame(after, name, ignore)
    out = {"rows_before": len(a), "rows_after": len(b)}
    if list(a.columns) != list(b.columns):
        out["columns_only_before"] = sorted(set(a.columns) - set(b.columns))
        out["columns_only_after"] = sorted(set(b.columns) - set(a.columns))
        return out
    if len(a) == len(b):
        differ = {}
        for c in a.columns:
            same = (a[c] == b[c]) | (a[c].isna() & b[c].isna())
            if not same.all():
                differ[c] = int((~same).sum())
        out["differing_columns"] = differ
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--ignore", action="append", default=[], help="a column to leave out (repeatable)")
    args = p.parse_args(argv)
    ignore = set(args.ignore)
    names_a, names_b = tables_of(args.before), tables_of(args.after)
    result = {"only_before": sorted(names_a - names_b), "only_after": sorted(names_b - names_a), "tables": {}}
    for name in sorted(names_a & names_b):
        result["tables"][name] = compare(args.before, args.after, name, ignore)
    different = sorted(n for n, r in result["tables"].items()
                       if r["rows_before"] != r["rows_after"] or r.get("differing_columns")
                       or r.get("columns_only_before") or r.get("columns_only_after"))
    result["identical"] = not different and not result["only_before"] and not result["only_after"]
    result["different"] = different
    print(json.dumps(result, indent=1, default=str))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())

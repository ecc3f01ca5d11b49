"""The data dictionary (lib/inlife/unified/factors.yaml): load, expand templates, render Markdown.

    python -m inlife.unified.dictionary      # rewrites docs/data_dictionary.md
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from inlife.errors import ConfigError

DICTIONARY = Path(__file__).with_name("factors.yaml")
DOC = Path(__file__).resolve().parents[3] / "docs" / "data_dictionary.md"
FIELDS = ("name", "meaning", "unit", "sources", "formula")


@dataclass(frozen=True)
class Factor:
    name: str
    meaning: str
    unit: str
    sources: tuple[str, ...]
    formula: str


def _raw(path: Path = DICTIONARY) -> dict:
    if path == DICTIONARY and not path.exists():
        # imported from a zip (spark-submit --py-files): read the packaged file
        from importlib.resources import files
        return yaml.safe_load(files("inlife.unified").joinpath("factors.yaml").read_text(encoding="utf-8"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dimensions(path: Path = DICTIONARY) -> dict[str, list[str]]:
    """The lists templates expand over (call types, directions, products, window metrics)."""
    return {k: list(v) for k, v in _raw(path)["dimensions"].items()}


def load_factors(path: Path = DICTIONARY) -> list[Factor]:
    """Every factor, templates expanded, in table order. Checks that each has all fields, once."""
    raw = _raw(path)
    dims, labels = raw["dimensions"], raw.get("labels", {})
    out: list[Factor] = []
    for i, entry in enumerate(raw["factors"]):
        if "template" in entry:
            keys = entry["template"]
            for combo in itertools.product(*[dims[k] for k in keys]):
                values = dict(zip(keys, combo))
                for item in entry["items"]:
                    out.append(_factor(item, values, labels, path, i))
        else:
            out.append(_factor(entry, {}, labels, path, i))
    names = [f.name for f in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: factors defined more than once: {dupes}")
    return out


def _factor(item: dict, values: dict, labels: dict, path: Path, index: int) -> Factor:
    missing = [f for f in FIELDS if f not in item]
    extra = [k for k in item if k not in FIELDS]
    if extra:  # typically an unquoted comma inside a flow mapping split a value
        raise ConfigError(f"{path}: factor #{index} ({item.get('name')}) has unknown keys {extra} "
                          f"(quote values that contain commas)")
    if missing:
        raise ConfigError(f"{path}: factor #{index} ({item.get('name')}) lacks {missing}")

    def fill(text: str, for_name: bool) -> str:
        for k, v in values.items():
            label = labels.get(k, {}).get(v, v.lower())
            text = text.replace("{" + k + "}", v.lower() if for_name else label)
            text = text.replace("{" + k.upper() + "}", v)
        return text

    return Factor(name=fill(item["name"], True), meaning=fill(str(item["meaning"]), False),
                  unit=fill(str(item["unit"]), True), sources=tuple(item["sources"]),
                  formula=fill(str(item["formula"]), True))


def view_columns(path: Path = DICTIONARY) -> list[str]:
    return [f.name for f in load_factors(path)]


def render_markdown(path: Path = DICTIONARY) -> str:
    factors = load_factors(path)
    lines = ["# Data dictionary: unified.customer_view", "",
             f"Generated from `lib/inlife/unified/factors.yaml` by `python -m inlife.unified.dictionary`; "
             f"do not edit by hand. {len(factors)} columns, one row per active subscriber-month.", "",
             "| # | factor | meaning | unit | sources | formula |", "| --- | --- | --- | --- | --- | --- |"]
    for i, f in enumerate(factors, 1):
        cells = [str(i), f"`{f.name}`", f.meaning, f.unit, ", ".join(f.sources), f.formula]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    DOC.write_text(render_markdown(), encoding="utf-8")
    print(f"wrote {DOC} ({len(load_factors())} factors)", file=sys.stderr)

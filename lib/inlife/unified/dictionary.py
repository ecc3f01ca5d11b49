"""The data dictionary (lib/inlife/unified/factors.yaml): load, expand templates, render Markdown.

    python -m inlife.unified.dictionary      # rewrites docs/data_dictionary.md
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from inlife.errors import ConfigError
from inlife.yamlschema import Schema, check, read_mapping

DICTIONARY = Path(__file__).with_name("factors.yaml")
DOC = Path(__file__).resolve().parents[3] / "docs" / "data_dictionary.md"


@dataclass(frozen=True)
class Factor:
    name: str
    meaning: str
    unit: str
    sources: tuple[str, ...]
    formula: str


class _Factor(Schema):
    name: str
    meaning: str
    unit: str
    sources: tuple[str, ...]
    formula: str


class _Template(Schema):
    """Its items once for every combination of values of the dimensions named in ``template``."""
    template: tuple[str, ...] = Field(min_length=1)
    items: tuple[_Factor, ...]


class _Dictionary(Schema):
    dimensions: dict[str, list[str]]
    labels: dict[str, dict[str, str]] = {}
    factors: list[dict[str, Any]]           # a factor or a template, each checked on its own


def _raw(path: Path = DICTIONARY) -> tuple[_Dictionary, list[_Factor | _Template]]:
    """The file and its entries, every problem of them at once."""
    if path == DICTIONARY and not path.exists():
        # imported from a zip (spark-submit --py-files): read the packaged file
        from importlib.resources import files
        data = yaml.safe_load(files("inlife.unified").joinpath("factors.yaml").read_text(encoding="utf-8"))
    else:
        data = read_mapping(path, "data dictionary")
    raw = check(_Dictionary, data, path)
    entries, problems = [], []
    for i, entry in enumerate(raw.factors):
        try:
            entries.append(check(_Template if "template" in entry else _Factor, entry, path, f"factors[{i}]"))
        except ConfigError as exc:
            problem = str(exc).removeprefix(f"{path}: ")
            # an unquoted comma inside a flow mapping splits a value into a key of its own
            problems.append(problem + (" (quote values that contain commas)" if "unknown key" in problem else ""))
            continue
        unknown = [k for k in getattr(entries[-1], "template", ()) if k not in raw.dimensions]
        if unknown:
            problems.append(f"factors[{i}].template: {unknown} are not among the dimensions")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return raw, entries


def dimensions(path: Path = DICTIONARY) -> dict[str, list[str]]:
    """The lists templates expand over (call types, directions, products, window metrics)."""
    return {k: list(v) for k, v in _raw(path)[0].dimensions.items()}


def load_factors(path: Path = DICTIONARY) -> list[Factor]:
    """Every factor, templates expanded, in table order; each name once."""
    raw, entries = _raw(path)
    out: list[Factor] = []
    for entry in entries:
        if isinstance(entry, _Template):
            for combo in itertools.product(*[raw.dimensions[k] for k in entry.template]):
                values = dict(zip(entry.template, combo))
                out.extend(_factor(item, values, raw.labels) for item in entry.items)
        else:
            out.append(_factor(entry, {}, raw.labels))
    names = [f.name for f in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: factors defined more than once: {dupes}")
    return out


def _factor(item: _Factor, values: dict, labels: dict) -> Factor:
    def fill(text: str, for_name: bool) -> str:
        for k, v in values.items():
            label = labels.get(k, {}).get(v, v.lower())
            text = text.replace("{" + k + "}", v.lower() if for_name else label)
            text = text.replace("{" + k.upper() + "}", v)
        return text

    return Factor(name=fill(item.name, True), meaning=fill(item.meaning, False), unit=fill(item.unit, True),
                  sources=item.sources, formula=fill(item.formula, True))


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

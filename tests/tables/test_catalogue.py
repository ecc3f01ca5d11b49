"""The table catalogue: every table declared once, its writer and suite real, the docs generated from it, no
table name written out anywhere else, and writes partitioned as declared."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from inlife.tables.catalogue import (CATALOGUE, TAGS_DAILY, TARGETS, Declared, declare, declared, in_layer, markdown,
                                     quarantine, raw)

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("raw", "quarantine", "intermediate", "unified", "scores", "marketing", "evaluation")


def sources() -> list[str]:
    from inlife.config import load_config
    from inlife.sources import load_sources

    return load_sources(load_config("test", conf_dir=ROOT / "conf")).order


def resolve(dotted: str):
    """module.function or module.Class.method, imported."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_every_writer_is_a_function_of_the_code():
    tables = list(CATALOGUE.values()) + [declared(raw("voice_cdr")), declared(quarantine("voice_cdr"))]
    assert {d.name: callable(resolve(d.writer)) for d in tables} == {d.name: True for d in tables}


def test_validated_tables_have_a_suite_and_every_suite_a_table():
    expected = {f"{d.layer}/{d.name.split('.')[1]}.json" for d in CATALOGUE.values() if d.validated}
    expected |= {f"raw/{s}.json" for s in sources()}
    found = {str(p.relative_to(ROOT / "expectations")) for p in (ROOT / "expectations").rglob("*.json")
             if "uncommitted" not in p.parts}
    assert found == expected


def test_docs_table_list_is_generated_from_the_catalogue():
    doc = (ROOT / "docs" / "TABLES.md").read_text(encoding="utf-8")
    assert doc == markdown(sources()), "docs/TABLES.md is stale: run inlife tables --write-docs"


def test_declarations_and_lookups():
    assert declared(raw("recharges")) == Declared("raw.recharges", "the recharges extract as landed, typed, one "
                                                  "partition per batch day", ("batch_date",),
                                                  "inlife.ingest.pipeline.Ingestion.run")
    assert declared("smoke.anything") is None
    assert in_layer("unified") == ["unified.customer_view", "unified.outcomes"]
    with pytest.raises(ValueError, match="table marketing.targets is declared twice"):
        declare(TARGETS, "again", ("batch",), "inlife.marketing.targeting.run_batch")


def _names_written_out(path: Path, names: set[str]):
    """(line, text) of each string that is a table name, and of each f-string that starts one
    (f"raw.{source}"), in the module at ``path``."""
    prefix = re.compile(rf"^({'|'.join(LAYERS)})\.$")
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr) and len(node.values) > 1 and isinstance(node.values[0], ast.Constant) \
                and prefix.match(str(node.values[0].value)) and isinstance(node.values[1], ast.FormattedValue):
            yield node.lineno, f"f\"{node.values[0].value}{{...}}\""


def test_no_table_name_is_written_out_outside_the_catalogue():
    """Every name the code uses comes from inlife.tables.catalogue: no "layer.table" string and no
    f"raw.{...}" prefix elsewhere in lib/, jobs/, benchmarks/ or tests/ (the tests' own smoke.* tables and
    prose in docstrings aside)."""
    names = set(CATALOGUE) | {f(s) for f in (raw, quarantine) for s in sources()}
    found = []
    for folder in ("lib", "jobs", "benchmarks", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path in (ROOT / "lib" / "inlife" / "tables" / "catalogue.py", Path(__file__).resolve()):
                continue
            found += [f"{path.relative_to(ROOT)}:{line}: {text}" for line, text in _names_written_out(path, names)]
    assert found == []


def test_a_declared_table_is_created_with_its_partitioning(spark, tables, conf):
    """scores.tags_daily is partitioned by day: a Publication that names no partitioning creates it so."""
    from pyspark.testing import assertDataFrameEqual

    from inlife.publish import Publication

    df = spark.createDataFrame([("2024-03-05", 7, "LOW_BALANCE")], "day string, subscriber_id long, tag string")
    with Publication(tables, conf.with_overrides({"quality.enabled": False})) as pub:
        pub.add(TAGS_DAILY, df)
    assert tables.partition_columns(TAGS_DAILY) == ["day"]
    assertDataFrameEqual(tables.read(TAGS_DAILY), df)

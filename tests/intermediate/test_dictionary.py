"""The data dictionary is complete, well-formed and what the docs say."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inlife.errors import ConfigError
from inlife.intermediate.voice import VOICE_TOTALS, call_type_columns
from inlife.sources import load_sources_file
from inlife.unified.dictionary import DICTIONARY, dimensions, load_factors, render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_factor_is_documented_once_with_every_field():
    factors = load_factors()
    assert len(factors) >= 150
    for f in factors:
        assert f.name and f.meaning and f.unit and f.formula, f
        assert all(s.split(".")[0] in ("raw", "unified") for s in f.sources), f


def test_dimensions_agree_with_the_source_contract():
    contract = load_sources_file(ROOT / "conf" / "sources.yaml")
    dims = dimensions()
    assert set(dims["ct"]) == set(contract.codes["call_type"])
    assert set(dims["dir"]) == set(contract.codes["direction"])
    assert set(dims["p"]) <= set(contract.codes["vas_product"])


def test_voice_columns_are_all_in_the_dictionary():
    names = {f.name for f in load_factors()}
    assert set(call_type_columns(dimensions()["ct"])) | set(VOICE_TOTALS) <= names


def test_generated_markdown_is_up_to_date():
    doc = (ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert doc == render_markdown(), "run: python -m inlife.unified.dictionary"


def test_a_split_value_is_reported(tmp_path):
    raw = yaml.safe_load(DICTIONARY.read_text(encoding="utf-8"))
    broken = tmp_path / "factors.yaml"
    # an unquoted comma in a flow mapping makes a stray key
    text = DICTIONARY.read_text(encoding="utf-8").replace(
        'formula: "floor(months_between(month_end, activation_date))"',
        "formula: floor(months_between(month_end, activation_date))")
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"factors\.yaml: factors\[6\]\.activation_date\)\): unknown key "
                       r"\(quote values that contain commas\)$"):
        load_factors(broken)
    assert raw["factors"]

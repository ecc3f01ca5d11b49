"""The schema layer for conf/ files: every problem of a file named by file and key, with what was expected."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inlife.errors import ConfigError
from inlife.scores.segments import SegmentConfig, SegmentSpec, load_segment_config
from inlife.yamlschema import read_mapping

ROOT = Path(__file__).resolve().parents[1]


def shipped(tmp_path, change, name: str = "segments.yaml") -> Path:
    """A copy of the shipped conf/<name> with ``change`` made to it."""
    raw = yaml.safe_load((ROOT / "conf" / name).read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_file_is_read_into_its_schema_with_defaults():
    cfg = load_segment_config(path=ROOT / "conf" / "segments.yaml")
    assert (cfg.subgroups, cfg.seed, cfg.max_iterations, cfg.restarts) == (16, 42, 30, 3)
    assert cfg.segments[0] == SegmentSpec(name="local_talkers", label="本地通话群", signature="voice_local_mo_min",
                                          sign=1)
    assert isinstance(cfg, SegmentConfig) and len(cfg.features) == 18


def test_every_problem_is_named_by_file_and_key(tmp_path):
    def spoil(raw):
        raw["segments"][0]["signatur"] = raw["segments"][0].pop("signature")
        raw["segments"][1]["sign"] = 2
        raw["subgroups"] = "many"
    path = shipped(tmp_path, spoil)
    with pytest.raises(ConfigError) as err:
        load_segment_config(path=path)
    assert str(err.value) == (
        f"{path}: segments[0].signature: required, not given; segments[0].signatur: unknown key; "
        f"segments[1].sign: 2 is not one of 1 or -1; subgroups: input should be a valid integer, unable to "
        f"parse string as an integer, got 'many'")


def test_rules_across_keys_are_checked(tmp_path):
    path = shipped(tmp_path, lambda raw: raw.update(subgroups=3))
    with pytest.raises(ConfigError, match=r"segments\.yaml: subgroups \(3\) must be at least the number of "
                                          r"segments \(7\)$"):
        load_segment_config(path=path)


@pytest.mark.parametrize("text, message", [
    (None, "the segments file does not exist"),
    ("features: [a\n", "not valid YAML"),
    ("- a\n- b\n", "the top level must be a mapping of keys, got list"),
])
def test_unreadable_files_are_named(tmp_path, text, message):
    path = tmp_path / "segments.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_mapping(path, "segments file")


def test_the_value_model_is_read_through_the_schema(tmp_path):
    from inlife.scores.value import load_value_model

    def spoil(raw):
        raw["normalisation"]["method"] = "zscore"
        del raw["group"]["indicators"]["credit"]
    path = shipped(tmp_path, spoil, "value_model.yaml")
    with pytest.raises(ConfigError) as err:
        load_value_model(path=path)
    assert str(err.value) == (
        f"{path}: group: indicators must be given for exactly the criteria ['direct_value', 'indirect_value', "
        f"'credit', 'loyalty', 'influence'] (given for ['direct_value', 'indirect_value', 'influence', "
        f"'loyalty']); normalisation.method: 'zscore' is not one of 'winsorised' or 'percentile'")


def test_value_tiers_go_from_the_top(tmp_path):
    from inlife.scores.value import load_value_model

    path = shipped(tmp_path, lambda raw: raw.update(tiers=list(reversed(raw["tiers"]))), "value_model.yaml")
    with pytest.raises(ConfigError, match=r"value_model\.yaml: tiers must be listed from the top with rising "
                                          r"top_share ending at 1\.0$"):
        load_value_model(path=path)

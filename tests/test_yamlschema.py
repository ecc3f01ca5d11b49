"""The schema layer for conf/ files: every problem of a file named by file and key, with what was expected."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inlife.errors import ConfigError
from inlife.scores.segments import SegmentConfig, SegmentSpec, load_segment_config
from inlife.yamlschema import read_mapping

ROOT = Path(__file__).resolve().parents[1]


def shipped(tmp_path, change, name: str = "segments.yaml", under: str = "conf") -> Path:
    """A copy of the shipped <under>/<name> with ``change`` made to it."""
    raw = yaml.safe_load((ROOT / under / name).read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / Path(name).name
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


def test_a_model_spec_names_a_misspelt_key(tmp_path, base_conf):
    from inlife.models.spec import load_spec

    def spoil(raw):
        raw["features"]["exclude_pattern"] = raw["features"].pop("exclude_patterns")
    path = shipped(tmp_path, spoil, "models/churn.yaml")
    with pytest.raises(ConfigError) as err:
        load_spec(base_conf, path)
    assert str(err.value) == f"{path}: features.exclude_pattern: unknown key"


def test_a_model_spec_names_wrong_types(tmp_path, base_conf):
    from inlife.models.spec import load_spec

    def spoil(raw):
        raw["split"]["seed"] = "forty-two"
        raw["promotion"]["tolerance"] = -1
        raw["algorithms"]["gbt"]["maxDepth"] = [3, 4.5]
    path = shipped(tmp_path, spoil, "models/churn.yaml")
    with pytest.raises(ConfigError) as err:
        load_spec(base_conf, path)
    assert str(err.value) == (
        f"{path}: split.seed: input should be a valid integer, unable to parse string as an integer, got "
        f"'forty-two'; algorithms.gbt.maxDepth[1]: input should be a valid integer, got a number with a "
        f"fractional part, got 4.5; promotion.tolerance: input should be greater than or equal to 0, got -1")


def test_campaigns_name_a_misspelt_key(tmp_path):
    from inlife.marketing.campaigns import load_campaigns

    def spoil(raw):
        raw["campaigns"][1]["hold_out"] = raw["campaigns"][1].pop("holdout")
        raw["contact_policy"]["max_contact"] = raw["contact_policy"].pop("max_contacts")
    path = shipped(tmp_path, spoil, "campaigns.yaml")
    with pytest.raises(ConfigError) as err:
        load_campaigns(path)
    assert str(err.value) == (f"{path}: contact_policy.max_contacts: required, not given; "
                              f"contact_policy.max_contact: unknown key; campaigns[1].hold_out: unknown key")


def test_campaigns_name_wrong_types(tmp_path):
    from inlife.marketing.campaigns import load_campaigns

    def spoil(raw):
        raw["contact_policy"]["quiet_hours"]["sms"] = ["21:00", "8am"]
        raw["campaigns"][0]["capacity"]["customer_manager"] = "forty"
        raw["campaigns"][2]["cycle"] = {"every": "weekly"}
        raw["campaigns"][3]["capacity"] = {"front_desk": 5}
    path = shipped(tmp_path, spoil, "campaigns.yaml")
    with pytest.raises(ConfigError) as err:
        load_campaigns(path)
    assert str(err.value) == (
        f"{path}: contact_policy.quiet_hours.sms[1]: string should match pattern '^([01]\\d|2[0-3]):[0-5]\\d$', "
        f"got '8am'; campaigns[0].capacity.customer_manager: input should be a valid integer, unable to parse "
        f"string as an integer, got 'forty'; campaigns[2].cycle.every: 'weekly' is not one of 'monthly', 'daily' "
        f"or 'once'; campaigns[3].capacity: 'front_desk' is not one of the campaign's channels")

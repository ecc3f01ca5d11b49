"""The schema layer for conf/ files: every problem of a file named by file and key, with what was expected."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inlife.errors import ConfigError
from inlife.scores.segments import SegmentConfig, SegmentSpec, load_segment_config
from inlife.tables.catalogue import SUBSCRIBERS
from inlife.yamlschema import read_mapping

ROOT = Path(__file__).resolve().parents[1]


class Written(yaml.SafeDumper):
    """Values written out where they repeat: inlife refuses YAML aliases."""

    def ignore_aliases(self, data) -> bool:
        return True


def shipped(tmp_path, change, name: str = "segments.yaml", under: str = "conf") -> Path:
    """A copy of the shipped <under>/<name> with ``change`` made to it."""
    raw = yaml.safe_load((ROOT / under / name).read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / Path(name).name
    path.write_text(yaml.dump(raw, Dumper=Written, allow_unicode=True), encoding="utf-8")
    return path


def refused(tmp_path, change, name: str, load, under: str = "conf") -> str:
    """What ``load`` says of a changed copy of the shipped <under>/<name>: the message after the copy's path,
    which it must start with."""
    path = shipped(tmp_path, change, name, under)
    with pytest.raises(ConfigError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


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
    assert refused(tmp_path, spoil, "segments.yaml", lambda p: load_segment_config(path=p)) == (
        "segments[0].signature: required, not given; segments[0].signatur: unknown key; "
        "segments[1].sign: 2 is not one of 1 or -1; subgroups: input should be a valid integer, unable to "
        "parse string as an integer, got 'many'")


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
    assert refused(tmp_path, spoil, "value_model.yaml", lambda p: load_value_model(path=p)) == (
        "group: indicators must be given for exactly the criteria ['direct_value', 'indirect_value', "
        "'credit', 'loyalty', 'influence'] (given for ['direct_value', 'indirect_value', 'influence', "
        "'loyalty']); normalisation.method: 'zscore' is not one of 'winsorised' or 'percentile'")


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
    assert refused(tmp_path, spoil, "models/churn.yaml", lambda p: load_spec(base_conf, p)) == \
        "features.exclude_pattern: unknown key"


def test_a_model_spec_names_wrong_types(tmp_path, base_conf):
    from inlife.models.spec import load_spec

    def spoil(raw):
        raw["split"]["seed"] = "forty-two"
        raw["promotion"]["tolerance"] = -1
        raw["algorithms"]["gbt"]["maxDepth"] = [3, 4.5]
    assert refused(tmp_path, spoil, "models/churn.yaml", lambda p: load_spec(base_conf, p)) == (
        "split.seed: input should be a valid integer, got 'forty-two'; algorithms.gbt.maxDepth[1]: "
        "input should be a valid integer, got 4.5; promotion.tolerance: input should be greater than or equal "
        "to 0, got -1")


def test_campaigns_name_a_misspelt_key(tmp_path):
    from inlife.marketing.campaigns import load_campaigns

    def spoil(raw):
        raw["campaigns"][1]["hold_out"] = raw["campaigns"][1].pop("holdout")
        raw["contact_policy"]["max_contact"] = raw["contact_policy"].pop("max_contacts")
    assert refused(tmp_path, spoil, "campaigns.yaml", load_campaigns) == (
        "contact_policy.max_contacts: required, not given; contact_policy.max_contact: unknown key; campaigns[1].hold_out: unknown key")


def test_campaigns_name_wrong_types(tmp_path):
    from inlife.marketing.campaigns import load_campaigns

    def spoil(raw):
        raw["contact_policy"]["quiet_hours"]["sms"] = ["21:00", "8am"]
        raw["campaigns"][0]["capacity"]["customer_manager"] = "forty"
        raw["campaigns"][2]["cycle"] = {"every": "weekly"}
        raw["campaigns"][3]["capacity"] = {"front_desk": 5}
    assert refused(tmp_path, spoil, "campaigns.yaml", load_campaigns) == (
        "contact_policy.quiet_hours.sms[1]: string should match pattern '^([01]\\d|2[0-3]):[0-5]\\d$', "
        "got '8am'; campaigns[0].capacity.customer_manager: input should be a valid integer, got 'forty'; "
        "campaigns[2].cycle.every: 'weekly' is not one of 'monthly', 'daily' "
        "or 'once'; campaigns[3].capacity: 'front_desk' is not one of the campaign's channels")


def test_tags_name_misspelt_keys_and_wrong_types_and_keep_the_good_ones(tmp_path):
    """Evaluation stops at the first bad entry; lint collects one error per bad entry, named by its id,
    and still loads the others."""
    from inlife.rules.loading import Collector
    from inlife.rules.tags import load_tags

    raw = yaml.safe_load((ROOT / "conf" / "tags.yaml").read_text(encoding="utf-8"))
    first, second = raw["tags"][0]["id"], raw["screening"][0]["id"]

    def spoil(raw):
        raw["tags"][0]["advice"]["chanel"] = raw["tags"][0]["advice"].pop("channel")
        raw["screening"][0]["validity_months"] = "two"
    path = shipped(tmp_path, spoil, "tags.yaml")
    with pytest.raises(ConfigError) as err:
        load_tags(path)
    assert str(err.value) == f"{path}: rule {first}: tags[0].advice.chanel: unknown key"
    collector = Collector(collect=True)
    rules = load_tags(path, collector=collector)
    assert [str(e) for e in collector.errors] == [
        f"{path}: rule {first}: tags[0].advice.chanel: unknown key",
        f"{path}: rule {second}: screening[0].validity_months: input should be a valid integer, got 'two'"]
    assert [r.rule_id for r in rules] == [t["id"] for t in raw["tags"][1:] + raw["screening"][1:]]


def test_a_matrix_names_misspelt_keys_and_wrong_types(tmp_path):
    from inlife.rules.catalogue import load_catalogue
    from inlife.rules.loading import Collector
    from inlife.rules.matrices import load_dimensions, load_matrix

    raw = yaml.safe_load((ROOT / "conf" / "matrices" / "retention.yaml").read_text(encoding="utf-8"))
    first, second = raw["rules"][0]["id"], raw["rules"][1]["id"]

    def spoil(raw):
        raw["rules"][0]["precedance"] = raw["rules"][0].pop("precedence")
        raw["rules"][1]["when"] = {"value_tier": []}
    path = shipped(tmp_path, spoil, "matrices/retention.yaml")
    catalogue, dimensions = (load_catalogue(ROOT / "conf/policies.yaml"),
                             load_dimensions(ROOT / "conf/matrices/_dimensions.yaml"))
    collector = Collector(collect=True)
    load_matrix(path, catalogue, dimensions, collector=collector)
    assert [str(e) for e in collector.errors] == [
        f"{path}: rule {first}: rules[0].precedence: required, not given; rules[0].precedance: unknown key",
        f"{path}: rule {second}: rules[1].when.value_tier: value should have at least 1 item after validation, "
        f"not 0, got []"]
    # what is wrong with the file as a whole stops it at once, in lint too
    path = shipped(tmp_path, lambda raw: raw.update(params=[86]), "matrices/retention.yaml")
    with pytest.raises(ConfigError) as err:
        load_matrix(path, catalogue, dimensions, collector=Collector(collect=True))
    assert str(err.value) == f"{path}: params: must be a mapping of keys, got [86]"


def test_the_dimensions_name_misspelt_keys_and_wrong_types(tmp_path):
    from inlife.rules.matrices import load_dimensions

    def spoil(raw):
        raw["dimensions"]["brand"]["value"] = raw["dimensions"]["brand"].pop("values")
        raw["dimensions"]["value_tier"]["values"] = "high"
    assert refused(tmp_path, spoil, "matrices/_dimensions.yaml", load_dimensions) == (
        "dimensions.brand.values: required, not given; dimensions.brand.value: "
                              "unknown key; dimensions.value_tier.values: input should be a valid list, got 'high'")


def test_the_policy_catalogue_names_misspelt_keys_and_wrong_types(tmp_path):
    from inlife.rules.catalogue import load_catalogue

    def spoil(raw):
        raw["policies"][0]["valid_form"] = raw["policies"][0].pop("valid_from")
        raw["policies"][1]["discount"] = "big"
        raw["policies"][2]["kind"] = "gift"
    assert refused(tmp_path, spoil, "policies.yaml", load_catalogue) == (
        "policies[0].valid_form: unknown key; policies[1].discount: input should be a valid number, "
        "got 'big'; policies[2].kind: 'gift' is not one of 'family_product', "
        "'bundle_01', 'new_business', 'traffic' or 'vpn'")


def test_policy_groups_name_known_policies_once(tmp_path):
    from inlife.rules.catalogue import load_catalogue

    unknown = refused(tmp_path, lambda raw: raw["groups"][1]["policies"].append("P_NOPE"), "policies.yaml",
                      load_catalogue)
    assert unknown == "group G6: unknown policies ['P_NOPE']"
    default = refused(tmp_path, lambda raw: raw["groups"].append(dict(raw["groups"][0], default="P_X")),
                      "policies.yaml", load_catalogue)
    assert default == ("groups[3]: default 'P_X' is not one of the group's policies "
                              "['P_PREPAY50_GET80', 'P_PREPAY100_GET150']")


def test_the_data_dictionary_names_misspelt_keys_and_wrong_types(tmp_path):
    from inlife.unified.dictionary import load_factors

    def spoil(raw):
        raw["factors"][2]["fromula"] = raw["factors"][2].pop("formula")
        raw["factors"][3]["sources"] = SUBSCRIBERS
        next(f for f in raw["factors"] if "template" in f)["template"] = ["ct", "direction"]
    assert refused(tmp_path, spoil, "factors.yaml", load_factors, "lib/inlife/unified") == (
        "factors[2].formula: required, not given; factors[2].fromula: unknown key (quote values "
        f"that contain commas); factors[3].sources: "
        f"input should be a valid tuple, got '{SUBSCRIBERS}'; factors[29].template: ['direction'] are not among "
        f"the dimensions")
    assert refused(tmp_path, lambda raw: raw["dimensions"].update(ct="LOCAL"), "factors.yaml", load_factors,
                   "lib/inlife/unified") == "dimensions.ct: input should be a valid list, got 'LOCAL'"


def test_an_empty_key_means_its_default_and_numbers_are_not_read_from_text():
    """``params:`` with its entries commented out is null in YAML: the key's default, as if not written; a
    key whose default is null keeps it; a required key cannot be null; '0.1' is text, not a number."""
    from pydantic import StrictFloat

    from inlife.yamlschema import Schema, check

    class Part(Schema):
        items: list[int] = [1]
        note: str | None = "x"
        gone: str | None = None
        share: StrictFloat = 0.5
        need: int

    assert check(Part, {"items": None, "note": None, "gone": None, "need": 3}, "f.yaml") == \
        Part(items=[1], note="x", gone=None, share=0.5, need=3)
    with pytest.raises(ConfigError) as err:
        check(Part, {"need": None, "share": "0.1"}, "f.yaml")
    assert str(err.value) == ("f.yaml: share: input should be a valid number, got '0.1'; need: input should be a "
                              "valid integer, got None")


def test_a_value_a_union_refuses_is_one_problem_and_keys_keep_their_hyphens():
    from typing import Literal

    from inlife.yamlschema import Schema, check

    class Part(Schema):
        columns: Literal["all"] | list[str] = "all"
        sizes: dict[str, int] = {}

    with pytest.raises(ConfigError) as err:
        check(Part, {"columns": 5, "sizes": {"2024-01": "x"}}, "f.yaml")
    assert str(err.value) == ("f.yaml: columns: 5 is not one of 'all' or input should be a valid list, got 5; "
                              "sizes.2024-01: input should be a valid integer, unable to parse string as an "
                              "integer, got 'x'")

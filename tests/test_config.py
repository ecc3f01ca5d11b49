"""Configuration: overlays, variables and --set, each checked against base.yaml with errors naming the source."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inlife.config import load_config
from inlife.errors import ConfigError
from inlife.tables.catalogue import BILLING, VOICE_CDR

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def conf_dir(tmp_path):
    """A copy of the real conf/ to edit freely."""
    d = tmp_path / "conf"
    d.mkdir()
    for f in (ROOT / "conf").glob("*.yaml"):
        (d / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    return d


def write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_default_env_is_local_and_paths_resolve_under_the_project(conf_dir):
    conf = load_config(conf_dir=conf_dir, environ={})
    assert conf.env == "local"
    assert conf.get("spark.master") == "local[*]"
    assert conf.path("lake.root") == str(conf_dir.parent / "lakehouse")
    assert conf.path("mlflow.artifact_location") == str(conf_dir.parent / "mlartifacts")


def test_overlay_then_environment_then_set_in_that_order(conf_dir):
    environ = {"INLIFE_SPARK__SHUFFLE_PARTITIONS": "16", "INLIFE_SPARK__DRIVER_MEMORY": "6g",
               "INLIFE_CONF_DIR": "ignored: not a config key"}
    conf = load_config("test", ["spark.shuffle_partitions=3", "lake.layers=[raw, scores]"], conf_dir, environ)
    assert conf.get("spark.master") == "local[2]"          # from test.yaml
    assert conf.get("spark.driver_memory") == "6g"         # variable beats overlay
    assert conf.get("spark.shuffle_partitions") == 3       # --set beats variable, typed by YAML
    assert conf.get("lake.layers") == ["raw", "scores"]


def test_unknown_key_in_overlay_names_key_and_file(conf_dir):
    write(conf_dir / "local.yaml", {"spark": {"drivermemory": "8g"}})
    with pytest.raises(ConfigError) as err:
        load_config("local", conf_dir=conf_dir, environ={})
    msg = str(err.value)
    assert "local.yaml" in msg and "spark.drivermemory" in msg and "driver_memory" in msg


def test_wrong_type_names_key_file_and_types(conf_dir):
    write(conf_dir / "local.yaml", {"spark": {"shuffle_partitions": "eight"}})
    with pytest.raises(ConfigError, match=r"local\.yaml: 'spark\.shuffle_partitions' must be int .* got str 'eight'"):
        load_config("local", conf_dir=conf_dir, environ={})


def test_bool_is_not_an_int_and_int_is_a_float(conf_dir):
    with pytest.raises(ConfigError, match="must be int"):
        load_config("local", ["spark.shuffle_partitions=true"], conf_dir, environ={})
    conf = load_config("local", ["ingest.max_bad_row_rate=1"], conf_dir, environ={})
    assert conf.get("ingest.max_bad_row_rate") == 1


def test_missing_required_value_names_key(conf_dir):
    with pytest.raises(ConfigError, match=r"required value\(s\) not set: lake\.root"):
        load_config("cluster", conf_dir=conf_dir, environ={})
    conf = load_config("cluster", conf_dir=conf_dir, environ={"INLIFE_LAKE__ROOT": "hdfs:///lake"})
    assert conf.path("lake.root") == "hdfs:///lake"


def test_bad_environment_variable_and_set_are_named(conf_dir):
    with pytest.raises(ConfigError, match="environment variable INLIFE_SPARK__NOPE: unknown key 'spark.nope'"):
        load_config("local", conf_dir=conf_dir, environ={"INLIFE_SPARK__NOPE": "1"})
    with pytest.raises(ConfigError, match=r"--set lake\.rot='x': unknown key 'lake\.rot'"):
        load_config("local", ["lake.rot=x"], conf_dir, environ={})
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config("local", ["lake.root"], conf_dir, environ={})


def test_open_sections_take_free_keys_and_merge(conf_dir):
    write(conf_dir / "local.yaml", {"lake": {"locations": {VOICE_CDR: "/data/cdr"}}})
    conf = load_config("local", [f"lake.locations.{BILLING}=/data/bill"], conf_dir, environ={})
    # below an open section the rest of a dotted key is one key; the overlay's entry survives the --set
    assert conf.get("lake.locations") == {VOICE_CDR: "/data/cdr", BILLING: "/data/bill"}


def test_a_dotted_spark_setting_reaches_spark_conf_whole(conf_dir):
    conf = load_config("local", ["spark.conf.spark.sql.ansi.enabled=false"], conf_dir, environ={})
    assert conf.get("spark.conf") == {"spark.sql.ansi.enabled": False}


def test_an_environment_is_a_name_not_a_path(conf_dir, tmp_path):
    write(tmp_path / "x.yaml", {"lake": {"root": "/elsewhere"}})
    with pytest.raises(ConfigError, match=r"environment '\.\./x': an environment is the name of a file in .*"
                                          r"\(have: cluster, local, test\), not a path"):
        load_config("../x", conf_dir=conf_dir, environ={})


def test_an_overlay_that_is_not_utf8_is_named(conf_dir):
    (conf_dir / "local.yaml").write_bytes("lake:\n  root: /数据\n".encode("gbk"))
    with pytest.raises(ConfigError, match=r"local.yaml: the configuration file is not UTF-8 \(byte 15: .*\); save it as UTF-8"):
        load_config("local", conf_dir=conf_dir, environ={})


def test_yaml_aliases_and_oversized_files_are_refused(conf_dir):
    from inlife.yamlschema import MAX_YAML_BYTES, read_mapping

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b]\n"
    (conf_dir / "tags.yaml").write_text(bomb, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tags.yaml: not valid YAML: an alias \(\*a\) is not allowed here: "
                                          r"write the value out\n  in .*line 2, column 8"):
        read_mapping(conf_dir / "tags.yaml")
    (conf_dir / "tags.yaml").write_text("a: " + "x" * MAX_YAML_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tags.yaml: the file is 1,048,580 bytes, more than the 1,048,576 a "
                                          r"hand-written file needs"):
        read_mapping(conf_dir / "tags.yaml")


def test_a_maven_repository_must_be_https(conf_dir, tmp_path):
    from inlife.session import _delta_spark_settings

    sets = [f"lake.jars_dir={tmp_path / 'none'}", "lake.engine=auto"]
    conf = load_config("local", [*sets, "lake.maven_repository=http://repo.example/maven2"], conf_dir, environ={})
    with pytest.raises(ConfigError, match=r"lake.maven_repository 'http://repo.example/maven2': the Delta Lake jars "
                                          r"are code run by every executor: fetch them over https://"):
        _delta_spark_settings(conf)
    conf = load_config("local", [*sets, "lake.maven_repository=https://repo.example/maven2"], conf_dir, environ={})
    assert _delta_spark_settings(conf)["spark.jars.repositories"] == "https://repo.example/maven2"


@pytest.mark.parametrize("hours, floor", [(0, 24), (-5, 0)])
def test_vacuum_refuses_a_retention_below_the_floor(spark, conf, hours, floor):
    from inlife.errors import TableError
    from inlife.tables import Tables

    tables = Tables(spark, conf.with_overrides({"lake.vacuum_floor_hours": floor}))
    tables.overwrite("smoke.vacuumed", spark.createDataFrame([(1,)], "id long"))
    with pytest.raises(TableError, match=rf"vacuum smoke.vacuumed: a retention of {hours} hours is below "
                                         rf"lake.vacuum_floor_hours \({floor}\): files a running job still reads"):
        tables.vacuum("smoke.vacuumed", hours)


def test_unknown_environment_and_bad_yaml(conf_dir):
    with pytest.raises(ConfigError, match=r"no such environment 'prod' \(have: cluster, local, test"):
        load_config("prod", conf_dir=conf_dir, environ={})
    (conf_dir / "local.yaml").write_text("spark: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="local.yaml: not valid YAML"):
        load_config("local", conf_dir=conf_dir, environ={})


def test_with_overrides_is_validated(base_conf):
    assert base_conf.with_overrides({"spark.shuffle_partitions": 2}).get("spark.shuffle_partitions") == 2
    with pytest.raises(ConfigError, match="unknown key 'spark.nope'"):
        base_conf.with_overrides({"spark.nope": 1})


def test_a_source_without_a_natural_key_is_refused_naming_it(conf_dir):
    """The duplicate check keys on the natural key: an empty one would make a whole batch one key."""
    from inlife.sources import load_sources_file

    path = conf_dir / "sources.yaml"
    contract = yaml.safe_load(path.read_text(encoding="utf-8"))
    contract["sources"]["voice_cdr"]["natural_key"] = []
    write(path, contract)
    with pytest.raises(ConfigError, match=r"sources\.yaml: sources\.voice_cdr\.natural_key: empty"):
        load_sources_file(path)

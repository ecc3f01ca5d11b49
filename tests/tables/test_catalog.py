"""Tables by name in the session catalog: registered as jobs write them, idempotent, following locations."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.tables import Tables

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "id long, month string, amount double"


@pytest.fixture
def catalogued(spark, conf):
    from inlife.session import delta_spark_available

    assert delta_spark_available(spark), "the Delta Lake jars are not loaded: run `make jars`"
    return Tables(spark, conf.with_overrides({"lake.catalog": True, "lake.engine": "delta-spark"}))


def test_written_tables_are_queryable_by_name(catalogued, spark):
    df = spark.createDataFrame([(1, "2024-02", 1.5), (2, "2024-03", 2.5)], SCHEMA)
    catalogued.overwrite("smoke.by_name", df, partition_by=["month"])
    assertDataFrameEqual(spark.sql("select * from smoke.by_name where month = '2024-03'"),
                         spark.createDataFrame([(2, "2024-03", 2.5)], SCHEMA))
    # later commits are seen through the name, and registering again changes nothing
    catalogued.overwrite_partitions("smoke.by_name", spark.createDataFrame([(3, "2024-03", 9.0)], SCHEMA))
    assert catalogued.register("smoke.by_name")
    assertDataFrameEqual(spark.table("smoke.by_name"),
                         spark.createDataFrame([(1, "2024-02", 1.5), (3, "2024-03", 9.0)], SCHEMA))


def test_registration_follows_the_location(catalogued, spark, conf, tmp_path):
    catalogued.overwrite("smoke.moving", spark.createDataFrame([(1, "2024-01", 1.0)], SCHEMA))
    moved = Tables(spark, catalogued.conf.with_overrides({"lake.locations": {"smoke.moving": str(tmp_path / "m")}}))
    moved.overwrite("smoke.moving", spark.createDataFrame([(2, "2024-02", 2.0)], SCHEMA))
    assertDataFrameEqual(spark.table("smoke.moving"), spark.createDataFrame([(2, "2024-02", 2.0)], SCHEMA))
    # the old location's data is untouched (the catalog entry was external)
    assertDataFrameEqual(catalogued.read("smoke.moving"), spark.createDataFrame([(1, "2024-01", 1.0)], SCHEMA))
    assert catalogued.register_all() == ["smoke.moving"]
    assertDataFrameEqual(spark.table("smoke.moving"), spark.createDataFrame([(1, "2024-01", 1.0)], SCHEMA))


def test_no_catalog_without_delta_spark(spark, conf):
    tables = Tables(spark, conf.with_overrides({"lake.catalog": True, "lake.engine": "delta-rs"}))
    tables.overwrite("smoke.unlisted", spark.createDataFrame([(1, "2024-01", 1.0)], SCHEMA))
    assert not tables.register("smoke.unlisted")
    assert not spark.catalog.tableExists("smoke.unlisted")


@pytest.mark.slow
def test_the_metastore_keeps_tables_for_the_next_process(tmp_path):
    """A job registers its table in the project's embedded metastore; another process, Spark's SQL shell
    through spark-sql.sh, queries it by name."""
    sets = [f"lake.root={tmp_path / 'lake'}", f"lake.metastore_dir={tmp_path / 'metastore'}", "lake.catalog=true"]
    env = dict(os.environ, INLIFE_CONF_DIR=str(ROOT / "conf"))
    job = subprocess.run([sys.executable, "-m", "inlife.cli", "smoke", "--env", "test", "--rows", "10",
                          *[a for s in sets for a in ("--set", s)]],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert job.returncode == 0, job.stderr[-3000:]
    assert (tmp_path / "metastore" / "derby").is_dir()
    shell = subprocess.run([str(ROOT / "spark-sql.sh"), "--env", "test", *[a for s in sets for a in ("--set", s)],
                            "-e", "select month, tag, count(*) from smoke.events group by month, tag order by month"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert shell.returncode == 0, shell.stderr[-3000:]
    assert shell.stdout.splitlines() == ["2024-01\tfirst\t10", "2024-02\tsecond\t10", "2024-03\tfirst\t10"]

"""Session helpers: shuffle partitions sized from what a build reads."""
from __future__ import annotations

from pathlib import Path

import pytest

from inlife.session import input_bytes, shuffle_partitions_for


def test_input_bytes_are_the_data_files_read(spark, tables):
    df = spark.createDataFrame([(i, f"2024-01-0{1 + i % 2}", "x" * (i % 50)) for i in range(2000)],
                               "id long, batch_date string, s string")
    tables.overwrite("smoke.sized", df, partition_by=["batch_date"])
    root = Path(tables.location("smoke.sized"))
    day1 = sum(f.stat().st_size for f in (root / "batch_date=2024-01-01").glob("*.parquet"))
    both = sum(f.stat().st_size for f in root.glob("batch_date=*/*.parquet"))
    assert 0 < day1 < both
    # only the files read count: delta-rs hands Spark the pruned file list, delta-spark prunes its file
    # index while optimizing (Delta's PrepareDeltaScan)
    assert input_bytes(tables.read("smoke.sized", partitions={"batch_date": "2024-01-01"})) == day1
    assert input_bytes(tables.read("smoke.sized")) == both
    # rows that are no file count nothing (Spark's estimate for them is a placeholder up to Long.MaxValue)
    assert input_bytes(df) == 0
    assert input_bytes(tables.read("smoke.sized").unionByName(df)) == both


def test_shuffle_partitions_grow_with_the_input_and_come_back(spark):
    before = spark.conf.get("spark.sql.shuffle.partitions")
    with shuffle_partitions_for(spark, 10 * 2**20 + 1, 2**20) as n:
        assert n == 11 and spark.conf.get("spark.sql.shuffle.partitions") == "11"
    assert spark.conf.get("spark.sql.shuffle.partitions") == before
    # never fewer than configured (a cluster's count stays)
    with shuffle_partitions_for(spark, 1, 2**20) as n:
        assert n == int(before)
    with shuffle_partitions_for(spark, 1, 2**20, at_least=int(before) + 5) as n:   # a wide build's row count
        assert n == int(before) + 5
    with pytest.raises(RuntimeError), shuffle_partitions_for(spark, 10 * 2**20, 2**20):
        raise RuntimeError("a failed build")
    assert spark.conf.get("spark.sql.shuffle.partitions") == before
    with pytest.raises(ValueError, match="input_bytes_per_shuffle_partition must be a positive"):
        with shuffle_partitions_for(spark, 1, 0):
            pass


def test_column_functions_do_not_record_python_call_sites(spark):
    """DataFrame debugging off (session.SESSION_CONF): a pyspark.sql.functions call makes one py4j round trip,
    not six plus a stack walk; the generator and the view build make tens of thousands of them."""
    from pyspark.errors.utils import is_debugging_enabled
    from pyspark.sql import functions as F

    assert spark.sparkContext.getConf().get("spark.python.sql.dataFrameDebugging.enabled") == "false"
    assert not is_debugging_enabled()
    gateway = spark.sparkContext._gateway
    client = gateway._gateway_client
    calls = []
    send = client.send_command
    client.send_command = lambda command, *a, **k: (calls.append(command), send(command, *a, **k))[1]
    try:
        F.lit(1) + F.col("x")
    finally:
        client.send_command = send
    assert len(calls) <= 8, f"{len(calls)} py4j round trips for lit(1) + col('x')"


def test_spark_submit_gets_the_jars_or_the_packages(base_conf, tmp_path):
    """spark-submit.sh's Delta Lake options: the fetched jars by --jars (they reach the executors), or
    --packages from lake.maven_repository when there are none; nothing under delta-rs."""
    from importlib.metadata import version

    from inlife.session import submit_arguments

    jars = tmp_path / "jars"
    jars.mkdir()
    for name in ("delta-storage-x.jar", "delta-spark_2.13-x.jar"):
        (jars / name).write_bytes(b"")
    delta_sql = ["--conf", "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
                 "--conf", "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"]
    conf = base_conf.with_overrides({"lake.jars_dir": str(jars), "lake.catalog": True})
    assert submit_arguments(conf) == ["--jars", f"{jars}/delta-spark_2.13-x.jar,{jars}/delta-storage-x.jar",
                                      *delta_sql]
    repo = base_conf.with_overrides({"lake.jars_dir": str(tmp_path / "none"),
                                     "lake.maven_repository": "file:///srv/maven"})
    assert submit_arguments(repo) == ["--packages", f"io.delta:delta-spark_2.13:{version('delta-spark')}",
                                      "--repositories", "file:///srv/maven", *delta_sql]
    assert submit_arguments(base_conf.with_overrides({"lake.jars_dir": str(tmp_path / "none")})) == []
    assert submit_arguments(conf.with_overrides({"lake.engine": "delta-rs"})) == []

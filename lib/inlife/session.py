"""The one place a SparkSession is built.

Two cases:
- inlife starts Spark itself (``inlife JOB``, tests, notebooks): local mode from config — master, driver
  memory, adaptive execution, a small shuffle partition count, quiet logs;
- the driver was started by spark-submit (``./spark-submit.sh``, a cluster scheduler): the session and its
  resources are the cluster's; inlife changes nothing but the log level and the SQL settings every engine
  needs to write portable files.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from pathlib import Path

from pyspark import StorageLevel

from inlife.config import Config, resolve_path
from inlife.errors import ConfigError

LOG4J2 = Path(__file__).with_name("log4j2.properties")
# Whole-stage code generation emits methods of up to 64 KB (spark.sql.codegen.hugeMethodLimit), but the
# JVM by default never JIT-compiles a method over 8,000 bytes of bytecode: wide projections (the
# generator's, the view's) then run interpreted, several times slower. This flag lets the JIT take them.
JVM_OPTIONS = f"-Dlog4j.configurationFile=file:{LOG4J2} -XX:-DontCompileHugeMethods"
# PySpark 4's DataFrame debugging records the Python call site of every pyspark.sql.functions call (a stack
# walk and ~6 py4j round trips each), so that an ANSI error can name the line that built the expression.
# inlife builds expressions by the thousand (one generated month: 11,400 calls, 164,000 round
# trips where 50,000 do): off, as in spark-submit.sh. To have the call sites back while debugging, set
# spark.conf: {spark.python.sql.dataFrameDebugging.enabled: "true"} (it is read at session start).
SESSION_CONF = {"spark.python.sql.dataFrameDebugging.enabled": "false"}

# The level inlife caches frames at: deserialised, as Dataset.cache() does. PySpark's MEMORY_AND_DISK is
# the serialised level: every cached columnar batch is serialised when the cache is filled and deserialised
# on every scan, and ingestion scans its cache several times (write raw and quarantine, validate).
CACHE = StorageLevel.MEMORY_AND_DISK_DESER

# Settings that make data files any Delta reader understands; they are per-session SQL settings, not
# cluster resources, so they are applied under spark-submit too.
PORTABLE_SQL_CONF = {
    # INT96 timestamps are a legacy encoding; Delta readers other than Spark expect microseconds.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def under_spark_submit() -> bool:
    """True when this Python driver was launched by spark-submit (it hands us its JVM gateway)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_session(conf: Config, app_name: str | None = None, verbose: bool = False):
    """Return the session for this process, creating it from ``conf`` unless spark-submit already did."""
    from pyspark.sql import SparkSession

    # pandas-on-Spark and Arrow conversions want this set before the JVM starts.
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    sc = conf["spark"]
    name = app_name or sc["app_name"]
    if under_spark_submit():
        spark = SparkSession.builder.appName(name).getOrCreate()
        if spark.sparkContext.master.startswith("local"):
            # spark-submit.sh in local mode: apply the SQL-level local settings (resources were passed
            # on its command line).
            spark.conf.set("spark.sql.shuffle.partitions", str(sc["shuffle_partitions"]))
            spark.conf.set("spark.sql.adaptive.enabled", str(sc["adaptive"]).lower())
            spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.parallelism", str(sc["listing_tasks"]))
    else:
        builder = (
            SparkSession.builder.master(sc["master"]).appName(name)
            .config("spark.driver.memory", sc["driver_memory"])
            .config("spark.sql.shuffle.partitions", str(sc["shuffle_partitions"]))
            .config("spark.sql.adaptive.enabled", str(sc["adaptive"]).lower())
            .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
            .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", str(sc["listing_tasks"]))
            .config("spark.ui.showConsoleProgress", str(sc["show_console_progress"]).lower())
            .config("spark.ui.enabled", str(sc["ui_enabled"]).lower())
            .config("spark.sql.session.timeZone", sc["timezone"])
            # Quiet start-up: the log4j2 file sets WARN before the JVM prints anything.
            .config("spark.driver.extraJavaOptions", jvm_options(conf))
            .config("spark.executor.extraJavaOptions", jvm_options(conf))
        )
        for key, value in SESSION_CONF.items():
            builder = builder.config(key, value)
        for key, value in _delta_spark_settings(conf).items():
            builder = builder.config(key, value)
        for key, value in (sc.get("conf") or {}).items():
            builder = builder.config(key, str(value))
        spark = builder.getOrCreate()
    for key, value in PORTABLE_SQL_CONF.items():
        spark.conf.set(key, value)
    spark.sparkContext.setLogLevel("INFO" if verbose else sc["log_level"])
    return spark


def jvm_options(conf: Config) -> str:
    """The JVM flags of a session inlife starts: its own, then ``spark.jvm_options``."""
    return " ".join(x for x in (JVM_OPTIONS, conf.get("spark.jvm_options")) if x)


def delta_jars(conf: Config) -> list[str]:
    """The Delta Lake jars for a session inlife starts: ``lake.delta_spark_jars`` if given, else the jars
    ``make`` fetched into ``lake.jars_dir`` (none when that folder is absent)."""
    lake = conf["lake"]
    if lake["delta_spark_jars"]:
        return [resolve_path(j, conf.project_root) for j in lake["delta_spark_jars"]]
    folder = Path(conf.path("lake.jars_dir"))
    return sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []


def delta_package(conf: Config) -> str:
    """Maven coordinates of delta-spark for ``lake.maven_repository``: the installed pip release's."""
    from importlib.metadata import version

    return conf.get("lake.delta_spark_package") or f"io.delta:delta-spark_2.13:{version('delta-spark')}"


def _delta_spark_settings(conf: Config) -> dict[str, str]:
    """Delta Lake jars, extension and catalog for a session inlife starts, when the jars are at hand.

    Nothing is downloaded at run time unless ``lake.maven_repository`` names a repository."""
    lake = conf["lake"]
    if lake["engine"] == "delta-rs":
        return {}
    settings: dict[str, str] = {}
    jars = delta_jars(conf)
    if jars:
        settings["spark.jars"] = ",".join(jars)
    elif lake["maven_repository"]:
        if not str(lake["maven_repository"]).startswith(("https://", "file:")):
            raise ConfigError(f"lake.maven_repository {lake['maven_repository']!r}: the Delta Lake jars are code run "
                              f"by every executor: fetch them over https:// (or from a file: folder)")
        settings["spark.jars.packages"] = delta_package(conf)
        settings["spark.jars.repositories"] = lake["maven_repository"]
    else:
        return {}
    settings["spark.sql.extensions"] = "io.delta.sql.DeltaSparkSessionExtension"
    settings["spark.sql.catalog.spark_catalog"] = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    settings["spark.databricks.delta.snapshotPartitions"] = str(lake["snapshot_partitions"])
    if lake["catalog"]:
        settings.update(_metastore_settings(conf))
    return settings


def submit_arguments(conf: Config) -> list[str]:
    """spark-submit options that bring Delta Lake to the driver and the executors (spark-submit.sh): the
    fetched jars by ``--jars``, or ``--packages`` from ``lake.maven_repository``; none under delta-rs or
    without either. The catalog stays the cluster's own."""
    settings = _delta_spark_settings(conf.with_overrides({"lake.catalog": False}))
    settings.pop("spark.databricks.delta.snapshotPartitions", None)     # a local-mode setting: the cluster's own
    args = []
    if "spark.jars" in settings:
        args += ["--jars", settings.pop("spark.jars")]
    if "spark.jars.packages" in settings:
        args += ["--packages", settings.pop("spark.jars.packages"),
                 "--repositories", settings.pop("spark.jars.repositories")]
    for key, value in settings.items():
        args += ["--conf", f"{key}={value}"]
    return args


def sql_shell_arguments(conf: Config) -> list[str]:
    """``spark-sql`` options for the catalog and the jars that sessions inlife starts use (spark-sql.sh)."""
    settings = _delta_spark_settings(conf)
    args = ["--jars", settings.pop("spark.jars")] if "spark.jars" in settings else []
    for key, value in settings.items():
        args += ["--conf", f"{key}={value}"]
    return args


def _metastore_settings(conf: Config) -> dict[str, str]:
    """An embedded Hive metastore under ``lake.metastore_dir``, so tables registered by one job are there by
    name for the next job, a notebook or ``spark-sql`` run from the project folder."""
    folder = Path(conf.path("lake.metastore_dir"))
    folder.mkdir(parents=True, exist_ok=True)   # else Derby writes its log to the console
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder / 'derby'};create=true",
        # Derby writes its log beside the database, not into the working folder
        "spark.driver.extraJavaOptions": f"{jvm_options(conf)} -Dderby.stream.error.file={folder / 'derby.log'}",
    }


def delta_spark_available(spark) -> bool:
    """Whether the Delta Lake Spark classes are on this session's classpath."""
    try:
        loader = spark._jvm.java.lang.Thread.currentThread().getContextClassLoader()
        spark._jvm.java.lang.Class.forName("io.delta.sql.DeltaSparkSessionExtension", True, loader)
        return True
    except Exception:  # py4j raises its own error type for ClassNotFoundException
        return False


def fresh_session(spark):
    """A new session on the same SparkContext with the same SQL settings.

    Spark 4.0: once a session has used ``DataFrame.observe`` (the generator counts rows that way), MLlib
    fails in it with "Task not serializable: ObservationManager"; a new session object has none."""
    new = spark.newSession()
    for key, value in spark.conf.getAll.items():
        if key.startswith("spark.sql."):
            try:
                new.conf.set(key, value)
            except Exception:  # static settings are shared through the SparkContext already
                pass
    return new


def release_shuffle_files(spark) -> None:
    """Let Spark delete the shuffle files (and checkpointed blocks) of plans no longer referenced, now rather
    than at its next periodic driver GC (``spark.cleaner.periodicGC.interval``, 30 min): its ContextCleaner
    removes them only once the JVM has collected the plans. At 10M subscribers a pass of voice CDR leaves
    ~8.5 GB of them, and the previous pass's files were still on disk while the next one wrote its own."""
    import gc

    gc.collect()                 # py4j then drops the JVM objects the Python side held
    spark._jvm.System.gc()


def input_bytes(df) -> int:
    """Bytes of the data files a frame reads, from the file scans in its plan (no job runs). Other leaves
    (local rows, checkpoints) count nothing: their size estimate is a placeholder, up to Long.MaxValue.
    Files pruned by partition are not counted where the reader pruned them before planning, as the
    delta-rs engine does."""
    leaves = df._jdf.queryExecution().optimizedPlan().collectLeaves()
    total = 0
    for i in range(leaves.length()):
        leaf = leaves.apply(i)
        if leaf.getClass().getSimpleName() == "LogicalRelation":
            total += int(leaf.relation().sizeInBytes())
    return total


@contextmanager
def shuffle_partitions_for(spark, nbytes: int, bytes_per_partition: int, at_least: int = 0):
    """Within the block, ``spark.sql.shuffle.partitions`` is at least ``nbytes / bytes_per_partition`` (and
    ``at_least``: a wide build sets it from its row count, as compressed input bytes understate its rows).

    Adaptive execution merges small shuffle partitions but never splits large ones, so a count fixed for
    small local runs makes each partition grow with the data: a month of 10M subscribers' CDR in 8 partitions
    put 0.5-0.8 GiB in each cached block of the calling circle, which no longer fit in memory and spilled on
    every PageRank iteration. The configured count stays when it is larger (a cluster's)."""
    if bytes_per_partition <= 0:
        raise ValueError(f"spark.input_bytes_per_shuffle_partition must be a positive number of bytes, "
                         f"not {bytes_per_partition}")
    before = spark.conf.get("spark.sql.shuffle.partitions")
    wanted = max(int(before), math.ceil(nbytes / bytes_per_partition), at_least)
    spark.conf.set("spark.sql.shuffle.partitions", str(wanted))
    try:
        yield wanted
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)


@contextmanager
def adaptive_execution_off(spark):
    """Within the block, adaptive query execution is off: plans keep the partitioning they were given, and a
    checkpoint of a hash-partitioned frame reports that partitioning (under adaptive execution it reports
    none, so every join on it shuffles it again). For loops over the same large frame, such as PageRank.
    The setting is the session's: with run.parallel_tables > 1, tables planned in other threads meanwhile also
    run without it (same results, without adaptive coalescing or skew handling)."""
    before = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        yield
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", before)

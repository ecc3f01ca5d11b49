"""Shared fixtures: one Spark session for the whole run, a fresh lake and MLflow store per test."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Executors and the driver use this interpreter; GX must not phone home.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
for name in [n for n in os.environ if n.startswith("INLIFE_")]:
    del os.environ[name]  # the developer's own overrides must not leak into tests
CONTACT_KEY = "inlife-tests-contact-key"
os.environ["INLIFE_CONTACT_KEY"] = CONTACT_KEY    # conf campaigns.contact_key_env


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("inlife")


@pytest.fixture(scope="session")
def base_conf(session_tmp):
    from inlife.config import load_config

    return load_config("test", conf_dir=ROOT / "conf", overrides=[
        f"lake.root={session_tmp / 'lake'}",
        f"landing.root={session_tmp / 'landing'}",
        f"truth.root={session_tmp / 'truth'}",
        f"mlflow.tracking_uri=sqlite:///{session_tmp / 'mlflow.db'}",
        f"mlflow.artifact_location={session_tmp / 'mlartifacts'}",
        f"quality.data_docs_dir={session_tmp / 'data_docs'}",
        f"campaigns.exports_root={session_tmp / 'exports'}",
    ])


@pytest.fixture(scope="session")
def spark(base_conf):
    from inlife.session import build_session

    spark = build_session(base_conf, app_name="inlife-tests")
    yield spark
    spark.stop()


@pytest.fixture
def conf(base_conf, tmp_path):
    """Configuration with a lake, landing area and stores of this test's own, on the delta-rs engine.

    A test's tables are tiny, and a delta-spark commit costs about a second of Spark jobs whatever the size:
    tests of transforms and jobs run on delta-rs, while the session keeps the Delta jars so that a test
    may ask for delta-spark (the engine contract, atomicity, catalog and interoperability tests run both
    engines; the end-to-end module reads the demo's tables with delta-spark)."""
    return base_conf.with_overrides({
        "lake.engine": "delta-rs",
        "lake.root": str(tmp_path / "lake"),
        "landing.root": str(tmp_path / "landing"),
        "truth.root": str(tmp_path / "truth"),
        "quality.data_docs_dir": str(tmp_path / "data_docs"),
        "campaigns.exports_root": str(tmp_path / "exports"),
    })


@pytest.fixture
def tables(spark, conf):
    from inlife.tables import Tables

    return Tables(spark, conf)


# Modules whose fixtures take minutes go first: with pytest-xdist (`make test` runs two workers) a worker
# takes a whole file at a time in collection order, so a long file that came last would run alone at the end.
FIRST = ("test_end_to_end.py",)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: 0 if item.path.name in FIRST else 1)   # stable: keeps the order within each

"""Set-up: `make jars` fetches the Delta Lake jars with Maven, or says in one line why not and goes on; a
session without the jars runs on delta-rs."""
from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_jars(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "jars", f"PY={sys.executable}", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_the_jars_are_those_of_the_pinned_release():
    jars = sorted(p.name for p in (ROOT / "jars").glob("*.jar"))
    v = version("delta-spark")
    assert jars == [f"delta-spark_2.13-{v}.jar", f"delta-storage-{v}.jar"]


def test_without_maven_set_up_says_so_and_goes_on():
    before = sorted((ROOT / "jars").glob("*.jar"))
    out = make_jars("MVN=inlife-no-such-maven")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Delta Lake jars not fetched: mvn is not installed (apt-get install maven, "
                                       "then make jars); the delta-rs engine will be used"]
    assert sorted((ROOT / "jars").glob("*.jar")) == before          # what was fetched before stays


def test_when_maven_cannot_resolve_set_up_says_so_and_goes_on(tmp_path):
    """Offline, with an empty local repository: nothing can resolve."""
    before = sorted((ROOT / "jars").glob("*.jar"))
    out = make_jars(f"MVN=mvn -o -Dmaven.repo.local={tmp_path / 'empty'}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"Delta Lake jars not fetched: Maven could not resolve "
                                       f"io.delta:delta-spark_2.13:{version('delta-spark')} (build/jars.log); "
                                       f"the delta-rs engine will be used"]
    assert sorted((ROOT / "jars").glob("*.jar")) == before
    assert not (ROOT / "jars.tmp").exists()


@pytest.mark.slow
def test_auto_picks_delta_rs_where_the_jars_are_missing(tmp_path):
    env = dict(os.environ, INLIFE_CONF_DIR=str(ROOT / "conf"))
    out = subprocess.run([sys.executable, "-m", "inlife.cli", "smoke", "--env", "test", "--rows", "10",
                          "--set", f"lake.root={tmp_path / 'lake'}", "--set", f"lake.jars_dir={tmp_path / 'none'}"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "smoke: smoke.events ok at version 1 (delta-rs engine)" in out.stdout

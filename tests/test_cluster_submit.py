"""./spark-submit.sh against a real standalone cluster started from the installed pyspark."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import deltalake
import pyspark
import pytest

ROOT = Path(__file__).resolve().parents[1]
SPARK_HOME = os.path.dirname(pyspark.__file__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.3)
    return False


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A master and one worker (1 core, 1 GiB) on 127.0.0.1; stopped after the module."""
    logs = tmp_path_factory.mktemp("spark-standalone")
    env = dict(os.environ, SPARK_HOME=SPARK_HOME, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               SPARK_WORKER_DIR=str(logs / "work"), SPARK_LOG_DIR=str(logs))
    port, ui, wui = _free_port(), _free_port(), _free_port()
    spark_class = os.path.join(SPARK_HOME, "bin", "spark-class")
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(ui)],
                              env=env, stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    procs = [master]
    try:
        assert _wait_port(port, 60), f"master did not start: {(logs / 'master.log').read_text()[-2000:]}"
        url = f"spark://127.0.0.1:{port}"
        worker = subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                   "--cores", "1", "--memory", "1g", "--webui-port", str(wui), url],
                                  env=env, stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        procs.append(worker)
        deadline = time.time() + 60
        while "Successfully registered with master" not in (logs / "worker.log").read_text():
            assert time.time() < deadline, f"worker did not register: {(logs / 'worker.log').read_text()[-2000:]}"
            time.sleep(0.5)
        yield url, env
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, 15)
                p.wait(20)
            except Exception:
                os.killpg(p.pid, 9)


@pytest.mark.slow
def test_submit_smoke_job_to_standalone_cluster(standalone, tmp_path):
    url, env = standalone
    lake = tmp_path / "lake"
    out = subprocess.run(
        [str(ROOT / "spark-submit.sh"), "--env", "test", "--master", url,
         "--executor-memory", "768m", "--conf", "spark.ui.enabled=false",
         "--set", f"lake.root={lake}", "smoke", "--rows", "2000"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"spark-submit failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert "smoke: smoke.events ok at version 1 (delta-spark engine)" in out.stdout
    # the executors (on the worker) wrote the files; the table is a real Delta table
    dt = deltalake.DeltaTable(str(lake / "smoke" / "events"))
    rows = dt.to_pyarrow_table().to_pylist()
    assert len(rows) == 3 * 2000
    assert {(r["month"], r["tag"]) for r in rows} == {("2024-01", "first"), ("2024-02", "second"),
                                                      ("2024-03", "first")}
    # and the job ran on the cluster, not in local mode: an executor of this app ran in the worker's folder
    assert f"(master {url})" in out.stdout
    assert list(Path(env["SPARK_WORKER_DIR"]).glob("app-*/0/stderr"))
    # the Delta Lake jars that make fetched reached the executor through spark-submit.sh's --jars
    shipped = sorted(p.name for p in Path(env["SPARK_WORKER_DIR"]).glob("app-*/0/*.jar"))
    assert shipped == sorted(p.name for p in (ROOT / "jars").glob("*.jar")) and shipped


def test_submit_rejects_unknown_job():
    out = subprocess.run([str(ROOT / "spark-submit.sh"), "no_such_job"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert "no job 'no_such_job'" in out.stderr

"""The entry point: job lookup, argument and config errors as one line, a job run end to end."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import deltalake

from inlife.cli import main

ROOT = Path(__file__).resolve().parents[1]
INLIFE = [sys.executable, "-m", "inlife.cli"]


def run_cli(*args):
    return subprocess.run([*INLIFE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_lists_jobs():
    out = run_cli("--list")
    assert out.returncode == 0
    assert "smoke" in out.stdout and "demo" in out.stdout


def test_unknown_job_is_one_line_and_non_zero():
    out = run_cli("nope")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == ["inlife: nope: no job named 'nope' (jobs: "
                                               + out.stderr.split("(jobs: ")[1].strip()]


def test_config_error_names_key_before_any_spark_starts():
    out = run_cli("smoke", "--set", "spark.driver_memory=4", "--env", "test")
    assert out.returncode == 1
    assert out.stderr.strip() == ("inlife: smoke: --set spark.driver_memory=4: 'spark.driver_memory' must be str "
                                  "(as declared in base.yaml), got int 4")


def test_bad_job_argument_is_a_usage_error():
    out = run_cli("smoke", "--rows", "many")
    assert out.returncode == 2
    assert "argument --rows: invalid int value: 'many'" in out.stderr


def test_smoke_job_runs_through_the_entry_point(spark, tmp_path, capsys):
    lake = tmp_path / "lake"
    code = main(["smoke", "--env", "test", "--set", f"lake.root={lake}", "--rows", "50"])
    assert code == 0
    assert "smoke: smoke.events ok at version 1" in capsys.readouterr().out
    rows = deltalake.DeltaTable(str(lake / "smoke" / "events")).to_pyarrow_table().to_pylist()
    assert sorted({(r["month"], r["tag"]) for r in rows}) == [("2024-01", "first"), ("2024-02", "second"),
                                                               ("2024-03", "first")]
    assert len(rows) == 150

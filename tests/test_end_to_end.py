"""End to end: the demo with validation on (generated data, three months of the whole pipeline, the churn
model trained and promoted, the channels' responses simulated, the last month evaluated, one nightly run)
into stores of its own; then what it wrote, read as its users read it: every table by another reader, the
channel exports against their manifests, and every notebook."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from tests.notebook_runs import assert_every_plot_drawn, execute_all, figures, kernel_env, tagged, text

ROOT = Path(__file__).resolve().parents[1]
SUBSCRIBERS = 400   # few, but enough labelled churners for the churn model to train
MONTHS = ["2024-01", "2024-02", "2024-03"]

# The whole pipeline three times, then four kernels with a Spark each: longer than pytest.ini's 900 s per
# test on a busy 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def demo(spark, base_conf, tmp_path_factory):
    from inlife.demo import DemoRun, run_demo
    from inlife.models import registry

    tmp = tmp_path_factory.mktemp("end_to_end")
    overrides = {
        "models.specs_dir": str(churn_spec_with_one_candidate(tmp / "models")),
        "lake.root": str(tmp / "lake"),
        "landing.root": str(tmp / "landing"),
        "truth.root": str(tmp / "planted"),
        "mlflow.tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}",
        "mlflow.artifact_location": str(tmp / "mlartifacts"),
        "quality.data_docs_dir": str(tmp / "data_docs"),
        "campaigns.exports_root": str(tmp / "exports"),
        # No planted bad rows: a daily batch of a few rows at this size can exceed the bad-row rate by
        # chance (ingestion's own tests plant them and count them).
        "generator.bad_row_rate": 0.0,
    }
    conf = base_conf.with_overrides(overrides)
    started = time.time()
    run_demo(spark, conf, DemoRun(SUBSCRIBERS, len(MONTHS), MONTHS[0], 42, ("churn",)))
    print(f"\n[end to end] demo with {SUBSCRIBERS} subscribers: {time.time() - started:.0f}s")
    assert registry.champion(registry.client(conf), "churn") is not None, "no churn champion"
    return conf, overrides


def churn_spec_with_one_candidate(folder: Path) -> Path:
    """The shipped specs (the rules name every model's columns), churn with one logistic regression instead
    of five candidates: this module shows a champion and its plots, not the model's quality
    (tests/models and benchmarks/model_quality.py do)."""
    import shutil

    import yaml

    shutil.copytree(ROOT / "conf" / "models", folder)
    spec = yaml.safe_load((folder / "churn.yaml").read_text(encoding="utf-8"))
    spec["algorithms"] = {"logistic_regression": {"regParam": [0.01], "elasticNetParam": [0.0], "maxIter": [100]}}
    (folder / "churn.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return folder


def written_tables(conf) -> list[str]:
    lake = Path(conf.path("lake.root"))
    return sorted(f"{p.parent.parent.name}.{p.parent.name}" for p in lake.glob("*/*/_delta_log"))


def test_the_demo_writes_every_declared_table(demo):
    """What the catalogue declares is what the pipeline writes: every table but the smoke job's."""
    from inlife.sources import load_sources
    from inlife.tables.catalogue import CATALOGUE, SMOKE_EVENTS, quarantine, raw

    conf = demo[0]
    sources = load_sources(conf).order
    declared = (set(CATALOGUE) - {SMOKE_EVENTS}) | {raw(s) for s in sources} | {quarantine(s) for s in sources}
    assert written_tables(conf) == sorted(declared)


def test_deltalake_reads_every_table_the_demo_wrote(demo, spark):
    """The demo ran on the default engine (delta-spark here); a reader that is neither engine, deltalake,
    reads every one of its tables row for row as Spark does."""
    import deltalake

    from inlife.tables import Tables

    tables = Tables(spark, demo[0])
    assert tables.engine.name == "delta-spark"
    for name in written_tables(demo[0]):
        expected = tables.read(name)
        arrow = deltalake.DeltaTable(tables.location(name)).to_pyarrow_table()
        got = spark.createDataFrame(arrow).select(*expected.columns)
        assertDataFrameEqual(got, expected, checkRowOrder=False, rtol=0, atol=0)


def test_every_export_matches_its_manifest_and_the_targets(demo, spark):
    """Each channel folder the demo wrote holds the rows its manifest says, with the checksum it says, one
    per subscriber the targets table marks contacted on that channel in that batch."""
    from pyspark.sql import functions as F

    from inlife.marketing import exports
    from inlife.tables import Tables
    from inlife.tables.catalogue import TARGETS

    conf = demo[0]
    contacted = {(r["channel"], r["batch"]): r["n"] for r in Tables(spark, conf).read(TARGETS)
                 .where(F.col("contacted")).groupBy("channel", "batch").count().withColumnRenamed("count", "n")
                 .collect()}
    folders = sorted(p.parent for p in Path(conf.path("campaigns.exports_root")).glob("*/*/_manifest.json"))
    rows = {(f.parent.name, f.name): exports.verify(f)["rows"] for f in folders}
    assert rows == {key: contacted.get(key, 0) for key in rows}
    assert {key for key, n in contacted.items() if n} <= set(rows)


def test_every_notebook_runs_on_the_demo(demo):
    env = kernel_env(demo[1])
    done = execute_all({name: env for name in ("customer_view_profile.ipynb", "model_performance.ipynb",
                                               "matrix_coverage.ipynb", "campaign_uplift.ipynb")})

    profile = text(tagged(done["customer_view_profile.ipynb"], "summary")[0])
    assert f"{MONTHS[-1]}: " in profile and " subscribers, " in profile
    assert "churn" in text(tagged(done["model_performance.ipynb"], "summary")[0])
    # the champion's logged plots: one figure per model with a champion
    models = done["model_performance.ipynb"]
    assert figures(next(c for c in tagged(models, "plot") if "download_artifacts" in c.source)) >= 1
    assert "without a main policy" in text(tagged(done["matrix_coverage.ipynb"], "summary")[0])
    uplift = text(tagged(done["campaign_uplift.ipynb"], "summary")[0])
    assert f"{MONTHS[-1]}: " in uplift and " campaigns, " in uplift, uplift
    assert figures(tagged(done["campaign_uplift.ipynb"], "plot")[0]), "no uplift-per-campaign figure"
    for name in ("customer_view_profile.ipynb", "model_performance.ipynb", "matrix_coverage.ipynb"):
        assert_every_plot_drawn(done[name], name)

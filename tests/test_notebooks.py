"""The notebooks in notebooks/ run top to bottom on demo data: each is executed with nbclient in its own
kernel (which starts its own Spark), with INLIFE_* variables pointing its configuration at this module's
lake and MLflow store, and fails on the first cell that raises."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.tables.catalogue import CAMPAIGN_RESULTS, UPLIFT_CURVE

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SUBSCRIBERS = 400   # few, but enough labelled churners for the demo's models to train
MONTHS = ["2024-01", "2024-02", "2024-03"]

# The demo pipeline plus a kernel and a Spark JVM per notebook. The first test pays for the demo fixture,
# which on a busy 2-core machine takes longer than pytest.ini's 900 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def demo(spark, base_conf, tmp_path_factory):
    """The demo (generated data, three months of the pipeline, the churn model trained) into stores of its own."""
    from inlife.models import registry
    from inlife_jobs import demo as demo_job

    tmp = tmp_path_factory.mktemp("notebooks")
    overrides = {
        "models.specs_dir": str(churn_spec_with_one_candidate(tmp / "models")),
        "lake.root": str(tmp / "lake"),
        "landing.root": str(tmp / "landing"),
        "truth.root": str(tmp / "planted"),
        "mlflow.tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}",
        "mlflow.artifact_location": str(tmp / "mlartifacts"),
        "quality.data_docs_dir": str(tmp / "data_docs"),
        "campaigns.exports_root": str(tmp / "exports"),
        # The notebooks read tables, they do not test validation: no suites, and no planted bad rows (a
        # daily batch of a few rows at this size may fail the bad-row rate by chance).
        "quality.enabled": False,
        "generator.bad_row_rate": 0.0,
    }
    conf = base_conf.with_overrides(overrides)
    started = time.time()
    assert demo_job.run(spark, conf, subscribers=SUBSCRIBERS, months=len(MONTHS), start_month=MONTHS[0],
                        models="churn") == 0
    print(f"\n[notebooks] demo with {SUBSCRIBERS} subscribers: {time.time() - started:.0f}s")
    assert registry.champion(registry.client(conf), "churn") is not None, "no churn champion to show"
    return conf, overrides


def churn_spec_with_one_candidate(folder: Path) -> Path:
    """The shipped churn spec with one logistic regression instead of five candidates: the notebooks show a
    champion and its plots, not the model's quality (half a minute less of the demo)."""
    import yaml

    spec = yaml.safe_load((ROOT / "conf" / "models" / "churn.yaml").read_text(encoding="utf-8"))
    spec["algorithms"] = {"logistic_regression": {"regParam": [0.01], "elasticNetParam": [0.0], "maxIter": [100]}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "churn.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return folder


def kernel_env(overrides: dict) -> dict[str, str]:
    """The test process's environment (PYSPARK_PYTHON, GX_ANALYTICS_ENABLED...) plus the overrides as
    INLIFE_<SECTION>__<KEY> variables, which the notebook's load_config applies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLIFE_")}
    env.update({"INLIFE_ENV": "test", "GX_ANALYTICS_ENABLED": "false", "PYSPARK_PYTHON": sys.executable,
                "INLIFE_SPARK__SHOW_CONSOLE_PROGRESS": "false", "INLIFE_SPARK__UI_ENABLED": "false",
                "INLIFE_SPARK__DRIVER_MEMORY": "1g"})
    for key, value in overrides.items():
        env["INLIFE_" + key.upper().replace(".", "__")] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def execute(name: str, env: dict[str, str]):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    started = time.time()
    # A failing cell raises CellExecutionError with the cell's source and traceback.
    NotebookClient(nb, kernel_name="python3", timeout=600, startup_timeout=120,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute(env=env)
    print(f"[notebooks] {name}: {time.time() - started:.0f}s")
    return nb


def tagged(nb, tag: str) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]


def text(cell) -> str:
    return "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cell.outputs)


def figures(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.outputs)


def assert_every_plot_drawn(nb, name: str) -> None:
    plots = tagged(nb, "plot")
    assert plots, f"{name} has no cell tagged 'plot'"
    empty = [c.source.splitlines()[0] for c in plots if not figures(c)]
    assert not empty, f"{name}: plot cells without a figure: {empty}"


def test_notebooks_are_committed_without_outputs():
    import nbformat

    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["campaign_uplift.ipynb", "customer_view_profile.ipynb", "matrix_coverage.ipynb",
                     "model_performance.ipynb"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "markdown" and "How to open it" in nb.cells[0].source, name
        assert tagged(nb, "config"), f"{name}: no config cell"
        dirty = [c.source.splitlines()[0] for c in nb.cells
                 if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
        assert not dirty, f"{name} has outputs: clear them before committing ({dirty})"


def test_customer_view_profile(demo):
    nb = execute("customer_view_profile.ipynb", kernel_env(demo[1]))
    assert f"{MONTHS[-1]}: " in text(tagged(nb, "summary")[0]) and " subscribers, " in text(tagged(nb, "summary")[0])
    assert_every_plot_drawn(nb, "customer_view_profile")


def test_model_performance(demo):
    nb = execute("model_performance.ipynb", kernel_env(demo[1]))
    assert "churn" in text(tagged(nb, "summary")[0])
    assert_every_plot_drawn(nb, "model_performance")
    # the champion's logged plots: one figure per model with a champion
    champion_cell = next(c for c in tagged(nb, "plot") if "download_artifacts" in c.source)
    assert figures(champion_cell) >= 1


def test_matrix_coverage(demo):
    nb = execute("matrix_coverage.ipynb", kernel_env(demo[1]))
    assert "without a main policy" in text(tagged(nb, "summary")[0])
    assert_every_plot_drawn(nb, "matrix_coverage")


def test_campaign_uplift(demo):
    """On the demo's own evaluation tables when it writes them, else the notebook says what to run."""
    nb = execute("campaign_uplift.ipynb", kernel_env(demo[1]))
    summary = text(tagged(nb, "summary")[0])
    if "run `inlife evaluate --month" in summary:
        assert not any(figures(c) for c in tagged(nb, "plot"))
    else:
        assert f"{MONTHS[-1]}: " in summary and " campaigns, " in summary, summary
        assert figures(tagged(nb, "plot")[0]), "no uplift-per-campaign figure"


def test_campaign_uplift_says_what_to_run_when_the_tables_are_missing(tmp_path):
    env = kernel_env({"lake.root": str(tmp_path / "lake")})
    env["INLIFE_NOTEBOOK_MONTH"] = "2024-03"
    nb = execute("campaign_uplift.ipynb", env)
    assert "run `inlife evaluate --month 2024-03` first" in text(tagged(nb, "summary")[0])
    assert not any(figures(c) for c in tagged(nb, "plot"))


def test_campaign_uplift_plots_every_level(spark, base_conf, tmp_path):
    """Evaluation tables of the shape `inlife evaluate` writes, with synthetic rows: every plot is drawn."""
    from inlife.tables import Tables

    overrides = {"lake.root": str(tmp_path / "lake")}
    tables = Tables(spark, base_conf.with_overrides(overrides))
    results, curve = synthetic_evaluation("2024-03")
    tables.overwrite(CAMPAIGN_RESULTS, spark.createDataFrame(*results), partition_by=["month"])
    tables.overwrite(UPLIFT_CURVE, spark.createDataFrame(*curve), partition_by=["month"])
    env = kernel_env(overrides)
    env["INLIFE_NOTEBOOK_MONTH"] = "2024-03"
    nb = execute("campaign_uplift.ipynb", env)
    assert "2024-03: 2 campaigns" in text(tagged(nb, "summary")[0])
    assert_every_plot_drawn(nb, "campaign_uplift")


RESULTS_SCHEMA = (
    "month string, level string, campaign_id string, objective string, channel string, cell string, "
    "policy_id string, contacted long, holdout long, responded long, converted_treated long, "
    "converted_holdout long, conversion_treated double, conversion_holdout double, uplift double, "
    "uplift_ci_low double, uplift_ci_high double, retained_treated double, retained_holdout double, "
    "revenue_after_treated double, revenue_after_holdout double")
CURVE_SCHEMA = ("month string, campaign_id string, fraction double, treated_n long, holdout_n long, "
                "uplift_at_k double, qini double")


def synthetic_evaluation(month: str):
    """Two campaigns (one that works, one that does not) at campaign, channel and cell level, and their curves."""
    rows, points = [], []

    def row(level, cid, objective, channel, cell, policy, contacted, holdout, conv_t, conv_h):
        ct, ch = conv_t / contacted, conv_h / holdout
        se = (ct * (1 - ct) / contacted + ch * (1 - ch) / holdout) ** 0.5
        rows.append((month, level, cid, objective, channel, cell, policy, contacted, holdout, conv_t + 5, conv_t,
                     conv_h, ct, ch, ct - ch, ct - ch - 1.96 * se, ct - ch + 1.96 * se, 0.97, 0.95,
                     50.0 * contacted, 48.0 * holdout))

    for cid, objective, rate_t, rate_h in (("ret_q1", "retention", 0.20, 0.10), ("xsell_data", "data_upsell", 0.08, 0.075)):
        row("campaign", cid, objective, None, None, None, 400, 100, int(400 * rate_t), int(100 * rate_h))
        for channel, share in (("sms", 0.6), ("outbound_call", 0.4)):
            row("channel", cid, objective, channel, None, None, int(400 * share), int(100 * share),
                int(400 * share * rate_t), max(1, int(100 * share * rate_h)))
            row("cell", cid, objective, channel, "high|abnormal", f"{cid}_offer", int(200 * share), int(50 * share),
                int(200 * share * rate_t), max(1, int(50 * share * rate_h)))
        for k in range(1, 11):
            f = k / 10
            uplift = (rate_t - rate_h) * (1.6 - 0.6 * f)  # the most persuadable come first
            points.append((month, cid, f, int(400 * f), int(100 * f), uplift, uplift * f))
    return (rows, RESULTS_SCHEMA), (points, CURVE_SCHEMA)


def test_deltalake_reads_every_table_the_demo_wrote(demo, spark):
    """The demo ran on the default engine (delta-spark here); a reader that is neither engine, deltalake,
    reads every one of its tables row for row as Spark does."""
    import deltalake

    from inlife.tables import Tables

    tables = Tables(spark, demo[0])
    assert tables.engine.name == "delta-spark"
    lake = Path(demo[0].path("lake.root"))
    names = sorted(f"{p.parent.parent.name}.{p.parent.name}" for p in lake.glob("*/*/_delta_log"))
    assert len(names) > 30, names
    for name in names:
        expected = tables.read(name)
        arrow = deltalake.DeltaTable(tables.location(name)).to_pyarrow_table()
        got = spark.createDataFrame(arrow).select(*expected.columns)
        assertDataFrameEqual(got, expected, checkRowOrder=False, rtol=0, atol=0)

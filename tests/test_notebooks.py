"""The notebooks of notebooks/ as committed, and the campaign notebook on tables it cannot find and on
synthetic ones (tests/test_end_to_end.py runs every notebook on the demo's stores)."""
from __future__ import annotations

import pytest

from inlife.tables.catalogue import CAMPAIGN_RESULTS, UPLIFT_CURVE
from tests.notebook_runs import NOTEBOOKS, assert_every_plot_drawn, execute_all, figures, kernel_env, tagged, text

pytestmark = [pytest.mark.slow]


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


def test_campaign_uplift_without_its_tables_and_on_every_level(spark, base_conf, tmp_path):
    """Without evaluation tables the notebook says what to run; on tables of the shape `inlife evaluate`
    writes, with synthetic rows, it draws every plot (both runs at once)."""
    from inlife.tables import Tables

    with_tables = {"lake.root": str(tmp_path / "lake")}
    # written on delta-rs (cheaper commits), read by the notebook on its default engine
    tables = Tables(spark, base_conf.with_overrides({**with_tables, "lake.engine": "delta-rs"}))
    results, curve = synthetic_evaluation("2024-03")
    tables.overwrite(CAMPAIGN_RESULTS, spark.createDataFrame(*results), partition_by=["month"])
    tables.overwrite(UPLIFT_CURVE, spark.createDataFrame(*curve), partition_by=["month"])
    runs = {"campaign_uplift.ipynb#missing": kernel_env({"lake.root": str(tmp_path / "empty")}),
            "campaign_uplift.ipynb#synthetic": kernel_env(with_tables)}
    for env in runs.values():
        env["INLIFE_NOTEBOOK_MONTH"] = "2024-03"
    done = execute_all(runs)

    missing = done["campaign_uplift.ipynb#missing"]
    assert "run `inlife evaluate --month 2024-03` first" in text(tagged(missing, "summary")[0])
    assert not any(figures(c) for c in tagged(missing, "plot"))
    synthetic = done["campaign_uplift.ipynb#synthetic"]
    assert "2024-03: 2 campaigns" in text(tagged(synthetic, "summary")[0])
    assert_every_plot_drawn(synthetic, "campaign_uplift")


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

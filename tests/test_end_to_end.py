"""End to end: the demo with validation on (generated data with planted bad rows, three months of the whole
pipeline, the churn model trained and promoted, the channels' responses simulated, the last month evaluated,
one nightly run) into stores of its own, on the delta-rs engine; then what it wrote, read as its users read
it: the quarantine against the generator's manifest, every table by delta-spark and by deltalake, the channel
exports against their manifests, and every notebook; last, a failing source among sources ingested side by
side."""
from __future__ import annotations

import json
import time
from datetime import date
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
    from inlife.tables.runs import recorded

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
        # 2 % of the lines planted bad, every kind the generator knows (counted in its manifest); a daily
        # batch of a few dozen rows can hold more than ingestion's usual 5 % by chance.
        "generator.bad_row_rate": 0.02,
        "ingest.max_bad_row_rate": 0.5,
        "ingest.parallel_sources": 2,     # the side-by-side path (the local default is one by one)
        # The demo's hundred-odd commits of tables of a few hundred rows go through delta-rs, as the tests
        # of transforms and jobs do (the `conf` fixture says why); the engines' own tests (tests/tables/)
        # run both, and here delta-spark reads every table delta-rs wrote.
        "lake.engine": "delta-rs",
    }
    conf = base_conf.with_overrides(overrides)
    started = time.time()
    with recorded(spark, conf, "demo", {"subscribers": SUBSCRIBERS}):    # a recorded run, as `inlife demo` is
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


def test_the_demo_is_one_succeeded_run_naming_the_tables_it_committed(demo, spark):
    from inlife.tables import Tables
    from inlife.tables.catalogue import RUNS, TARGETS

    conf = demo[0]
    [run] = Tables(spark, conf).read(RUNS).collect()
    assert (run.job, json.loads(run.parameters), run.status, run.message) == (
        "demo", {"subscribers": SUBSCRIBERS}, "succeeded", "")
    committed = {t.table for t in run.tables}
    assert TARGETS in committed and committed <= set(written_tables(conf))


def test_quarantine_holds_exactly_the_planted_bad_rows(demo, spark):
    """Each source's quarantine holds, by reason, the bad lines the generator planted (its manifest) over the
    three months, and raw every other line."""
    from inlife.tables import Tables
    from inlife.tables.catalogue import quarantine, raw

    conf = demo[0]
    tables = Tables(spark, conf)
    planted = json.loads(Path(conf.path("landing.root"), "_manifest.json").read_text(encoding="utf-8"))["sources"]
    got = {s: ({r["reason"]: r["count"] for r in tables.read(quarantine(s)).groupBy("reason").count().collect()},
               tables.read(raw(s)).count()) for s in planted}
    assert got == {s: ({k: v for k, v in p["bad"].items() if v}, p["lines"] - p["bad_rows"]) for s, p in planted.items()}
    assert sum(sum(p["bad"].values()) for p in planted.values()) > 0


def test_every_table_the_demo_wrote_reads_the_same_in_delta_spark_and_deltalake(demo, spark):
    """The demo ran on delta-rs; Delta Lake's own reader (delta-spark) and a reader that is neither engine's
    (deltalake to Arrow) read every one of its tables row for row alike."""
    import deltalake

    from inlife.tables import Tables

    conf = demo[0]
    assert Tables(spark, conf).engine.name == "delta-rs"
    delta_spark = Tables(spark, conf.with_overrides({"lake.engine": "delta-spark"}))
    assert delta_spark.engine.name == "delta-spark"
    for name in written_tables(conf):
        expected = delta_spark.read(name)
        arrow = deltalake.DeltaTable(delta_spark.location(name)).to_pyarrow_table()
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


def test_a_failing_source_among_parallel_ones_commits_nothing_and_is_named(demo, spark):
    """Sources after subscribers are ingested side by side (ingest.parallel_sources): when one of them
    fails, the error names it and its tables stay at their version; the sources that succeeded are whole.
    (Last in this module: it ingests the demo's Jan 31 again.)"""
    from inlife.ingest.pipeline import IngestError, Ingestion
    from inlife.tables import Tables
    from inlife.tables.catalogue import RECHARGES, quarantine, raw

    conf = demo[0]
    tables = Tables(spark, conf)
    assert int(conf.get("ingest.parallel_sources")) > 1
    path = sorted(p for p in Path(conf.path("landing.root"), "recharges", "2024-01-31").iterdir()
                  if not p.name.startswith(("_", ".")))[0]
    original = path.read_bytes()
    before = {t: tables.version(t) for t in (RECHARGES, quarantine("recharges"))}
    counts = {s: tables.read(raw(s)).count() for s in ("voice_cdr", "sms_data", "balances")}
    try:
        path.write_bytes(original + b"".join(b"not,a,recharge\n" for _ in range(200)))
        with pytest.raises(IngestError, match=r"raw\.recharges batch 2024-01-31: \d+ of \d+ rows are bad"):
            Ingestion(conf=conf.with_overrides({"ingest.max_bad_row_rate": 0.05}), spark=spark) \
                .run("all", [date(2024, 1, 31)])
    finally:
        path.write_bytes(original)
    assert {t: tables.version(t) for t in before} == before
    # a rerun of Jan 31 gives the other sources the same rows (whichever of them ran before the error)
    assert {s: tables.read(raw(s)).count() for s in counts} == counts

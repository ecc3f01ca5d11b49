"""Integration: ingest a generated month and find exactly the bad rows the generator planted."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from inlife.tables.catalogue import RECHARGES, quarantine, raw

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not (ROOT / "jobs" / "generate_sample_data.py").exists(),
                                reason="the sample-data generator (jobs/generate_sample_data.py) is not there yet")


@pytest.fixture(scope="module")
def generated(spark, base_conf, tmp_path_factory):
    """500 subscribers, one month, 2% bad rows: landing files, manifest, and everything ingested."""
    from inlife.ingest.pipeline import Ingestion, date_range
    from inlife.tables import Tables
    from inlife_jobs import generate_sample_data

    tmp = tmp_path_factory.mktemp("generated")
    conf = base_conf.with_overrides({
        "landing.root": str(tmp / "landing"), "lake.root": str(tmp / "lake"), "truth.root": str(tmp / "truth"),
        "quality.data_docs_dir": str(tmp / "data_docs"),
        # 500 subscribers make daily batches of a few dozen rows for the rarer sources, where 2% planted
        # defects can exceed 5% of one batch by chance; the per-kind counts are what this test checks.
        "ingest.max_bad_row_rate": 0.5,
        "ingest.parallel_sources": 2,     # the side-by-side path (the local default is one by one)
    })
    generate_sample_data.run(spark, conf, subscribers=500, months=1, start_month="2024-01", seed=7,
                             bad_row_rate=0.02)
    manifest = json.loads((tmp / "landing" / "_manifest.json").read_text(encoding="utf-8"))
    reports = Ingestion(spark, conf).run("all", date_range(date(2024, 1, 1), date(2024, 1, 31)))
    return conf, manifest, {r.source: r for r in reports}, Tables(spark, conf)


@pytest.mark.slow
def test_quarantine_counts_equal_the_manifest(generated):
    from pyspark.sql import functions as F

    conf, manifest, reports, tables = generated
    assert set(reports) == set(manifest["sources"])
    for source, planted in manifest["sources"].items():
        expected = {k: v for k, v in planted["bad"].items() if v}
        got = {r.reason: r["count"] for r in tables.read(quarantine(source)).groupBy("reason").count().collect()} \
            if tables.exists(quarantine(source)) else {}
        assert got == expected, quarantine(source)
        totals = reports[source].totals()
        assert totals["quarantined"] == expected, source
        assert totals["rows_read"] == planted["lines"], source
        assert totals["late"] == planted["late_rows"], source
        rows = tables.read(raw(source))
        assert rows.count() == planted["lines"] - planted["bad_rows"], raw(source)
        assert rows.where(F.col("batch_date").isNull()).count() == 0


@pytest.mark.slow
def test_a_failing_source_among_parallel_ones_commits_nothing_and_is_named(generated):
    """Sources after subscribers are ingested side by side (ingest.parallel_sources): when one of them
    fails, the error names it and its tables stay at their version; the sources that succeeded are whole."""
    from inlife.ingest.pipeline import IngestError, Ingestion

    conf, manifest, _, tables = generated
    assert int(conf.get("ingest.parallel_sources")) > 1
    path = sorted(p for p in Path(conf.path("landing.root"), "recharges", "2024-01-31").iterdir()
                  if not p.name.startswith(("_", ".")))[0]
    original = path.read_bytes()
    before = {t: tables.version(t) for t in (RECHARGES, quarantine("recharges"))}
    counts = {s: tables.read(raw(s)).count() for s in ("voice_cdr", "sms_data", "balances")}
    try:
        path.write_bytes(original + b"".join(b"not,a,recharge\n" for _ in range(200)))
        with pytest.raises(IngestError, match=r"raw\.recharges batch 2024-01-31: \d+ of \d+ rows are bad"):
            Ingestion(conf=conf.with_overrides({"ingest.max_bad_row_rate": 0.05}), spark=tables.spark) \
                .run("all", [date(2024, 1, 31)])
    finally:
        path.write_bytes(original)
    assert {t: tables.version(t) for t in before} == before
    # a rerun of Jan 31 gives the other sources the same rows (whichever of them ran before the error)
    assert {s: tables.read(raw(s)).count() for s in counts} == counts

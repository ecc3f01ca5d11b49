"""The sample-data generator on real Spark, at ~300 subscribers x 1 month.

One dataset is generated per module (plus one repeat and one other seed for determinism) to keep the
file fast; each test reads the files on disk as ingestion would.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from inlife.generator import Params, generate
from inlife.sources import load_sources

N, MONTHS, START, SEED = 300, 1, "2024-02", 7


def _run(spark, base_conf, root: Path, seed=SEED, encoding="UTF-8", rate=0.02, months=MONTHS, only=()):
    conf = base_conf.with_overrides({"landing.root": str(root / "landing"), "truth.root": str(root / "truth")})
    generate(spark, conf, Params(subscribers=N, months=months, start_month=START, seed=seed, bad_row_rate=rate,
                                 encoding=encoding, only=only))
    return conf


@pytest.fixture(scope="module")
def gen(spark, base_conf, tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    conf = _run(spark, base_conf, root)
    return root / "landing", root / "truth", conf


def _lines(folder: Path, encoding="utf-8") -> list[str]:
    out = []
    for f in sorted(folder.rglob("*")):
        if f.suffix == ".gz":
            out += gzip.open(f, "rt", encoding=encoding).read().splitlines()
        elif f.suffix == ".csv":
            out += f.read_text(encoding=encoding).splitlines()[1:]
    return out


def test_layout_every_source_and_batch(gen, base_conf):
    landing, _, _ = gen
    contract = load_sources(base_conf)
    for name in contract.order:
        src = contract[name]
        if src.optional:            # written by simulate_responses, not the generator
            assert not (landing / name).exists(), name
            continue
        days = sorted(p.name for p in (landing / name).iterdir())
        if src.cadence == "monthly":
            assert days == ["2024-02-29"], name
        else:
            assert days == [f"2024-02-{d:02d}" for d in range(1, 30)], name
        files = [f for d in (landing / name).iterdir() for f in d.iterdir()]
        assert not [f for f in files if f.name.startswith((".", "_")) or f.suffix == ".crc"], name
        if src.format == "delimited":
            assert all(f.name.endswith(".gz") for f in files), name
            line = next(ln for f in files for ln in gzip.open(f, "rt", encoding="utf-8"))
            assert "," not in line and len(line.rstrip("\n").split("|")) >= 1
        else:
            for f in files:
                assert f.read_text(encoding="utf-8").splitlines()[0] == src.header, f
    assert not list(landing.glob("_tmp*"))


def test_an_opt_out_list_for_about_one_subscriber_in_a_hundred(gen):
    """The CRM's do-not-disturb list comes with the extracts (targets are not issued without one)."""
    from inlife.marketing.targeting import campaign_config, read_opt_outs

    landing, _, conf = gen
    got = read_opt_outs(conf, campaign_config(conf))
    ids = {int(f) for f in (line.split(",")[0] for line in _lines(landing / "subscribers")) if f.isdigit()}
    assert [r[0] for r in got.rows] == sorted({r[0] for r in got.rows})
    assert {r[0] for r in got.rows} <= ids and {r[1] for r in got.rows} <= {"outbound_call", "sms", "all"}
    assert 0.002 * len(ids) <= len(got.rows) <= 0.03 * len(ids)


def test_chinese_text_and_codes(gen):
    landing, _, _ = gen
    subs = _lines(landing / "subscribers" / "2024-02-01")
    assert any("全球通" in ln or "神州行" in ln or "动感地带" in ln for ln in subs)
    regions = {ln.split(",")[10] for ln in subs}
    assert regions <= {"杭州", "宁波", "温州", "绍兴", "湖州", "嘉兴", "金华", "衢州", "舟山", "台州", "丽水"}
    contacts = _lines(landing / "service_contacts")
    assert any("不满意" in ln for ln in contacts) or any("满意" in ln for ln in contacts)
    cdr = [ln.split("|") for ln in _lines(landing / "voice_cdr")]
    good = [f for f in cdr if len(f) == 10]
    assert {f[4] for f in good} >= {"MO", "MT"}
    assert "LOCAL" in {f[5] for f in good}


def test_manifest_matches_files(gen):
    landing, _, _ = gen
    manifest = json.loads((landing / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["arguments"]["subscribers"] == N
    for name, m in manifest["sources"].items():
        lines = _lines(landing / name)
        assert m["lines"] == len(lines), name
        assert m["lines"] == m["good_rows"] + m["bad_rows"], name
        assert sum(m["batches"].values()) == m["lines"], name
        for day, n in m["batches"].items():
            assert len(_lines(landing / name / day)) == n, (name, day)
    voice = manifest["sources"]["voice_cdr"]
    assert all(voice["bad"][k] > 0 for k in voice["bad"]), voice["bad"]
    subs = manifest["sources"]["subscribers"]["bad"]
    assert sum(v for k, v in subs.items() if k != "duplicate") == 0


def test_the_callers_session_can_still_train_after_generating(gen, spark):
    """The writer counts rows with DataFrame.observe, which in Spark 4.0 leaves a session unable to run
    MLlib ("Task not serializable: ObservationManager"); the generator works in a session of its own."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.linalg import Vectors

    train = spark.createDataFrame([(Vectors.dense([float(x)]), float(x > 2)) for x in range(6)], ["features", "label"])
    model = LogisticRegression(maxIter=5).fit(train)
    assert model.transform(train).where("prediction = label").count() == 6


def test_duplicates_are_exact_copies(gen):
    landing, _, _ = gen
    manifest = json.loads((landing / "_manifest.json").read_text(encoding="utf-8"))
    for name in ("voice_cdr", "subscribers"):
        lines = []
        for day in (landing / name).iterdir():
            ls = _lines(day)
            lines += [ln for ln in set(ls) if ls.count(ln) > 1 for _ in range(ls.count(ln) - 1)]
        assert len(lines) == manifest["sources"][name]["bad"]["duplicate"], name


def test_churners_stop_and_show_churned(gen, spark):
    landing, truth, _ = gen
    t = spark.read.parquet(str(truth / "subscriber_month")).toPandas()
    assert {"true_churn_prob", "churned", "churn_date", "true_stickiness", "segment"} <= set(t.columns)
    assert t.true_churn_prob.between(0, 1).all()
    churners = t[t.churned]
    assert len(churners) > 0
    churn_date = {int(r.subscriber_id): r.churn_date.strftime("%Y%m%d") for r in churners.itertuples()}
    checked = 0
    for day in sorted((landing / "voice_cdr").iterdir()):
        batch = day.name.replace("-", "")
        for ln in _lines(day):
            f = ln.split("|")
            if len(f) != 10 or not f[0].isdigit() or int(f[0]) not in churn_date or not f[6].isdigit():
                continue
            if f[6][:8] > batch:
                continue  # a planted future_timestamp defect, counted in the manifest
            checked += 1
            assert f[6][:8] < churn_date[int(f[0])], ln
    assert checked > 0
    last = {}
    for day in sorted((landing / "subscribers").iterdir()):
        for ln in _lines(day):
            f = ln.split(",")
            last[int(f[0])] = f[4]
    assert all(last[s] == "CHURNED" for s in churn_date)


def test_deterministic_seed_sensitive_and_gbk(gen, spark, base_conf, tmp_path):
    """The same arguments give the same lines; another seed gives other lines. The other-seed run is also
    the GBK one (one generation fewer): its files do not decode as UTF-8 and hold the Chinese names in GBK."""
    landing, _, _ = gen
    # The repeats generate only the compared sources: a source's lines do not depend on which others are
    # generated with it (the population and monthly states are always made whole), which this also checks.
    compared = ("voice_cdr", "subscribers", "billing", "service_contacts")
    again = _run(spark, base_conf, tmp_path / "again", only=compared)
    other = _run(spark, base_conf, tmp_path / "other", seed=SEED + 1, encoding="GBK", only=compared)
    other_landing = Path(other.path("landing.root"))
    assert sorted(p.name for p in other_landing.iterdir() if p.is_dir()) == sorted(compared)
    for name in compared:
        a = sorted(_lines(landing / name))
        b = sorted(_lines(Path(again.path("landing.root")) / name))
        c = sorted(_lines(other_landing / name, encoding="gbk"))
        assert a == b, name
        assert a != c, name

    raw = next((other_landing / "subscribers" / "2024-02-01").glob("*.csv")).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    assert "神州行" in text or "全球通" in text or "动感地带" in text
    # every voice line decodes as GBK and has its 10 fields, but exactly the planted wrong-field-count ones
    planted = json.loads((other_landing / "_manifest.json").read_text(encoding="utf-8"))
    voice = _lines(other_landing / "voice_cdr", encoding="gbk")
    assert len(voice) == planted["sources"]["voice_cdr"]["lines"]
    assert sum(ln.count("|") != 9 for ln in voice) == planted["sources"]["voice_cdr"]["bad"]["wrong_field_count"] > 0


def test_churn_risk_is_set_by_the_month_before(spark):
    """Two months of the generator's state, in memory: month 2's true churn probability is the sigmoid of
    month 1's risk (what the view of month 1 can show); churned peers are the on-net circle peers who churn
    in the same month (whom that month's CDRs still show), counted from 0 (no null that Spark's least()
    would turn into the cap); monthly churn stays in a telecom's range."""
    from pyspark.sql import functions as F

    from inlife.generator.circle import ON_NET, slots
    from inlife.generator.population import add_attributes
    from inlife.generator.state import month_state

    p = Params(subscribers=4000, months=2, start_month="2024-01", seed=3)
    m1, m2 = p.month_list
    pop = add_attributes(p, spark.range(0, p.total_ids, numPartitions=2).withColumnRenamed("id", "idx"))
    s1 = month_state(spark, p, m1, None, None, population=pop.filter(F.col("activation_date") <= F.lit(m1.end)))
    s1 = s1.localCheckpoint()
    churned = s1.filter("churned").select("idx", "churn_day").localCheckpoint()
    s2 = month_state(spark, p, m2, s1, churned, population=pop.filter(F.col("activation_date") <= F.lit(m2.end)))
    cols = ["idx", "risk_end", "true_churn_prob", "peers_churned", "new_this_month", "churned"]
    a = s1.select(*cols).toPandas().set_index("idx")
    b = s2.select(*cols).toPandas().set_index("idx")

    assert b.peers_churned.notna().all() and (b.peers_churned >= 0).all()
    assert (a.peers_churned == 0).all()                  # the first month has no drawn churn to count
    assert (b.peers_churned > 0).mean() > 0.05          # churned neighbours do reach their circles
    circle = slots(p, s2.select("idx", "segment_idx", "member", "block", "pos", "group_size", "home_prov_idx")) \
        .where(F.col("kind").isin(*ON_NET)).select("idx", "peer_idx").toPandas()
    circle["gone"] = circle.peer_idx.map(b.churned).eq(True)    # peers gone before the month: NaN
    lost = circle.groupby("idx").gone.sum().reindex(b.index, fill_value=0)
    assert (lost == b.peers_churned).all()
    both = b.index.intersection(a.index[~a.churned & ~a.new_this_month])
    expected = 1 / (1 + np.exp(-a.loc[both, "risk_end"]))
    assert np.allclose(b.loc[both, "true_churn_prob"], expected, rtol=1e-9)
    assert (b.loc[b.new_this_month, "true_churn_prob"] == 0).all()
    # Risk rises with churned peers, all else averaged out.
    assert b.groupby(b.peers_churned.clip(upper=2)).risk_end.mean().is_monotonic_increasing
    for month in (a, b):
        assert 0.01 < month.true_churn_prob.mean() < 0.06


def test_state_takes_its_coefficients_from_the_table():
    """The subscriber-month's rates, weights and probabilities live in generator/coefficients.py only: the
    floats left in state.py are the structural ones (a usage level of 1, floors at 0, stickiness's midpoint)."""
    import ast

    import inlife.generator.state as state

    tree = ast.parse(Path(state.__file__).read_text(encoding="utf-8"))
    floats = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is float}
    assert floats <= {0.0, 0.5, 1.0}, sorted(floats - {0.0, 0.5, 1.0})


def test_a_changed_coefficient_reaches_the_state(spark, monkeypatch):
    """state.py reads the table when it builds its columns, so one changed value changes what it computes."""
    import dataclasses

    from pyspark.sql import functions as F

    import inlife.generator.state as state
    from inlife.generator.coefficients import COEFFICIENTS

    youth = {"segment_idx": F.lit(3), "age": F.lit(25), "brand_idx": F.lit(1), "data_mult": F.lit(1.0),
             **{f"held_{x}": F.lit(False) for x in state.PRODUCTS}}

    def fetion_logit() -> float:
        return spark.range(1).select(state.propensity_logits(youth)["FETION"]).first()[0]

    fetion = COEFFICIENTS.propensity.fetion
    assert fetion_logit() == fetion.intercept + fetion.youth
    changed = dataclasses.replace(fetion, intercept=-1.0)
    monkeypatch.setattr(state, "COEFFICIENTS", dataclasses.replace(
        COEFFICIENTS, propensity=dataclasses.replace(COEFFICIENTS.propensity, fetion=changed)))
    assert fetion_logit() == -1.0 + fetion.youth

"""Simulated channel responses: stands in for the call centre, SMS gateway, halls and customer managers on
generated data, so that campaign evaluation can be checked against a known effect.

For every selected row of a batch of marketing.targets:
- the subscriber's natural take-up ``p0`` comes from the generator's truth of the batch's month: the true
  propensity of the offered product for new-business offers (CRBT trial -> CRBT, ...), a small constant for
  the others (``BASE``);
- a contacted subscriber accepts with ``min(1, p0 + effect)`` (``EFFECTS``, the true treatment effect per
  objective), else declines or does not answer;
- a held-out subscriber gets no offer and takes it on his own (``organic``) with ``p0``.
The responses land as landing files of source ``campaign_responses`` (one folder per response day, one file
per batch, so a rerun replaces its own files), and the true average effect per campaign - the mean of
``min(1, p0 + effect) - p0`` over the campaign's selected subscribers - goes to the truth folder for the
benchmark and tests to compare with the measured uplift. Draws are hash-based: the same batch and seed give
the same responses.
"""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.generator.rand import uniform
from inlife.tables import Tables
from inlife.tables.catalogue import TARGETS

EFFECTS = {"retention": 0.08, "new_business": 0.06, "traffic": 0.05, "vpn": 0.04}
BASE = {"retention": 0.03, "new_business": 0.02, "traffic": 0.02, "vpn": 0.02}
PRODUCT_OF_POLICY = {"P_NEWSPAPER_TRIAL": "newspaper", "P_CRBT_TRIAL": "crbt", "P_RINGTONE_PACK": "ringtone_change",
                     "P_MOBILE_INTERNET_5": "mobile_internet"}
RESPONSE_DAYS = 7          # answers arrive within a week of the contact
SOURCE = "campaign_responses"


def _map(d: dict, key) -> F.Column:
    return F.try_element_at(F.create_map(*[x for k, v in d.items() for x in (F.lit(k), F.lit(v))]), key)


def responses(targets: DataFrame, truth: DataFrame, seed: int) -> DataFrame:
    """Response rows (the landing columns) plus ``_true_effect`` per selected row."""
    t = targets.where(F.col("selected")).join(truth, "subscriber_id", "left")
    prop = F.lit(None).cast("double")
    for policy, product in PRODUCT_OF_POLICY.items():
        prop = F.when(F.col("policy_id") == policy, F.col(f"true_propensity_{product}")).otherwise(prop)
    p0 = F.coalesce(F.when(F.col("objective") == "new_business", prop), _map(BASE, F.col("objective")), F.lit(0.02))
    p1 = F.least(F.lit(1.0), p0 + F.coalesce(_map(EFFECTS, F.col("objective")), F.lit(0.0)))
    u = uniform(seed, "response", F.col("contact_id"))
    u2 = uniform(seed, "response#kind", F.col("contact_id"))
    answer = (F.when(F.col("contacted"), F.when(u < p1, "accepted").when(u2 < 0.6, "declined").otherwise("no_answer"))
              .otherwise(F.when(u < p0, "organic")))
    day = F.date_add(F.col("contact_date"), F.floor(uniform(seed, "response#day", F.col("contact_id")) * RESPONSE_DAYS).cast("int"))
    secs = (F.lit(9 * 3600) + F.floor(uniform(seed, "response#time", F.col("contact_id")) * 11 * 3600)).cast("long")
    ts = (F.unix_timestamp(F.to_timestamp(day)) + secs).cast("timestamp")
    return t.select(
        F.concat(F.lit("R"), F.col("contact_id")).alias("response_id"), "contact_id", "subscriber_id", "campaign_id",
        F.when(F.col("contacted"), F.col("channel")).otherwise(F.lit("self_service")).alias("channel"),
        F.col("policy_id").alias("offer"), answer.alias("answer"), ts.alias("response_time"),
        (p1 - p0).alias("_true_effect"), "batch")


def simulate(spark: SparkSession, conf: Config, batch: str, seed: int = 7) -> dict:
    """Write the responses of targets batch ``batch`` to the landing area; returns counts and true effects."""
    tables = Tables(spark, conf)
    targets = tables.read(TARGETS, partitions={"batch": batch})
    months = [r["month"] for r in targets.select("month").distinct().collect()]
    if not months:
        raise ValueError(f"marketing.targets has no batch {batch}: run `inlife targets` first")
    truth_root = Path(conf.path("truth.root"))
    truth = (spark.read.parquet(str(truth_root / "subscriber_month")).where(F.col("month") == months[0])
             .drop("month"))
    rows = responses(targets, truth, seed).cache()
    try:
        effects = {r["campaign_id"]: {"true_uplift": r["eff"], "selected": r["n"]} for r in
                   rows.groupBy("campaign_id").agg(F.avg("_true_effect").alias("eff"), F.count(F.lit(1)).alias("n")).collect()}
        out = rows.where(F.col("answer").isNotNull()).drop("_true_effect", "batch")
        counts = {r["answer"]: r["count"] for r in out.groupBy("answer").count().collect()}
        _write_landing(spark, out, Path(conf.path("landing.root")) / SOURCE, batch)
    finally:
        rows.unpersist()
    effects_dir = truth_root / "campaign_effects"
    effects_dir.mkdir(parents=True, exist_ok=True)
    (effects_dir / f"{batch}.json").write_text(json.dumps(effects, indent=2), encoding="utf-8")
    return {"batch": batch, "answers": counts, "true_effects": effects}


def _write_landing(spark: SparkSession, rows: DataFrame, root: Path, batch: str) -> None:
    """One CSV per response day: <root>/<day>/responses_<batch>.csv, header as in sources.yaml."""
    cols = ["response_id", "contact_id", "subscriber_id", "campaign_id", "channel", "offer", "answer", "response_time"]
    text = rows.select(*[(F.date_format(c, "yyyy-MM-dd HH:mm:ss") if c == "response_time" else F.col(c).cast("string"))
                         .alias(c) for c in cols], F.to_date("response_time").cast("string").alias("_day"))
    tmp = root.parent / f"_responses_{uuid.uuid4().hex}"
    text.repartition("_day").write.partitionBy("_day").option("header", True).option("quote", "\u0000") \
        .mode("overwrite").csv(str(tmp))
    name = f"responses_{batch}.csv"
    for day_dir in root.glob("*"):                       # a rerun replaces this batch's files only
        (day_dir / name).unlink(missing_ok=True)
    for part_dir in sorted(tmp.glob("_day=*")):
        day = part_dir.name.split("=", 1)[1]
        parts = sorted(part_dir.glob("part-*"))
        (root / day).mkdir(parents=True, exist_ok=True)
        with (root / day / name).open("wb") as out:
            for i, p in enumerate(parts):
                lines = p.read_bytes().splitlines(keepends=True)
                out.writelines(lines if i == 0 else lines[1:])     # one header
    shutil.rmtree(tmp, ignore_errors=True)

"""``evaluate --month M``: read targets, responses, the next month's view, tags and outcomes; publish
evaluation.campaign_results, evaluation.uplift_curve and evaluation.rule_precision; print the report of
campaign cells and tags whose results fall below the configured floors (conf/base.yaml ``evaluation``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.errors import TableError
from inlife.evaluation.measures import cells_below_floor, outcomes_per_target, results, tag_precision, uplift_curve
from inlife.months import add_months, check_month
from inlife.publish import Publication
from inlife.tables import Tables
from inlife.tables.catalogue import (CAMPAIGN_RESPONSES, CAMPAIGN_RESULTS, CUSTOMER_VIEW, OUTCOMES, RULE_PRECISION,
                                     TAGS, TARGETS, UPLIFT_CURVE)


@dataclass
class EvaluationResult:
    month: str
    published: list = field(default_factory=list)
    campaigns: list = field(default_factory=list)   # level=campaign rows as dicts
    below_floor: list = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"campaign results, targets of month {self.month}:",
               f"  {'campaign':<22}{'contacted':>10}{'holdout':>9}{'conv.':>8}{'holdout':>9}{'uplift':>9}  95% CI"]
        for r in self.campaigns:
            def pct(x):
                return f"{100 * x:6.2f}%" if x is not None else "    n/a"
            ci = (f"[{100 * r['uplift_ci_low']:.2f}, {100 * r['uplift_ci_high']:.2f}]"
                  if r["uplift_ci_low"] is not None else "n/a")
            out.append(f"  {r['campaign_id']:<22}{r['contacted']:>10,}{r['holdout']:>9,}{pct(r['conversion_treated']):>8}"
                       f"{pct(r['conversion_holdout']):>9}{pct(r['uplift']):>9}  {ci}")
        if self.below_floor:
            out.append("  below the floors (review these tags and cells):")
            out += [f"    {r['kind']:<5}{r['id']:<48}{r['below_floor']}" for r in self.below_floor]
        return out


def build_evaluation(spark: SparkSession, conf: Config, month: str) -> EvaluationResult:
    month = check_month(month)
    tables = Tables(spark, conf)
    if not tables.exists(TARGETS):
        raise TableError(f"marketing.targets does not exist: run `inlife targets --month {month}` first")
    targets = tables.read(TARGETS).where(F.col("month") == month)
    if not targets.limit(1).count():
        raise TableError(f"marketing.targets has no batch issued from month {month}: run `inlife targets --month {month}`")
    if tables.exists(CAMPAIGN_RESPONSES):
        responses = tables.read(CAMPAIGN_RESPONSES)
    else:
        print("[evaluate] raw.campaign_responses does not exist yet: every contact counts as unanswered", flush=True)
        responses = spark.createDataFrame([], "contact_id string, answer string")
    nxt = add_months(month, 1)
    after = tables.read(CUSTOMER_VIEW, partitions={"month": nxt}) \
        if tables.exists(CUSTOMER_VIEW) else None
    if after is not None and not after.limit(1).count():
        after = None
    per = outcomes_per_target(targets, responses, after).cache()
    floor_tag = float(conf.get("evaluation.min_tag_precision"))
    try:
        res = results(per, month, float(conf.get("evaluation.confidence"))).cache()
        curve = uplift_curve(per, month, [float(x) for x in conf.get("evaluation.uplift_fractions")])
        report = cells_below_floor(res, month, float(conf.get("evaluation.min_uplift")))
        if tables.exists(TAGS) and tables.exists(OUTCOMES):
            prec = tag_precision(tables.read(TAGS, partitions={"month": month}),
                                 tables.read(OUTCOMES, partitions={"month": month}), month, floor_tag)
            report = prec.unionByName(report)
        with Publication(tables, conf, batch=month) as pub:
            pub.add(CAMPAIGN_RESULTS, res)
            pub.add(UPLIFT_CURVE, curve)
            pub.add(RULE_PRECISION, report)
        out = EvaluationResult(month, pub.results)
        out.campaigns = [r.asDict() for r in res.where(F.col("level") == "campaign").orderBy("campaign_id").collect()]
        out.below_floor = [r.asDict() for r in tables.read(RULE_PRECISION, partitions={"month": month})
                           .where(F.col("below_floor").isNotNull()).orderBy("kind", "id").collect()]
    finally:
        per.unpersist()
    return out

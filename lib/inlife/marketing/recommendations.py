"""From evaluated state rows to the published tables.

- ``scores.tags`` (by month) / ``scores.tags_daily`` (by day, screening tags): one row per subscriber and
  tag held, with the rule that set it and the last month the tag holds (``valid_through``).
- ``marketing.recommendations`` (by month): one row per subscriber and month - the marketing priority
  order, ONE main policy, ONE policy group (with its default), the new-business and traffic-stimulation
  policies (arrays, precedence order), the VPN offer, and per output the rule id(s) that produced it
  (reason codes). With a policy group but no main policy rule, the group's default is the main policy and
  its rule is the group's rule. No priority rule: the priority matrix's default order, reason
  ``<matrix>.default``.
"""
from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BooleanType, LongType, StringType, StructField, StructType

from inlife.months import add_months
from inlife.rules.catalogue import Catalogue
from inlife.rules.columns import TAGS_COLUMN
from inlife.rules.evaluate import MatrixPlan, lit_array

TAGS_SCHEMA = StructType([
    StructField("subscriber_id", LongType()), StructField("month", StringType()),
    StructField("tag_id", StringType()), StructField("tag_name", StringType()), StructField("rule_id", StringType()),
    StructField("screening", BooleanType()), StructField("valid_through", StringType()),
    StructField("rules_version", LongType()),
])
TAGS_DAILY_SCHEMA = StructType([StructField("day", StringType())] + TAGS_SCHEMA.fields)

RECOMMENDATIONS_SCHEMA = StructType([
    StructField("subscriber_id", LongType()), StructField("month", StringType()),
    StructField("priority_order", ArrayType(StringType())), StructField("priority_rule", StringType()),
    StructField("main_policy", StringType()), StructField("main_policy_kind", StringType()),
    StructField("main_policy_script", StringType()), StructField("main_policy_rule", StringType()),
    StructField("policy_group", StringType()), StructField("policy_group_default", StringType()),
    StructField("policy_group_rule", StringType()),
    StructField("new_business_policies", ArrayType(StringType())), StructField("new_business_rules", ArrayType(StringType())),
    StructField("traffic_policies", ArrayType(StringType())), StructField("traffic_rules", ArrayType(StringType())),
    StructField("vpn_policy", StringType()), StructField("vpn_rule", StringType()),
    StructField("tags", ArrayType(StringType())), StructField("rules_version", LongType()),
])


def tag_rows(evaluated: DataFrame, p: MatrixPlan, month: str, rules_version: int,
             day: str | None = None) -> DataFrame:
    ids = lit_array([r.outputs["tag_id"] for r in p.rules])
    names = lit_array([r.outputs.get("tag_name") or r.rule_id for r in p.rules])
    rule_ids = lit_array(p.ids())
    screening = lit_array([bool(r.outputs.get("screening")) for r in p.rules], "boolean")
    base = day[:7] if day else month
    through = lit_array([add_months(base, int(r.outputs.get("validity_months", 1)) - 1) for r in p.rules])
    i = F.col("_i")
    rows = (evaluated.select("subscriber_id", F.explode(F.col(p.match_col)).alias("_i"))
            .select(F.col("subscriber_id").cast("long"), F.lit(month).alias("month"),
                    F.get(ids, i).alias("tag_id"), F.get(names, i).alias("tag_name"),
                    F.get(rule_ids, i).alias("rule_id"), F.get(screening, i).alias("screening"),
                    F.get(through, i).alias("valid_through"), F.lit(rules_version).cast("long").alias("rules_version")))
    if day:
        rows = rows.select(F.lit(day).alias("day"), *[c for c in rows.columns])
    return rows


def _first(match: Column, flags: Column | None = None, short: int = 0) -> Column:
    """The first (lowest) rank in ``match``, optionally among those whose ``flags[rank]`` is true. Arrays of at
    most ``short`` ranks (a single-winner matrix holds one per output slot) are looked at by a compiled
    CASE over their positions; longer ones through a lambda."""
    if flags is None:
        return F.get(match, 0)
    slow = F.get(F.filter(match, lambda i: F.get(flags, i)), 0)
    if short < 1:
        return slow
    fast = None
    for k in range(short):
        rank = F.get(match, k)
        hit = F.coalesce(F.get(flags, rank), F.lit(False))
        fast = F.when(hit, rank) if fast is None else fast.when(hit, rank)
    return F.when(F.size(match) <= short, fast).otherwise(slow)


def recommendations(evaluated: DataFrame, plans: Mapping[str, MatrixPlan], catalogue: Catalogue, month: str,
                    rules_version: int) -> DataFrame:
    by_family = {}
    for m, p in plans.items():
        if m != "tags":
            by_family.setdefault(p.family, p)
    cols: dict[str, Column] = {"subscriber_id": F.col("subscriber_id").cast("long"), "month": F.lit(month)}
    null_s, empty = F.lit(None).cast("string"), F.array().cast("array<string>")

    # priority
    p = by_family.get("priority")
    default = list((p.meta.get("default") or {}).get("order") or []) if p else []
    default_arr = lit_array(default) if default else F.lit(None).cast("array<string>")
    if p and p.rules:
        first = _first(F.col(p.match_col))
        orders = F.array(*[lit_array(r.outputs["order"]) for r in p.rules])
        cols["priority_order"] = F.when(first.isNotNull(), F.get(orders, first)).otherwise(default_arr)
        cols["priority_rule"] = F.when(first.isNotNull(), F.get(lit_array(p.ids()), first)).otherwise(
            F.lit(f"{p.matrix}.default") if default else null_s)
    else:
        cols["priority_order"] = default_arr
        cols["priority_rule"] = F.lit(f"{p.matrix}.default") if (p and default) else null_s

    # retention: one main policy + one policy group
    p = by_family.get("retention")
    kinds = {pid: pol.kind for pid, pol in catalogue.policies.items()}
    scripts = {pid: pol.script for pid, pol in catalogue.policies.items()}
    if p and p.rules:
        m = F.col(p.match_col)
        ids = lit_array(p.ids())
        pol = lit_array([r.outputs.get("policy") for r in p.rules])
        grp = lit_array([r.outputs.get("policy_group") for r in p.rules])
        gdef = lit_array([catalogue.groups[r.outputs["policy_group"]].default if r.outputs.get("policy_group") else None
                          for r in p.rules])
        script = lit_array([r.outputs.get("script") or scripts.get(r.outputs.get("policy") or "", None)
                            for r in p.rules])
        fm = _first(m, lit_array([r.outputs.get("policy") is not None for r in p.rules], "boolean"), short=2)
        fg = _first(m, lit_array([r.outputs.get("policy_group") is not None for r in p.rules], "boolean"), short=2)
        group_default = F.get(gdef, fg)
        main = F.coalesce(F.get(pol, fm), group_default)
        cols["main_policy"] = main
        kind_map = F.create_map(*[x for k, v in sorted(kinds.items()) for x in (F.lit(k), F.lit(v))])
        script_map = F.create_map(*[x for k, v in sorted(scripts.items()) for x in (F.lit(k), F.lit(v))])
        cols["main_policy_kind"] = F.element_at(kind_map, main) if kinds else null_s
        cols["main_policy_script"] = F.when(fm.isNotNull(), F.get(script, fm)).otherwise(
            F.element_at(script_map, group_default))
        cols["main_policy_rule"] = F.coalesce(F.get(ids, fm), F.get(ids, fg))
        cols["policy_group"] = F.get(grp, fg)
        cols["policy_group_default"] = group_default
        cols["policy_group_rule"] = F.get(ids, fg)
    else:
        for c in ("main_policy", "main_policy_kind", "main_policy_script", "main_policy_rule", "policy_group",
                  "policy_group_default", "policy_group_rule"):
            cols[c] = null_s

    # new business and traffic: every matching policy, in precedence order
    for fam, prefix in (("new_business", "new_business"), ("traffic", "traffic")):
        p = by_family.get(fam)
        if p and p.rules:
            pol = lit_array([r.outputs["policy"] for r in p.rules])
            cols[f"{prefix}_policies"] = F.array_distinct(F.transform(F.col(p.match_col), lambda i: F.get(pol, i)))
            ids = lit_array(p.ids())
            cols[f"{prefix}_rules"] = F.transform(F.col(p.match_col), lambda i: F.get(ids, i))
        else:
            cols[f"{prefix}_policies"], cols[f"{prefix}_rules"] = empty, empty

    # VPN: one offer
    p = by_family.get("vpn")
    if p and p.rules:
        f = _first(F.col(p.match_col))
        cols["vpn_policy"] = F.get(lit_array([r.outputs["policy"] for r in p.rules]), f)
        cols["vpn_rule"] = F.get(lit_array(p.ids()), f)
    else:
        cols["vpn_policy"], cols["vpn_rule"] = null_s, null_s
    cols["tags"] = F.coalesce(F.col(TAGS_COLUMN), empty)
    cols["rules_version"] = F.lit(rules_version).cast("long")
    return evaluated.select(*[cols[f.name].cast(f.dataType).alias(f.name) for f in RECOMMENDATIONS_SCHEMA.fields])

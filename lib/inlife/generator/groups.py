"""Group (enterprise) customers and their members: monthly snapshots.

An enterprise is a neighbourhood block of the index space (population.enterprise): its members are the
block's first ``size`` indexes, its first two members are key persons (关键人).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.params import Month, Params
from inlife.generator.population import BLOCK, GROUP_ID_BASE
from inlife.generator.rand import choice_index, pick, uniform


def groups(spark: SparkSession, p: Params, month: Month, members: DataFrame) -> DataFrame:
    """Groups with at least one member in the month's snapshot."""
    s, col = p.seed, F.col
    g = members.select("group_id", "region").groupBy("group_id").agg(F.first("region").alias("region"))
    block = col("group_id") - GROUP_ID_BASE
    ind = choice_index(uniform(s, "industry", block), R.INDUSTRY_WEIGHTS)
    prefix = pick(R.COMPANY_PREFIXES, F.floor(uniform(s, "company", block) * len(R.COMPANY_PREFIXES)))
    name = F.concat(col("region"), prefix, pick(R.INDUSTRY_WORDS, ind), F.lit("("),
                    (block % 1000).cast("string"), F.lit(")"))
    level = pick(["A", "B", "C", "D"], choice_index(uniform(s, "glevel", block), [0.1, 0.2, 0.3, 0.4]))
    return g.select("group_id", F.lit(month.end).alias("snapshot_date"), name.alias("group_name"),
                    pick(R.INDUSTRIES, ind).alias("industry"), level.alias("group_level"), "region")


def group_members(p: Params, month: Month, st: DataFrame) -> DataFrame:
    col = F.col
    df = st.filter(col("member") & ~col("churned"))
    join = F.greatest(col("activation_date"), F.date_sub(F.lit(p.start_date),
                                                         (F.abs(F.xxhash64(F.lit(p.seed), F.lit("join"), col("idx"))) % 1500).cast("int")))
    return df.select("group_id", "subscriber_id", F.lit(month.end).alias("snapshot_date"),
                     F.when(col("key_person"), "KEY_PERSON").otherwise("MEMBER").alias("member_role"),
                     "vpn_flag", join.alias("join_date"), "region")


_ = BLOCK

"""benchmarks/replicate_lake.py: copy k of a raw table is a disjoint population whose on-net peer numbers
follow their subscribers, so the view of K copies does the work of a K-times larger month."""
from __future__ import annotations

from pyspark.sql import functions as F

from benchmarks.replicate_lake import SHIFT, copy_of, index_of_msisdn
from inlife.generator.population import GROUP_ID_BASE, ID_BASE, msisdn


def _number(spark, idx: int) -> str:
    """The generator's own number for a subscriber index (the expectation, not the inverse under test)."""
    return spark.range(idx, idx + 1).select(msisdn(F.col("id"))).first()[0]


def test_every_generated_number_maps_back_to_its_subscriber(spark):
    df = spark.range(0, 2_000_000, 997).withColumn("n", msisdn(F.col("id")))
    wrong = df.where(~index_of_msisdn(F.col("n")).eqNullSafe(F.col("id"))).count()
    assert wrong == 0
    others = spark.createDataFrame([("13312345678",), ("10086",), ("1381234567",), ("",)], "n string")
    assert [r[0] for r in others.select(index_of_msisdn(F.col("n"))).collect()] == [None] * 4


def test_copy_k_moves_subscribers_numbers_groups_and_ids_together(spark):
    a, b = 5, 70                    # subscriber indexes; b is a's on-net peer
    subs = spark.createDataFrame([(ID_BASE + a, _number(spark, a), GROUP_ID_BASE + a // 64)],
                                 "subscriber_id long, msisdn string, group_id long")
    cdr = spark.createDataFrame([(ID_BASE + a, _number(spark, b), 9), (ID_BASE + a, "13312345678", 8),
                                 (ID_BASE + a, "10086", 7)], "subscriber_id long, peer_number string, recharge_id long")
    assert copy_of(subs, 0).collect() == subs.collect()
    k = 3
    assert [tuple(r) for r in copy_of(subs, k).collect()] == [
        (ID_BASE + a + k * SHIFT, _number(spark, a + k * SHIFT), GROUP_ID_BASE + (a + k * SHIFT) // 64)]
    assert sorted(tuple(r) for r in copy_of(cdr, k).collect()) == sorted([
        (ID_BASE + a + k * SHIFT, _number(spark, b + k * SHIFT), 9 + k * 10 ** 12),
        (ID_BASE + a + k * SHIFT, "13312345678", 8 + k * 10 ** 12),      # off-net: kept
        (ID_BASE + a + k * SHIFT, "10086", 7 + k * 10 ** 12)])           # service number: kept

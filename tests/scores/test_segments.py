"""Segments: planted behaviour groups get their configured names, and keep ids from month to month."""
from __future__ import annotations


from pyspark.sql import functions as F

from inlife.scores.segments import cluster_month, load_segment_config, profiles, share_subgroups

PLANTED = {  # segment name -> the feature that is large for its members (low_use: small circle, little of all)
    "local_talkers": "voice_local_mo_min", "out_of_province_called": "voice_ld_inter_mt_min",
    "roaming_business": "voice_roam_inter_mo_min", "youth_data": "data_volume_mb", "seniors": "age",
    "enterprise_vpn": "voice_vpn_mo_min", "low_use": None,
}


def planted_view(spark, cfg, month, per_group=60, salt=0):
    """Members of each planted group: their signature feature high, a modest baseline elsewhere."""
    names = list(PLANTED)
    rows = spark.range(len(names) * per_group).select(
        F.col("id").alias("subscriber_id"), F.lit(month).alias("month"),
        (F.col("id") % len(names)).cast("int").alias("g"),
        ((F.hash(F.col("id"), F.lit(salt)) % 1000) / 1000.0).alias("noise"))
    cols = []
    for f in cfg.features:
        base = F.lit(20.0 if f == "circle_breadth" else (35.0 if f == "age" else 3.0))
        value = base
        for gi, name in enumerate(names):
            if PLANTED[name] == f:
                value = F.when(F.col("g") == gi, F.lit(70.0 if f == "age" else 400.0)).otherwise(value)
        if f == "circle_breadth":
            value = F.when(F.col("g") == names.index("low_use"), F.lit(1.0)).otherwise(value)
        if f not in ("age",):
            value = F.when(F.col("g") == names.index("low_use"), F.least(value, F.lit(1.0))).otherwise(value)
        cols.append((value * (1 + 0.2 * F.col("noise"))).alias(f))
    return rows.select("subscriber_id", "month", "g", *cols)


def purity(segments, view):
    names = list(PLANTED)
    joined = segments.join(view.select("subscriber_id", "g"), "subscriber_id")
    got = joined.groupBy("g", "segment_name").count().collect()
    best = {}
    for r in got:
        if r["count"] > best.get(r.g, (None, 0))[1]:
            best[r.g] = (r.segment_name, r["count"])
    return {names[g]: name for g, (name, _) in best.items()}


def test_planted_groups_get_their_names_and_keep_ids_next_month(spark, base_conf):
    cfg = load_segment_config(base_conf).model_copy(update={"max_iterations": 10})
    march = planted_view(spark, cfg, "2024-03")
    seg_march, centroids, cached = cluster_month(march, "2024-03", cfg, None)
    assert purity(seg_march, march) == {n: n for n in PLANTED}
    assert seg_march.select("subgroup_id").distinct().count() == cfg.subgroups
    ids_march = {r.segment_name: r.segment_id for r in seg_march.select("segment_name", "segment_id").distinct().collect()}
    assert ids_march == {s.name: i + 1 for i, s in enumerate(cfg.segments)}

    # April: the same kinds of people, other noise and other subscriber ids; k-means may number its clusters
    # differently, the matching to March's centroids keeps names and ids
    april = planted_view(spark, cfg, "2024-04", per_group=50, salt=7)
    seg_april, _, _ = cluster_month(april, "2024-04", cfg, centroids)
    assert purity(seg_april, april) == {n: n for n in PLANTED}
    ids_april = {r.segment_name: r.segment_id for r in seg_april.select("segment_name", "segment_id").distinct().collect()}
    assert ids_april == ids_march
    assert seg_april.select("subgroup_id").distinct().count() == cfg.subgroups

    prof = {p["segment_name"]: p for p in profiles(seg_march, march, cfg)}
    assert prof["seniors"]["distinguishing"][0].startswith("age high")
    assert prof["youth_data"]["distinguishing"][0].startswith("data_volume_mb high")
    assert sum(p["size"] for p in prof.values()) == 7 * 60


def test_share_subgroups():
    assert share_subgroups([100, 100, 100, 100, 100, 100, 100], 16) == [3, 3, 2, 2, 2, 2, 2]
    assert share_subgroups([1000, 10, 10], 6) == [4, 1, 1]
    assert sum(share_subgroups([5, 900, 30, 60, 1, 4, 0], 16)) == 16


def test_matrix_dimension_names_the_configured_segments(base_conf):
    """Rules can only match segments by the names the segments job gives them."""
    from pathlib import Path

    import yaml

    dims = yaml.safe_load((Path(base_conf.conf_dir) / "matrices" / "_dimensions.yaml").read_text(encoding="utf-8"))
    assert dims["dimensions"]["segment_name"]["values"] == [s.name for s in load_segment_config(base_conf).segments]

"""Building scores.value, scores.group_value and scores.segments for one month."""
from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, DoubleType, IntegerType, LongType, StringType, StructField, StructType

from inlife.config import Config
from inlife.months import add_months, check_month
from inlife.publish import Publication
from inlife.scores import segments as seg
from inlife.scores.value import group_value, load_value_model, subscriber_value
from inlife.tables import Tables
from inlife.tables.catalogue import CUSTOMER_VIEW, GROUP_VALUE, SEGMENT_CENTROIDS, SEGMENT_PROFILES, SEGMENTS, VALUE

CENTROIDS = StructType([
    StructField("month", StringType()), StructField("level", IntegerType()), StructField("id", IntegerType()),
    StructField("parent_id", IntegerType()), StructField("name", StringType()),
    StructField("centroid", ArrayType(DoubleType())), StructField("size", LongType())])
PROFILES = StructType([
    StructField("month", StringType()), StructField("segment_id", IntegerType()),
    StructField("segment_name", StringType()), StructField("size", LongType()), StructField("share", DoubleType()),
    StructField("distinguishing", ArrayType(StringType())), StructField("means_json", StringType())])


def build_value(spark: SparkSession, conf: Config, month: str) -> list:
    month = check_month(month)
    tables = Tables(spark, conf)
    model = load_value_model(conf)
    view = tables.read(CUSTOMER_VIEW, partitions={"month": month})
    value = subscriber_value(view, model).cache()
    with Publication(tables, conf, workers=int(conf.get("run.parallel_tables")), batch=month) as pub:
        pub.add(VALUE, value)
        pub.add(GROUP_VALUE, group_value(view, value, model))
    value.unpersist()
    return pub.results


def build_segments(spark: SparkSession, conf: Config, month: str) -> list:
    import json

    month = check_month(month)
    tables = Tables(spark, conf)
    cfg = seg.load_segment_config(conf)
    view = tables.read(CUSTOMER_VIEW, partitions={"month": month})
    previous = None
    if tables.exists(SEGMENT_CENTROIDS):
        prev_month = add_months(month, -1)
        previous = [r.asDict() for r in
                    tables.read(SEGMENT_CENTROIDS, partitions={"month": prev_month}).collect()] or None
    segments, centroids, cached = seg.cluster_month(view, month, cfg, previous)
    segments = segments.cache()
    prof = seg.profiles(segments, view, cfg)
    sizes = {}
    for p in prof:
        sizes[p["segment_id"]] = p["size"]
    centroid_df = spark.createDataFrame(
        [(r["month"], r["level"], r["id"], r["parent_id"], r["name"], r["centroid"],
          sizes.get(r["id"]) if r["level"] == 1 else None) for r in centroids], CENTROIDS)
    profile_df = spark.createDataFrame(
        [(month, p["segment_id"], p["segment_name"], p["size"], p["share"], p["distinguishing"],
          json.dumps(p["means"], ensure_ascii=False)) for p in prof], PROFILES)
    with Publication(tables, conf, workers=int(conf.get("run.parallel_tables")), batch=month) as pub:
        pub.add(SEGMENTS, segments)
        pub.add(SEGMENT_CENTROIDS, centroid_df)
        pub.add(SEGMENT_PROFILES, profile_df)
    segments.unpersist()
    cached.unpersist()
    for p in prof:
        print(f"segment {p['segment_id']} {p['segment_name']:<24} {p['size']:>9,} ({p['share']:.1%})  "
              f"{'; '.join(p['distinguishing'])}")
    return pub.results

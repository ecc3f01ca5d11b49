"""intermediate.social_circle: the subscriber's calling circle (交往圈) and their influence on it.

Breadth is the number of distinct peers; depth is how concentrated the calls are (the Herfindahl index of
calls over peers, and the top peer's share — both need no sort, unlike a top-k). VPN breadth and depth are
the same over VPN calls. On-net peers are mapped to subscribers through their numbers, which gives peers in
the same group, peers that churned in the last 3 months, and influence: weighted in-degree (the sum over
callers of the share of their calls that go to this subscriber: how much others depend on them) and a few
PageRank iterations over the on-net call graph, written as plain joins.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inlife.intermediate.common import in_month, safe_div
from inlife.session import adaptive_execution_off

VPN_TYPES = ("VPN", "VPN_ROAM")

SOCIAL_COLUMNS = [
    "circle_breadth", "circle_calls", "circle_depth_hhi", "circle_top_peer_share",
    "vpn_breadth", "vpn_depth_hhi", "onnet_peers", "offnet_peers", "onnet_peer_share",
    "peers_same_group", "peers_churned_3m", "peers_churned_3m_share",
    "influence_in_degree", "influence_weighted_in_degree", "influence_pagerank",
]


def call_pairs(cdr: DataFrame, month: str, own_operator: str) -> DataFrame:
    """(subscriber_id, peer_number) with calls, minutes and whether the pair talks over VPN or on-net."""
    return (cdr.where(in_month("start_time", month))
            .groupBy("subscriber_id", "peer_number")
            .agg(F.count(F.lit(1)).alias("calls"),
                 F.sum(F.col("duration_sec") / 60.0).alias("minutes"),
                 F.max(F.col("call_type").isin(*VPN_TYPES).cast("int")).alias("is_vpn"),
                 F.max((F.col("peer_operator") == own_operator).cast("int")).alias("is_onnet")))


def pagerank(edges: DataFrame, nodes: DataFrame, iterations: int, damping: float = 0.85) -> DataFrame:
    """PageRank over weighted edges (src, dst, w with w summing to 1 per src); nodes (node). Ranks sum to
    the node count, so 1.0 is an average subscriber. Dangling mass is spread evenly.

    The edges and every iteration's ranks are checkpointed hash-partitioned alike (edges by src, ranks by
    node), so an iteration shuffles only its contributions: the edges, the largest frame, are shuffled once
    rather than once per iteration. Checkpoints keep
    their partitioning only when adaptive execution is off (under it they report none), so it is off for
    the loop; the partition count is the session's ``spark.sql.shuffle.partitions``, which the loop's
    aggregations also use. Each checkpoint also keeps the plan one iteration deep."""
    spark = edges.sparkSession
    parts = int(spark.conf.get("spark.sql.shuffle.partitions"))
    with adaptive_execution_off(spark):
        edges = edges.select("src", "dst", "w").repartition(parts, "src").localCheckpoint(eager=True)
        # Whether a node has out-edges is fixed: carried with its rank, the dangling mass needs no join.
        src = edges.select(F.col("src").alias("node")).distinct().withColumn("has_out", F.lit(True))
        ranks = (nodes.join(src, "node", "left")
                 .select("node", F.coalesce("has_out", F.lit(False)).alias("has_out"), F.lit(1.0).alias("rank"))
                 .repartition(parts, "node")
                 .localCheckpoint(eager=True))
        n = ranks.count()
        if n == 0:
            return nodes.withColumn("rank", F.lit(None).cast("double"))
        for _ in range(iterations):
            ranks = next_ranks(edges, ranks, n, damping).localCheckpoint(eager=True)
    return ranks.select("node", "rank")


def next_ranks(edges: DataFrame, ranks: DataFrame, n: int, damping: float) -> DataFrame:
    """One PageRank iteration: ranks (node, has_out, rank) from the previous ones. With both inputs
    partitioned as ``pagerank`` leaves them, its plan has one exchange: the contributions by destination.
    It runs one small job when called: the dangling mass, a sum over the ranks, taken as a constant."""
    dangling = ranks.where(~F.col("has_out")).agg(F.sum("rank")).first()[0] or 0.0
    # Hash joins: a partition's ranks fit in memory, and neither side then needs sorting.
    contrib = (edges.join(ranks.select(F.col("node").alias("src"), "rank").hint("shuffle_hash"), "src")
               .groupBy(F.col("dst").alias("node")).agg(F.sum(F.col("rank") * F.col("w")).alias("c")))
    return (ranks.select("node", "has_out").join(contrib.hint("shuffle_hash"), "node", "left")
            .select("node", "has_out", ((1 - damping) + damping * (F.coalesce(F.col("c"), F.lit(0.0))
                                                                   + F.lit(dangling / n))).alias("rank")))


def social_circle(cdr: DataFrame, month: str, numbers: DataFrame, groups: DataFrame, churned: DataFrame,
                  own_operator: str = "CMCC", pagerank_iterations: int = 5) -> DataFrame:
    """Per (subscriber_id, month) circle factors.

    numbers: (subscriber_id, msisdn) of own subscribers; groups: (subscriber_id, group_id) in the month;
    churned: (subscriber_id) who churned in the last 3 months up to the month's end.
    """
    # peers that are our own subscribers (on-net and known)
    peer_ids = numbers.select(F.col("msisdn").alias("peer_number"), F.col("subscriber_id").alias("peer_id"))
    # Checkpointed: the one pass over the month's CDR. Everything below (and every PageRank iteration,
    # through the edges and nodes) reads the pairs; uncheckpointed, each of those jobs would aggregate the
    # CDR again.
    pairs = call_pairs(cdr, month, own_operator).join(peer_ids, "peer_number", "left").localCheckpoint(eager=True)

    # Two passes over the pairs, each into a small checkpoint; the steps after them read only those. (Left
    # as lazy frames, the edges, the nodes and the output would each read the pairs again.)
    per_sub = pairs.groupBy("subscriber_id").agg(
        F.count(F.lit(1)).alias("circle_breadth"),
        F.sum("calls").alias("circle_calls"),
        F.sum(F.col("calls") * F.col("calls")).alias("_sq"),
        F.max("calls").alias("_top"),
        F.sum(F.col("is_vpn")).alias("vpn_breadth"),
        F.sum(F.when(F.col("is_vpn") == 1, F.col("calls")).otherwise(0)).alias("_vpn_calls"),
        F.sum(F.when(F.col("is_vpn") == 1, F.col("calls") * F.col("calls")).otherwise(0)).alias("_vpn_sq"),
        F.sum("is_onnet").alias("onnet_peers"),
    ).localCheckpoint(eager=True)

    my_group = groups.select("subscriber_id", "group_id")
    peer_group = groups.select(F.col("subscriber_id").alias("peer_id"), F.col("group_id").alias("peer_group"))
    churned_ids = churned.select(F.col("subscriber_id").alias("peer_id")).distinct().withColumn("peer_churned", F.lit(1))
    # Pairs with a known on-net peer, caller -> callee weighted by the caller's share of calls, with the
    # flags the per-caller counts need.
    known = (pairs.where(F.col("peer_id").isNotNull())
             .join(peer_group, "peer_id", "left")
             .join(churned_ids, "peer_id", "left")
             .join(my_group, "subscriber_id", "left")
             .join(per_sub.select("subscriber_id", "circle_calls"), "subscriber_id")
             .select(F.col("subscriber_id").alias("src"), F.col("peer_id").alias("dst"),
                     (F.col("calls") / F.col("circle_calls")).alias("w"),
                     (F.col("group_id").isNotNull() & (F.col("group_id") == F.col("peer_group")))
                     .cast("int").alias("same_group"),
                     F.coalesce(F.col("peer_churned"), F.lit(0)).alias("peer_churned"))
             .localCheckpoint(eager=True))
    per_known = known.groupBy(F.col("src").alias("subscriber_id")).agg(
        F.sum("same_group").alias("peers_same_group"), F.sum("peer_churned").alias("peers_churned_3m"))

    # Influence: edges caller -> callee (a subscriber calling their own number is no edge).
    edges = known.where(F.col("src") != F.col("dst")).select("src", "dst", "w")
    indeg = edges.groupBy(F.col("dst").alias("subscriber_id")).agg(
        F.count(F.lit(1)).alias("influence_in_degree"), F.sum("w").alias("influence_weighted_in_degree"))
    nodes = per_sub.select(F.col("subscriber_id").alias("node")).union(
        edges.select(F.col("dst").alias("node"))).distinct().localCheckpoint(eager=True)
    ranks = pagerank(edges, nodes, pagerank_iterations).select(
        F.col("node").alias("subscriber_id"), F.col("rank").alias("influence_pagerank"))

    out = (per_sub.join(per_known, "subscriber_id", "left")
           .join(indeg, "subscriber_id", "left")
           .join(ranks, "subscriber_id", "left")
           .withColumn("month", F.lit(month))
           .withColumn("circle_depth_hhi", safe_div(F.col("_sq"), F.col("circle_calls") * F.col("circle_calls")))
           .withColumn("circle_top_peer_share", safe_div(F.col("_top"), F.col("circle_calls")))
           .withColumn("vpn_depth_hhi", safe_div(F.col("_vpn_sq"), F.col("_vpn_calls") * F.col("_vpn_calls")))
           .withColumn("offnet_peers", F.col("circle_breadth") - F.col("onnet_peers"))
           .withColumn("onnet_peer_share", safe_div(F.col("onnet_peers"), F.col("circle_breadth")))
           .withColumn("peers_same_group", F.coalesce("peers_same_group", F.lit(0)))
           .withColumn("peers_churned_3m", F.coalesce("peers_churned_3m", F.lit(0)))
           .withColumn("peers_churned_3m_share", safe_div(F.col("peers_churned_3m"), F.col("onnet_peers")))
           .withColumn("influence_in_degree", F.coalesce("influence_in_degree", F.lit(0)))
           .withColumn("influence_weighted_in_degree", F.coalesce("influence_weighted_in_degree", F.lit(0.0))))
    return out.select("subscriber_id", "month", *[_typed(c) for c in SOCIAL_COLUMNS])


def _typed(c: str):
    ints = {"circle_breadth", "circle_calls", "vpn_breadth", "onnet_peers", "offnet_peers", "peers_same_group",
            "peers_churned_3m", "influence_in_degree"}
    return F.col(c).cast("long" if c in ints else "double").alias(c)

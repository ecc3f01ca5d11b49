"""social_circle on a hand-built call graph; the expected values are worked out in the comments."""
from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from inlife.intermediate.social import SOCIAL_COLUMNS, pagerank, social_circle
from tests.intermediate.rawframes import raw_frame


def call(sub, peer, op, ctype="LOCAL", start="2024-03-10 10:00:00", secs=60):
    return dict(subscriber_id=sub, peer_number=peer, peer_operator=op, peer_province="浙江", direction="MO",
                call_type=ctype, start_time=start, duration_sec=secs, charge=0.1, cell_id="c", batch_date=start[:10])


CALLS = [
    call(1, "13800000002", "CMCC", "VPN"), call(1, "13800000002", "CMCC"), call(1, "13800000002", "CMCC"),
    call(1, "13800000003", "CMCC"), call(1, "15000000009", "CT"),
    call(2, "13800000001", "CMCC"), call(2, "13800000001", "CMCC"),
    call(3, "13800000004", "CMCC"),
    call(3, "13800000001", "CMCC", start="2024-02-10 10:00:00"),  # February: outside the month
]


def pagerank_oracle(edges, nodes, iterations, d=0.85):
    """Plain-Python PageRank with the same conventions (ranks sum to n, dangling mass spread evenly)."""
    rank = {v: 1.0 for v in nodes}
    out = {u for u, _, _ in edges}
    for _ in range(iterations):
        dangling = sum(r for v, r in rank.items() if v not in out)
        contrib = {v: 0.0 for v in nodes}
        for u, v, w in edges:
            contrib[v] += rank[u] * w
        rank = {v: (1 - d) + d * (contrib[v] + dangling / len(nodes)) for v in nodes}
    return rank


def test_social_circle_by_hand(spark):
    numbers = spark.createDataFrame([(i, f"1380000000{i}") for i in (1, 2, 3, 4)], "subscriber_id long, msisdn string")
    groups = spark.createDataFrame([(1, 100), (2, 100), (3, 200)], "subscriber_id long, group_id long")
    churned = spark.createDataFrame([(4,)], "subscriber_id long")
    got = social_circle(raw_frame(spark, "voice_cdr", CALLS), "2024-03", numbers, groups, churned, "CMCC", 5)

    # edges caller -> callee weighted by the caller's share of calls: 1->2 3/5, 1->3 1/5, 2->1 1, 3->4 1
    pr = pagerank_oracle([(1, 2, 0.6), (1, 3, 0.2), (2, 1, 1.0), (3, 4, 1.0)], [1, 2, 3, 4], 5)
    rows = [
        # breadth, calls, hhi = sum(c^2)/calls^2, top share, vpn breadth, vpn hhi, on-net, off-net, on-net share,
        # same group, churned peers, churned share, in-degree, weighted in-degree, pagerank
        (1, "2024-03", 3, 5, 11 / 25, 0.6, 1, 1.0, 2, 1, 2 / 3, 1, 0, 0.0, 1, 1.0, pr[1]),
        (2, "2024-03", 1, 2, 1.0, 1.0, 0, None, 1, 0, 1.0, 1, 0, 0.0, 1, 0.6, pr[2]),
        (3, "2024-03", 1, 1, 1.0, 1.0, 0, None, 1, 0, 1.0, 0, 1, 1.0, 1, 0.2, pr[3]),
    ]
    assert got.columns == ["subscriber_id", "month", *SOCIAL_COLUMNS]
    assertDataFrameEqual(got, spark.createDataFrame(rows, got.schema))


def test_pagerank_of_a_cycle_is_uniform_and_sums_to_n(spark):
    edges = spark.createDataFrame([(1, 2, 1.0), (2, 3, 1.0), (3, 1, 1.0)], "src long, dst long, w double")
    nodes = spark.createDataFrame([(1,), (2,), (3,)], "node long")
    ranks = {r.node: r.rank for r in pagerank(edges, nodes, 10).collect()}
    assert ranks == pytest.approx({1: 1.0, 2: 1.0, 3: 1.0})


def test_a_pagerank_iteration_shuffles_only_its_contributions(spark):
    """Edges and ranks partitioned as pagerank leaves them: an iteration's plan has one exchange (the
    contributions by destination), not one for the edges and one for the ranks as well. And the loop
    leaves adaptive execution as it found it."""

    from inlife.intermediate.social import next_ranks
    from inlife.session import adaptive_execution_off

    parts = int(spark.conf.get("spark.sql.shuffle.partitions"))
    adaptive = spark.conf.get("spark.sql.adaptive.enabled")
    edges = spark.createDataFrame([(1, 2, 1.0), (2, 3, 0.5), (2, 1, 0.5), (3, 1, 1.0)], "src long, dst long, w double")
    ranks = spark.createDataFrame([(1, True, 1.0), (2, True, 1.0), (3, True, 1.0), (4, False, 1.0)],
                                  "node long, has_out boolean, rank double")
    with adaptive_execution_off(spark):
        edges = edges.repartition(parts, "src").localCheckpoint(eager=True)
        ranks = ranks.repartition(parts, "node").localCheckpoint(eager=True)
        step = next_ranks(edges, ranks, 4, 0.85)
        plan = step._jdf.queryExecution().executedPlan().toString()
        got = {r.node: r.rank for r in step.collect()}
    assert plan.count("Exchange") == 1 and "Exchange hashpartitioning(dst" in plan, plan
    # by hand: dangling mass 1 (node 4) spread over 4 nodes; c1 = 1*0.5 + 1*1, c2 = 1, c3 = 0.5, c4 = 0
    assert got == pytest.approx({n: 0.15 + 0.85 * (c + 0.25) for n, c in {1: 1.5, 2: 1.0, 3: 0.5, 4: 0.0}.items()})
    assert spark.conf.get("spark.sql.adaptive.enabled") == adaptive
    pagerank(edges, ranks.select("node"), 2).count()
    assert spark.conf.get("spark.sql.adaptive.enabled") == adaptive


def test_social_circle_reads_the_cdr_once(spark):
    """The CDR is aggregated into call pairs once; the edges, the nodes and every PageRank iteration read
    the pairs. Each CDR row passes a counting filter: more passes over the CDR count more rows."""
    from pyspark.sql import functions as F

    seen = spark.sparkContext.accumulator(0)

    def count_row(_):
        seen.add(1)
        return True

    counting = F.udf(count_row, "boolean").asNondeterministic()
    cdr = raw_frame(spark, "voice_cdr", CALLS)
    numbers = spark.createDataFrame([(i, f"1380000000{i}") for i in (1, 2, 3, 4)], "subscriber_id long, msisdn string")
    groups = spark.createDataFrame([(1, 100)], "subscriber_id long, group_id long")
    churned = spark.createDataFrame([(4,)], "subscriber_id long")
    got = social_circle(cdr.where(counting("subscriber_id")), "2024-03", numbers, groups, churned, "CMCC", 5)
    assert got.count() == 3
    assert seen.value == len(CALLS)

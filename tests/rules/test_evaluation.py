"""Evaluation by rule bit sets (evaluate.py, index.py) against the plain definition of a match: a rule matches
when every dimension of its ``when`` holds the subscriber's value and its condition is true; single-winner
matrices keep the first match per output slot, multi matrices every match, in (precedence, position) order."""
from __future__ import annotations

import math
import random

import pytest
from pyspark.sql import functions as F

from inlife.rules.columns import TAGS_COLUMN, kinds_of
from inlife.rules.compile import check, load_checked
from inlife.rules.derived import add_derived
from inlife.rules.evaluate import WORD, evaluate_state, first_slots, plan, table_span
from inlife.rules.translate import to_column
from inlife.rules.expressions import parse
from inlife.rules.index import _Space, build_index, conjuncts
from inlife.rules.model import Rule, RuleSet
from tests.rules.stateframes import KINDS, MONTH, SCHEMA, state_frame


# -- index.py ------------------------------------------------------------------------------------------------
def node(text: str):
    return parse(text, KINDS, tags={"vip_gold"})


def test_conjuncts_split_top_level_and_only():
    assert [c.text for c in conjuncts(node("86 < return_rate <= 100 and (arpu < 30 or arpu > 50)"))] == \
        ["86 < return_rate", "return_rate <= 100", "(arpu < 30 or arpu > 50)"]
    assert conjuncts(None) == []


def test_numeric_regions_and_null():
    space = _Space("double", [30, 10, 30.0, 20.5])
    assert space.points == [10, 20.5, 30] and space.size == 8     # null, <10, 10, (10,20.5), 20.5, ..., >30
    mask, null = space.leaf("<=", [20.5])
    assert [r for r in range(space.size) if mask >> r & 1] == [1, 2, 3, 4] and null is None
    mask, null = space.leaf("is null", [])
    assert mask == 0 and null is True


def test_one_column_conjuncts_are_indexed_the_rest_stay_residual():
    nodes = [node("40 < arpu <= 75 and vip_level in ('GOLD', 'DIAMOND') and arpu + tenure_months > 3"),
             node("not (arpu between 10 and 20) or arpu is null"),
             node("has_tag('vip_gold') and tenure_months >= 12"),
             None]
    ix = build_index(nodes, SCHEMA, 1)
    assert sorted(c.column for c in ix.columns) == ["arpu", "tenure_months", "vip_level"]
    assert [[c.text for c in r] for r in ix.residual] == [["arpu + tenure_months > 3"], [], ["has_tag('vip_gold')"], []]
    arpu = next(c for c in ix.columns if c.column == "arpu")
    assert arpu.points == [10, 20, 40, 75]   # regions: 0 null, 1 <10, 2 =10, 3 (10,20), 4 =20, ..., 8 =75, 9 >75
    admits = {i: [r for r, bits in enumerate(arpu.bits) if bits >> i & 1] for i in range(4)}
    assert admits[0] == [7, 8]
    assert admits[1] == [0, 1, 5, 6, 7, 8, 9]
    assert admits[2] == admits[3] == list(range(10))


# -- evaluation against the definition -------------------------------------------------------------------
TEMPLATES = [
    "{a} < arpu <= {b}", "{a} <= arpu < {b}", "arpu between {a} and {b}", "arpu not between {a} and {b}",
    "arpu in ({a}, {b}, 10.01)", "arpu not in ({a}, {b})", "arpu is null", "arpu is not null", "{a} > arpu",
    "{a} >= arpu", "arpu = {a}", "arpu <> {a}", "tenure_months >= {t}", "tenure_months < {t}.5",
    "tenure_months > {t}", "tenure_months = {t}", "tenure_months in ({t}, 13)", "complaints between -3 and 200000",
    "complaints > {t}", "month_end_balance > {t}", "month_end_balance <= {t} or month_end_balance >= 100",
    "return_rate > {r} or return_rate is null", "return_rate <= {r}", "not (return_rate >= {r})",
    "not (arpu < {a} and return_rate > {r})", "arpu + 0 > {a}", "coalesce(arpu, 0) < {a}",
    "vip_level = 'GOLD'", "vip_level in ('GOLD', 'DIAMOND')", "vip_level != 'NONE'", "vip_level not in ('X')",
    "vip_level is null", "not (vip_level = 'GOLD' or vip_level is null)", "has_tag('vip_gold') and arpu > {a}",
    "age <= 24 and brand = 'MZONE'", "age >= {t}", "age in ({t}, 30)", "age between 12 and {t}",
]
# thresholds ... (searched: arpu, return_rate, complaints, tenure_months; tables: month_end_balance, age)
ARPU = [-5, 0, 0.5, 10, 10.01, 29.999, 30, 33.3333, 50, 100, 150.5, 1e9]
TENURE = [0, 11, 12, 13, 120]
RETURN = [0, 86, 99.5, 100]
DIMS = {"value_tier": ["high", "mid_high", "mid", "low"], "churn_grade": ["abnormal", "normal"],
        "segment_name": ["local_talkers", "seniors", "youth_data"]}
MATRICES = [("t_retention", "retention", 140), ("t_multi", "new_business", 70), ("t_single", "vpn", 20)]


def generated_rules(seed: int = 7) -> list[Rule]:
    rnd = random.Random(seed)
    rules, position = [], 0
    for matrix, family, count in MATRICES:
        for k in range(count):
            position += 1
            parts = []
            for _ in range(rnd.choice([0, 1, 1, 2, 3])):
                a, b = sorted(rnd.sample(ARPU, 2)) if rnd.random() < 0.8 else rnd.sample(ARPU, 2)
                parts.append(rnd.choice(TEMPLATES).format(a=a, b=b, t=rnd.choice(TENURE), r=rnd.choice(RETURN)))
            when = {d: rnd.sample(v, rnd.choice([1, 2])) for d, v in DIMS.items() if rnd.random() < 0.2}
            outputs = {"policy": "P"} if family != "retention" else \
                rnd.choice([{"policy": "P"}, {"policy_group": "G"}, {"policy": "P", "policy_group": "G"}])
            rules.append(Rule(rule_id=f"{matrix}.r{k:03d}", matrix=matrix, family=family,
                              precedence=rnd.randint(0, 40), position=position, when=when,
                              condition=" and ".join(parts) or None, outputs=outputs, name="", source="test"))
    return rules


def state_rows(seed: int = 11) -> list[dict]:
    """... and values on, just off and between them, null, NaN, infinities, values outside the lists."""
    rnd = random.Random(seed)
    arpu = [float(v) for v in ARPU] + [None, math.nan, -0.0, -math.inf, math.inf, 9.99, 30.0001, 29.9989, 75.0]
    rows = []
    for _ in range(300):
        rows.append({
            "arpu": rnd.choice(arpu), "tenure_months": rnd.choice(TENURE + [None, 12, 250000, -1]),
            "complaints": rnd.choice([None, -3, 0, 12, 200000, 200001]),
            "month_end_balance": rnd.choice([None, 0.0, 11.0, 11.5, 12.0, 12.25, 119.99, 120.0, 100.0, -0.5, math.nan]),
            "return_rate": rnd.choice([float(v) for v in RETURN] + [None, 86.0001, 99.4999, math.nan]),
            "value_tier": rnd.choice([None, "high", "mid", "low", "platinum"]),
            "churn_grade": rnd.choice([None, "abnormal", "normal"]),
            "segment_name": rnd.choice([None, "local_talkers", "seniors", "local_talker"]),
            "vip_level": rnd.choice([None, "GOLD", "DIAMOND", "NONE", "X"]), "age": rnd.choice([None, -1, 0, 11, 12, 13, 20, 30, 120, 121]),
            "brand": rnd.choice([None, "MZONE", "GOTONE"]),
        })
    return rows


@pytest.fixture(scope="module")
def evaluated(spark, base_conf):
    shipped, catalogue, _ = load_checked(base_conf)
    tags = [r for r in shipped.rules if r.matrix == "tags"]
    ruleset = RuleSet(tags + generated_rules(), shipped.dimensions, shipped.matrices)
    state = add_derived(state_frame(spark, state_rows()), MONTH)
    nodes = check(ruleset, kinds_of(state.schema))
    plans = plan(ruleset, nodes, None, MONTH)
    assert len(plans["t_retention"].rules) > 2 * WORD                 # several words per row
    indexed = {c.column: c for c in build_index(plans["t_retention"].nodes, state.schema, 3).columns}
    assert not table_span(indexed["arpu"]) and not table_span(indexed["complaints"])
    assert not table_span(indexed["tenure_months"])                   # an int column with a 12.5 threshold
    assert table_span(indexed["month_end_balance"]) and table_span(indexed["age"])    # double and int tables
    first = evaluate_state(spark, state, ruleset, plans)
    every = evaluate_state(spark, state, ruleset, plans, all_matches=True, keep_candidates=True)
    got = {r["subscriber_id"]: r for r in first.select("subscriber_id", TAGS_COLUMN,
                                                       *[p.match_col for p in plans.values()]).collect()}
    got_all = {r["subscriber_id"]: r for r in every.select("subscriber_id",
                                                           *[p.match_col for p in plans.values()],
                                                           *[p.cand_col for p in plans.values()]).collect()}
    return state, ruleset, plans, got, got_all


def definition(state, plans):
    """Per subscriber and matrix, which ranks match and which the ``when`` admits - one boolean per rule."""
    def holds(rule, nd, tags_col):
        ok = F.lit(True)
        for d, values in rule.when.items():
            ok = ok & F.coalesce(F.col(d).cast("string").isin(*values), F.lit(False))
        return ok, ok & (F.lit(True) if nd is None else F.coalesce(to_column(nd, tags_col), F.lit(False)))

    tp = plans["tags"]
    tag_flags = [holds(r, nd, "_ref_tags")[1] for r, nd in zip(tp.rules, tp.nodes)]
    ids = [r.outputs["tag_id"] for r in tp.rules]
    ref = state.withColumn("_ref_tags", F.array_compact(F.array(*[F.when(f, F.lit(t)) for f, t in zip(tag_flags, ids)])))
    cols = []
    for m, p in plans.items():
        for i, (r, nd) in enumerate(zip(p.rules, p.nodes)):
            when_ok, match = holds(r, nd, "_ref_tags")
            cols += [when_ok.alias(f"{m}__w{i}"), match.alias(f"{m}__m{i}")]
    return {r["subscriber_id"]: r for r in ref.select("subscriber_id", "_ref_tags", *cols).collect()}


def test_matches_equal_the_definition(evaluated):
    state, _, plans, got, got_all = evaluated
    ref = definition(state, plans)
    assert set(got) == set(ref) and len(got) == 300
    checked = 0
    for sid, row in ref.items():
        assert list(got[sid][TAGS_COLUMN]) == list(row["_ref_tags"]), sid
        for m, p in plans.items():
            matched = [i for i in range(len(p.rules)) if row[f"{m}__m{i}"]]
            admitted = [i for i in range(len(p.rules)) if row[f"{m}__w{i}"]]
            slots = first_slots(p)
            if slots:
                firsts = {next(i for i in matched if s >> i & 1) for s in slots if any(s >> i & 1 for i in matched)}
                expected = sorted(firsts)
            else:
                expected = matched
            assert list(got[sid][p.match_col]) == expected, (sid, m)
            assert list(got_all[sid][p.match_col]) == matched, (sid, m)
            assert (list(got_all[sid][p.cand_col]) if got_all[sid][p.cand_col] is not None else []) == admitted
            checked += len(matched)
    assert checked > 3000                                             # the rules do match, often


def test_no_lambda_over_the_rules(evaluated, spark):
    """The words and matches are compiled expressions: the only lambdas in the plan are the one-element
    stage breaks (always false), never one over the rules or their candidates."""
    state, ruleset, plans, _, _ = evaluated
    out = evaluate_state(spark, state, ruleset, plans)
    text = out._jdf.queryExecution().optimizedPlan().treeString(True, False, 1_000_000, False)
    assert text.count("lambdafunction(false,") == text.count("lambdafunction(") > 0


def test_a_filter_on_the_matches_stops_at_the_words(evaluated, spark):
    """A filter on a matrix's matches is not rewritten down into the regions and the rule bit sets (the plan
    text would grow with every reference: at a thousand rules it filled the driver's heap)."""
    state, ruleset, plans, got, _ = evaluated
    m = plans["t_retention"].match_col
    filtered = evaluate_state(spark, state, ruleset, plans).where(F.size(F.col(m)) > 0)
    text = filtered._jdf.queryExecution().optimizedPlan().treeString(True, False, 1_000_000, False)
    conditions = [line.strip(" +-:") for line in text.splitlines()
                  if line.lstrip(" +-:").startswith("Filter ") and "t_retention" in line]
    assert conditions and all(len(c) < 500 and "_r_t_retention_" not in c for c in conditions), conditions
    assert filtered.count() == sum(1 for r in got.values() if r[m])

"""Reason codes as the people who act on them read them.

A target's reasons are codes: the matrix cell (rule id) that chose its offer, the screening tags it holds and
the churn model's strongest factors. Staff read text: the rule's or the tag's name (conf/matrices,
conf/tags.yaml) and the factor's meaning (the data dictionary, lib/inlife/unified/factors.yaml).
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from inlife.rules.model import RuleSet


def reason_texts(ruleset: RuleSet) -> dict[str, str]:
    """Every reason code's text: rules and tags by their name, factors by their meaning."""
    from inlife.unified.dictionary import load_factors

    texts = {f.name: f.meaning for f in load_factors()}
    texts.update({r.rule_id: r.name for r in ruleset.rules if r.name})
    return texts


def readable(codes: Column, texts: dict[str, str]) -> Column:
    """An array of reason codes as their texts, in the same order; a code without a text stays as it is."""
    if not texts:
        return codes
    lookup = F.create_map(*[F.lit(x) for pair in sorted(texts.items()) for x in pair])
    return F.transform(codes, lambda code: F.coalesce(F.element_at(lookup, code), code))

"""Simulated channel responses for generated data (stands in for call centre, SMS gateway, halls).

    inlife simulate_responses --batch 2024-03 [--seed 7]
Answers every selected target of the batch from the generator's true propensities and a true treatment
effect (held-out subscribers get no offer), and writes them as landing files of source campaign_responses;
ingest them with `inlife ingest --source campaign_responses --from D1 --to D2` (the pipeline does).
See lib/inlife/generator/responses.py.
"""
from __future__ import annotations

import json


def add_arguments(parser) -> None:
    parser.add_argument("--batch", required=True, help="a marketing.targets batch: YYYY-MM or YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=7)


def run(spark, conf, batch: str, seed: int = 7) -> int:
    from inlife.generator.responses import simulate

    out = simulate(spark, conf, batch, seed)
    print(json.dumps({"batch": out["batch"], "answers": out["answers"]}))
    return 0

"""The model registry by hand (no Spark): list models, promote a version, roll back the champion.

    inlife models list [NAME] [--json]
    inlife models promote NAME VERSION      # moves the alias "champion" to VERSION, recorded in the history
    inlife models rollback NAME             # the previous champion becomes champion again
    inlife models ui [--port 5000]          # mlflow ui on the configured tracking and registry stores
"""
from __future__ import annotations

import json as jsonlib
import os
import sys

from inlife.models import registry


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="registered models, their versions, aliases and champion history")
    ls.add_argument("name", nargs="?", default=None)
    ls.add_argument("--json", dest="as_json", action="store_true", help="one JSON line per model")
    pr = sub.add_parser("promote", help="make VERSION the champion of NAME")
    pr.add_argument("name")
    pr.add_argument("version")
    rb = sub.add_parser("rollback", help="restore the previous champion of NAME")
    rb.add_argument("name")
    ui = sub.add_parser("ui", help="start the MLflow UI on the configured stores")
    ui.add_argument("--port", type=int, default=5000)


def main(conf, action: str, name: str | None = None, version: str | None = None, as_json: bool = False,
         port: int = 5000) -> int:
    if action == "ui":
        return _ui(conf, port)
    c = registry.client(conf)
    if action == "promote":
        _print(registry.promote(c, name, version, reason="by hand: inlife models promote"))
    elif action == "rollback":
        _print(registry.rollback(c, name))
    else:
        names = [name] if name else registry.registered_names(c)
        for n in names:
            d = registry.describe(c, n)
            if as_json:
                _print(d)
                continue
            print(f"{n}: champion {d['champion'] or '-'}, challenger {d['challenger'] or '-'}, "
                  f"champion history {d['history']}")
            for v in d["versions"]:
                metrics = " ".join(f"{k}={val:.4f}" for k, val in v["metrics"].items())
                print(f"  v{v['version']:<4} {','.join(v['aliases']) or '-':<20} gate={v['gate'] or '-':<9} "
                      f"{metrics}  run {v['run_id']}")
    return 0


def _print(obj) -> None:
    print(jsonlib.dumps(obj, default=str), flush=True)


def _ui(conf, port: int) -> int:
    u = registry.uris(conf)
    registry.setup(conf)  # creates the store and experiment (with its artifact location) if needed
    argv = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", u["tracking_uri"],
            "--registry-store-uri", u["registry_uri"], "--default-artifact-root", u["artifact_location"],
            "--port", str(port)]
    print(" ".join(argv), file=sys.stderr, flush=True)
    os.execv(sys.executable, argv)
    return 0  # not reached

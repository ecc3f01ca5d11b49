"""Benchmark: the ingestion's preflight over a landing root on the local disk, read by Python and by Hadoop.

    .venv/bin/python benchmarks/landing_preflight.py [--landing ./landing] [--repeat 2]

Before its first commit, ingestion lists every batch folder of every source in the landing root's manifest
and reads the head of each file (``inlife.ingest.landing``). Prints one JSON object: the files seen and the
seconds of each pass, through Python's file functions (what a local root uses) and through Hadoop's
FileSystem over py4j (what every other file system uses). Any landing root works: `make demo` leaves one
in ./landing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
os.environ["GX_ANALYTICS_ENABLED"] = "false"


def batches(landing: Path) -> dict[str, list[date]]:
    manifest = json.loads((landing / "_manifest.json").read_text(encoding="utf-8"))
    return {s: sorted(date.fromisoformat(d) for d in m["batches"]) for s, m in manifest["sources"].items()}


def preflight(spark, root: str, contract, work: dict[str, list[date]], python: bool) -> int:
    from inlife.ingest import landing

    files = 0
    for name, days in work.items():
        src = contract[name]
        for day in days:
            if python:
                found = landing.list_batch_files(spark, root, name, day)
                heads = [landing.head_lines(spark, f.path, src.encoding, 20) for f in found]
            else:
                folder = landing.batch_folder(landing.qualified(spark, root), name, day)
                found = landing.hadoop_listing(spark, folder, name, day)
                heads = [landing.hadoop_head(spark, f.path, src.encoding, 20) for f in found]
            files += len(heads)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landing", default=str(ROOT / "landing"))
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from inlife.config import load_config
    from inlife.session import build_session
    from inlife.sources import load_sources

    root = str(Path(args.landing).resolve())
    conf = load_config("local", overrides=[f"landing.root={root}", "spark.ui_enabled=false"])
    spark = build_session(conf, app_name="bench-landing-preflight")
    contract, work = load_sources(conf), batches(Path(root))
    out = {"landing": root, "passes": []}
    for _ in range(args.repeat):
        for python in (False, True):
            started = time.time()
            files = preflight(spark, root, contract, work, python)
            out["passes"].append({"reader": "python" if python else "hadoop over py4j", "files": files,
                                  "seconds": round(time.time() - started, 2)})
    print(json.dumps(out))
    spark.stop()


if __name__ == "__main__":
    main()

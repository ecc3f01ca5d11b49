"""Chaos run: the monthly pipeline killed with SIGKILL at random moments, each kill followed by a rerun; in the
end every table must equal, row for row, the tables of an uninterrupted run (both read with deltalake).

    .venv/bin/python benchmarks/chaos.py --subscribers 2000 --months 2 --kills 20 [--seed 7] [--reuse]

1. Generates the landing files once (build/bench/chaos_<N>x<M>/landing).
2. The reference: `inlife pipeline --month A --to B` into a lake of its own, uninterrupted, timed (T).
3. The chaos lake: the same command started again and again. A start is killed (the driver and its JVM:
   SIGKILL to the process group, as a lost machine would) at a moment drawn uniformly from [0, T); the next
   start is its rerun, which first recovers the killed run (inlife.tables.runs). After `--kills` kills, one
   rerun runs to the end.
4. Compares every table of the two lakes (benchmarks/compare_lakes.py), leaving out the columns that record
   when a rule was last changed; ops.runs is the runs' own record and differs by design. Counts, from
   ops.runs, the kills that landed between the commits of one group and were rolled back.
Prints one JSON object; exits 1 if any table differs.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from compare_lakes import compare, tables_of  # noqa: E402

from inlife.tables.catalogue import RUNS  # noqa: E402

IGNORE = {"changed_at"}                  # marketing.rules: when the rule was last compiled
OWN_RECORD = {RUNS}


def inlife(work: Path, lake: str, *args: str) -> list[str]:
    sets = {"lake.root": work / lake, "landing.root": work / "landing", "truth.root": work / "truth",
            "mlflow.tracking_uri": f"sqlite:///{work / lake}-mlflow.db",
            "mlflow.artifact_location": work / f"{lake}-mlartifacts",
            "campaigns.exports_root": work / f"{lake}-exports", "quality.data_docs_dir": work / f"{lake}-docs",
            "lake.metastore_dir": work / f"{lake}-metastore", "spark.show_console_progress": "false"}
    command = [str(ROOT / ".venv" / "bin" / "inlife"), *args]
    for key, value in sets.items():
        command += ["--set", f"{key}={value}"]
    return command


def start(command: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, GX_ANALYTICS_ENABLED="false")
    env.setdefault("INLIFE_CONTACT_KEY", "inlife benchmark: generated data only")
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def last_stage(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("[")]
    return lines[-1][:100] if lines else "(starting)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=2000)
    p.add_argument("--months", type=int, default=2)
    p.add_argument("--start-month", default="2024-01")
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--reuse", action="store_true", help="keep the landing files and the reference lake")
    args = p.parse_args(argv)
    from inlife.months import add_months

    work = ROOT / "build" / "bench" / f"chaos_{args.subscribers}x{args.months}"
    last = add_months(args.start_month, args.months - 1)
    pipeline = ["pipeline", "--month", args.start_month, "--to", last]
    result = {"benchmark": "chaos", "subscribers": args.subscribers, "months": args.months, "seed": args.seed}
    if not (args.reuse and (work / "landing" / "_manifest.json").exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        gen = start(inlife(work, "ref", "generate_sample_data", "--subscribers", str(args.subscribers),
                           "--months", str(args.months), "--start-month", args.start_month), work / "generate.log")
        if gen.wait() != 0:
            raise SystemExit(f"generation failed: see {work / 'generate.log'}")
    reference = work / "reference.json"
    if not (args.reuse and reference.exists()):
        for lake in ("ref", "chaos"):
            shutil.rmtree(work / lake, ignore_errors=True)
        t = time.time()
        ref = start(inlife(work, "ref", *pipeline), work / "ref.log")
        if ref.wait() != 0:
            raise SystemExit(f"the uninterrupted run failed: see {work / 'ref.log'}")
        reference.write_text(json.dumps({"seconds": round(time.time() - t, 1)}))
    result["reference_seconds"] = json.loads(reference.read_text())["seconds"]
    result.update(chaos(work, pipeline, args.kills, result["reference_seconds"], random.Random(args.seed)))
    result.update(compared(work))
    print(json.dumps(result, indent=1))
    return 0 if result["identical"] else 1


def chaos(work: Path, pipeline: list[str], kills: int, seconds: float, rng: random.Random) -> dict:
    shutil.rmtree(work / "chaos", ignore_errors=True)
    landed, starts, t0 = [], 0, time.time()
    while len(landed) < kills:
        starts += 1
        log = work / f"chaos-{starts:02d}.log"
        run = start(inlife(work, "chaos", *pipeline), log)
        at = rng.uniform(0, seconds)
        try:
            run.wait(timeout=at)
            print(f"[chaos] start {starts}: finished before the kill at {at:.0f}s (exit {run.returncode})",
                  file=sys.stderr)
            if run.returncode != 0:
                raise SystemExit(f"a rerun failed: see {log}")
            continue
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        landed.append({"at_seconds": round(at, 1), "during": last_stage(log)})
        print(f"[chaos] kill {len(landed)} at {at:.0f}s during {landed[-1]['during']}", file=sys.stderr)
    final = start(inlife(work, "chaos", *pipeline), work / "chaos-final.log")
    if final.wait() != 0:
        raise SystemExit(f"the final rerun failed: see {work / 'chaos-final.log'}")
    return {"kills": landed, "starts": starts + 1, "chaos_seconds": round(time.time() - t0, 1)}


def compared(work: Path) -> dict:
    import deltalake

    ref, chaos_lake = work / "ref", work / "chaos"
    names = (tables_of(ref) | tables_of(chaos_lake)) - OWN_RECORD
    tables = {n: compare(ref, chaos_lake, n, IGNORE) for n in sorted(tables_of(ref) & tables_of(chaos_lake) - OWN_RECORD)}
    different = sorted(n for n, r in tables.items() if r["rows_before"] != r["rows_after"]
                       or r.get("differing_columns") or r.get("columns_only_before") or r.get("columns_only_after"))
    missing = sorted(names - set(tables))
    runs = deltalake.DeltaTable(str(chaos_lake / "ops" / "runs")).to_pandas()
    return {"tables_compared": len(tables), "rows_compared": sum(r["rows_before"] for r in tables.values()),
            "different": different, "only_in_one_lake": missing, "identical": not different and not missing,
            "runs_recorded": runs["status"].value_counts().to_dict(),
            "kills_rolled_back": int(runs["message"].str.contains("rolled back").sum()),
            "differences": {n: tables[n] for n in different}}


if __name__ == "__main__":
    sys.exit(main())

"""The one entry point: ``inlife JOB [--env E] [--set k=v ...] [--verbose] [job args]``.

A job is ``jobs/<name>.py`` (importable as ``inlife_jobs.<name>``) exposing ``run(spark, conf, **args)``
and optionally ``add_arguments(parser)`` for its own arguments. Commands that need no Spark session
(``models``, ``lint``...) expose ``main(conf, **args)`` instead of ``run``.

On failure the process prints one line, ``inlife: <job>: <reason>``, and exits 1 (2 for usage errors);
``--verbose`` adds the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback

from inlife.config import DEFAULT_ENV, load_config
from inlife.errors import InlifeError, JobError

JOBS_PACKAGE = "inlife_jobs"


def available_jobs() -> list[str]:
    pkg = importlib.import_module(JOBS_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def load_job(name: str):
    module_name = name.replace("-", "_")
    if module_name not in available_jobs():
        raise JobError(f"no job named {name!r} (jobs: {', '.join(available_jobs())})")
    module = importlib.import_module(f"{JOBS_PACKAGE}.{module_name}")
    if not hasattr(module, "run") and not hasattr(module, "main"):
        raise JobError(f"jobs/{module_name}.py defines neither run(spark, conf, ...) nor main(conf, ...)")
    return module


def _common_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--env", default=None, help=f"configuration overlay conf/<env>.yaml (default {DEFAULT_ENV})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one configuration value (repeatable)")
    p.add_argument("--conf-dir", default=None, help="folder holding base.yaml and the overlays")
    p.add_argument("--verbose", action="store_true", help="INFO logs and full tracebacks")
    return p


def parse(argv: list[str]):
    common = _common_parser()
    top = argparse.ArgumentParser(prog="inlife", parents=[common], add_help=False,
                                  description="Run an inlife job in local mode (or under spark-submit).")
    top.add_argument("job", nargs="?", help="job name (jobs/<name>.py)")
    top.add_argument("--list", action="store_true", help="list the jobs and exit")
    top.add_argument("-h", "--help", action="store_true", help="show this help (or the job's) and exit")
    known, rest = top.parse_known_args(argv)
    if known.help and not known.job:
        top.print_help()
        raise SystemExit(0)
    if known.help:
        rest = ["--help", *rest]  # the job's own help, with its arguments
    if known.list or not known.job:
        return known, None, None
    module = load_job(known.job)
    jp = argparse.ArgumentParser(prog=f"inlife {known.job}", parents=[common],
                                 description=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None)
    if hasattr(module, "add_arguments"):
        module.add_arguments(jp)
    job_args = jp.parse_args(rest, namespace=argparse.Namespace(**{
        k: v for k, v in vars(known).items() if k in ("env", "overrides", "conf_dir", "verbose")}))
    return job_args, module, known.job


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    job_name = argv[0] if argv and not argv[0].startswith("-") else "inlife"
    verbose = "--verbose" in argv
    try:
        args, module, job_name = parse(argv)
        if module is None:
            print("jobs: " + ", ".join(available_jobs()))
            return 0
        conf = load_config(args.env, args.overrides, args.conf_dir)
        kwargs = {k: v for k, v in vars(args).items() if k not in ("env", "overrides", "conf_dir", "verbose")}
        started = time.time()
        if hasattr(module, "run"):
            from inlife.session import build_session
            from inlife.tables.runs import recorded
            spark = build_session(conf, app_name=f"inlife-{job_name}", verbose=args.verbose)
            with recorded(spark, conf, job_name, kwargs):
                result = module.run(spark, conf, **kwargs)
        else:
            result = module.main(conf, **kwargs)
        if conf.get("run.progress"):
            print(f"[inlife] {job_name} finished in {time.time() - started:.1f}s", file=sys.stderr)
        return int(result) if isinstance(result, int) and not isinstance(result, bool) else 0
    except SystemExit as exc:  # argparse usage errors
        return int(exc.code or 0) if exc.code not in (None, 0) else 0
    except InlifeError as exc:
        if verbose:
            traceback.print_exc()
        print(f"inlife: {job_name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"inlife: {job_name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # anything unexpected still ends in one readable line
        if verbose:
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"inlife: {job_name}: {type(exc).__name__}: {first} (run with --verbose for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

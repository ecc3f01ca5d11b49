"""Great Expectations glue: suites stored as JSON under ``quality.expectations_dir``, validated on Spark frames.

    validator = Validator(conf)
    outcome = validator.validate("raw.voice_cdr", df, parameters={"row_count_min_ratio": 0.5, ...})
    if not outcome.success:
        raise QualityError(outcome.message())

A suite's checks are computed in one aggregation (``onepass``) when it holds only kinds of expectation that
module knows, else by Great Expectations; a failed check is computed again by Great Expectations, with
samples, for the message. One ephemeral GX context per Validator (nothing written but the Data Docs) keeps
each validation's result, named by table, batch and run, for Data Docs (``quality.data_docs``). A suite may
use runtime parameters (``{"$PARAMETER": "name"}``) filled from ``parameters``; an expectation whose
parameters are missing or None is skipped (e.g. no previous batch to compare with).
"""
from __future__ import annotations

import copy
import datetime
import itertools
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inlife.config import Config
from inlife.errors import InlifeError
from inlife.quality import onepass

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


class QualityError(InlifeError):
    """A Great Expectations suite failed, or a suite file is missing or malformed."""


@dataclass
class Failure:
    expectation: str
    column: str | None
    detail: str

    def __str__(self) -> str:
        where = f"({self.column})" if self.column else ""
        return f"{self.expectation}{where}: {self.detail}"


@dataclass
class Outcome:
    table: str
    success: bool
    evaluated: int
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    docs: str | None = None

    def message(self) -> str:
        failed = "; ".join(str(f) for f in self.failures)
        docs = f" (Data Docs: {self.docs})" if self.docs else ""
        return f"{self.table}: {len(self.failures)} of {self.evaluated} expectations failed: {failed}{docs}"


def suite_path(conf: Config, table: str) -> Path:
    layer, name = table.split(".")
    return Path(conf.path("quality.expectations_dir")) / layer / f"{name}.json"


def load_suite(conf: Config, table: str) -> dict:
    path = suite_path(conf, table)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QualityError(f"{table}: no expectation suite at {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise QualityError(f"{path}: cannot read the expectation suite: {exc}") from None
    if not isinstance(suite.get("expectations"), list):
        raise QualityError(f"{path}: an expectation suite needs an 'expectations' list")
    return suite


def _parameters_of(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return [value["$PARAMETER"]]
        return [p for v in value.values() for p in _parameters_of(v)]
    if isinstance(value, list):
        return [p for v in value for p in _parameters_of(v)]
    return []


def _describe(result) -> Failure:
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
    column = kwargs.get("column") or (",".join(kwargs["column_list"]) if "column_list" in kwargs else None)
    r = result.result or {}
    if result.exception_info and result.exception_info.get("raised_exception"):
        detail = f"error: {result.exception_info.get('exception_message')}"
    elif "unexpected_count" in r:
        sample = r.get("partial_unexpected_list") or []
        detail = f"{r.get('unexpected_count')} unexpected value(s), e.g. {sample[:5]}"
    else:
        bounds = {k: kwargs[k] for k in ("min_value", "max_value", "value") if k in kwargs}
        detail = f"observed {r.get('observed_value')!r}, expected {bounds}"
    return Failure(cfg.type, column, detail)


_SHARED: dict[tuple, Validator] = {}


class Validator:
    """Validates frames against the JSON suites; one lazily built ephemeral GX context.

    ``Validator.shared(conf)`` gives one validator per process and quality settings, so a run's
    validations share a context (building one costs seconds) and its Data Docs can be built once at the
    end (``quality.data_docs: end``: ``build_docs()``, the pipeline calls it after each month)."""

    @classmethod
    def shared(cls, conf: Config) -> Validator:
        key = tuple(str(conf.get(k)) for k in ("quality.expectations_dir", "quality.data_docs_dir",
                                                "quality.data_docs", "quality.result_format"))
        if key not in _SHARED:
            _SHARED[key] = cls(conf)
        return _SHARED[key]

    def build_docs(self) -> str | None:
        """Render Data Docs of every validation this validator ran; returns the index path."""
        if self._ctx is None or self.conf.get("quality.data_docs") == "never":
            return None
        with self._lock:
            self._render()
        return str(Path(self.conf.path("quality.data_docs_dir")) / "index.html")

    def _render(self) -> None:
        """Data Docs of every validation so far, pointed at the local copies of their scripts and styles
        when set-up fetched them (else the pages load them from public CDNs, and say nothing offline)."""
        from inlife.quality import docs_assets

        self._ctx.build_data_docs(site_names=["inlife"])
        assets = Path(self.conf.path("quality.docs_assets_dir"))
        if docs_assets.complete(assets):
            docs_assets.localize(Path(self.conf.path("quality.data_docs_dir")), assets)
        elif not self._warned:
            self._warned = True
            print(f"[quality] Data Docs load their scripts and styles from public CDNs: {assets} is incomplete "
                  f"(make docs-assets fetches them)", flush=True)

    def __init__(self, conf: Config):
        self.conf = conf
        self.result_format = conf.get("quality.result_format")
        self._ctx = None
        self._datasource = None
        self._warned = False
        # A GX context is not safe for concurrent use: threads (parallel ingestion) validate in turn.
        self._lock = threading.RLock()

    def _context(self):
        if self._ctx is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
            bars = bool(self.conf.get("quality.progress_bars"))
            ctx.variables.progress_bars = ProgressBarsConfig(globally=bars, metric_calculations=bars)
            docs_dir = self.conf.path("quality.data_docs_dir")
            ctx.add_data_docs_site(site_name="inlife", site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
            # persist=False: GX would otherwise persist every frame it is given and never release it. Callers
            # validate frames they have cached (or cheap projections of one): GX's own copy would cost most
            # of a validation's time, and the copies would pile up in memory and on local disk for the run.
            self._datasource = ctx.data_sources.add_spark("inlife_spark", persist=False)
            self._ctx = ctx
        return self._ctx

    def _forget_batches(self) -> None:
        """Drop GX's references to the frames it validated. Its Spark execution engine, shared by every
        validation, keeps each batch's frame in its batch manager for good, and with it the frame's plan
        (which Spark needs collected before it deletes the plan's shuffle files). Something else still
        holds the last validated plan until the next validation; not found yet."""
        manager = self._datasource.get_execution_engine().batch_manager
        manager.batch_data_cache.clear()
        manager.reset_batch_cache()

    def validate(self, table: str, df, parameters: dict[str, Any] | None = None,
                 suite: dict | None = None, batch: str | None = None) -> Outcome:
        """Run the suite of ``table`` on ``df`` (cache it first: a failure is computed again for its
        details). ``batch`` names what was validated (a month, a day, a range of batches) in Data Docs."""
        with self._lock:
            return self._validate(table, df, parameters, suite, batch or "all rows")

    def _validate(self, table: str, df, parameters: dict[str, Any] | None, suite: dict | None,
                  batch: str) -> Outcome:
        started = time.time()
        parameters = {k: v for k, v in (parameters or {}).items() if v is not None}
        spec = copy.deepcopy(suite or load_suite(self.conf, table))
        kept, skipped = [], []
        for exp in spec["expectations"]:
            missing = [p for p in _parameters_of(exp.get("kwargs", {})) if p not in parameters]
            if missing:
                skipped.append(f"{exp['type']} (no {', '.join(missing)})")
            else:
                kept.append(exp)
        spec = {**spec, "name": table, "expectations": kept}
        ctx = self._context()
        gx_suite = self._suite(table, spec)
        # Data Docs link each result to its suite
        ctx.suites.add_or_update(gx_suite) if hasattr(ctx.suites, "add_or_update") else ctx.suites.add(gx_suite)
        results = self._judged(df, gx_suite, parameters)
        failed = [k for k, r in enumerate(results) if not r.success]
        if failed:
            # Which rows or batches are at fault: Great Expectations computes the failed expectations again
            # with samples (a failing run is rare; its cost does not matter) and its verdict stands.
            detail = self._gx_results(df, self._suite(table, {**spec, "expectations": [kept[k] for k in failed]}),
                                      parameters, "SUMMARY")
            by_config = {_key(r.expectation_config): r for r in detail}     # GX orders results its own way
            for k in failed:
                results[k] = by_config.get(_key(results[k].expectation_config), results[k])
        failures = [_describe(r) for r in results if not r.success]
        self._store(ctx, table, batch, results, parameters, started)
        when = self.conf.get("quality.data_docs")
        if when == "always" or (failures and when in ("failures", "end")):
            self._render()
        docs = str(Path(self.conf.path("quality.data_docs_dir")) / "index.html") if (failures or when == "always") else None
        return Outcome(table, not failures, len(results), skipped, failures, time.time() - started, docs)

    def _suite(self, table: str, spec: dict):
        import great_expectations as gx

        try:
            return gx.ExpectationSuite(**{k: v for k, v in spec.items() if k in ("name", "expectations", "meta")})
        except Exception as exc:  # GX raises its own types for malformed suites
            raise QualityError(f"{suite_path(self.conf, table)}: invalid expectation suite: {exc}") from None

    def _judged(self, df, gx_suite, parameters: dict[str, Any]) -> list:
        """Each expectation's result: from one aggregation (``onepass``) when every expectation of the suite
        is of a kind it computes, else from Great Expectations (BOOLEAN_ONLY: counts, no samples)."""
        from great_expectations.core.expectation_validation_result import ExpectationValidationResult

        configs = [e.configuration for e in gx_suite.expectations]
        filled = [{"type": c.type, "kwargs": _filled(c.kwargs, parameters)} for c in configs]
        judged = onepass.evaluate(df, filled)
        if judged is None:
            return self._gx_results(df, gx_suite, parameters, self.result_format)
        out = []
        for config, exp, (success, result) in zip(configs, filled, judged):
            config = copy.deepcopy(config)
            config.kwargs = exp["kwargs"]
            out.append(ExpectationValidationResult(success=success, expectation_config=config, result=result,
                                                   exception_info={"raised_exception": False, "exception_message": None,
                                                                   "exception_traceback": None}))
        return out

    def _gx_results(self, df, gx_suite, parameters: dict[str, Any], result_format: str) -> list:
        """Great Expectations' own validation of ``df`` (nothing stored: ``_store`` keeps one result a run)."""
        name = f"frame-{next(_FRAMES)}"
        asset = self._datasource.add_dataframe_asset(name)
        try:
            batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": df})
            return list(batch.validate(gx_suite, result_format=result_format, expectation_parameters=parameters).results)
        finally:
            self._forget_batches()
            self._datasource.delete_asset(name)

    def _store(self, ctx, table: str, batch: str, results: list, parameters: dict[str, Any], started: float) -> None:
        """One validation result for Data Docs, named by table, batch and run."""
        from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        passed = sum(1 for r in results if r.success)
        run = RunIdentifier(run_name=f"{table} {batch}",
                            run_time=datetime.datetime.fromtimestamp(started, tz=datetime.timezone.utc))
        suite_id = ExpectationSuiteIdentifier(name=table)
        batch_id = re.sub(r"[^0-9A-Za-z_.-]+", "_", batch)
        result = ExpectationSuiteValidationResult(
            success=passed == len(results), results=results, suite_name=table, suite_parameters=parameters,
            statistics={"evaluated_expectations": len(results), "successful_expectations": passed,
                        "unsuccessful_expectations": len(results) - passed,
                        "success_percent": passed / len(results) * 100 if results else None},
            meta={"run_id": run, "validation_time": run.run_time, "batch_parameters": {"table": table, "batch": batch},
                  "batch_spec": {"data_asset_name": table, "batch": batch},
                  "active_batch_definition": {"datasource_name": "inlife", "data_connector_name": "",
                                              "data_asset_name": table, "batch_identifiers": {"batch": batch}}},
            batch_id=batch_id)
        ctx.validation_results_store.store_validation_results(
            suite_validation_result=result, expectation_suite_identifier=suite_id,
            suite_validation_result_identifier=ValidationResultIdentifier(suite_id, run, batch_id))


_FRAMES = itertools.count(1)


def _key(config) -> tuple[str, str]:
    """An expectation by type and arguments (parameters filled in: GX gives them back as floats), to match
    results to the suite."""
    def number(v):
        if isinstance(v, dict):
            return {k: number(x) for k, x in v.items()}
        if isinstance(v, list):
            return [number(x) for x in v]
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    return config.type, json.dumps(number({k: v for k, v in config.kwargs.items() if k != "batch_id"}),
                                   sort_keys=True, default=str)


def _filled(kwargs: dict, parameters: dict[str, Any]) -> dict:
    """``kwargs`` with every ``{"$PARAMETER": name}`` replaced by its value."""
    if isinstance(kwargs, dict):
        if "$PARAMETER" in kwargs:
            return parameters[kwargs["$PARAMETER"]]
        return {k: _filled(v, parameters) for k, v in kwargs.items()}
    if isinstance(kwargs, list):
        return [_filled(v, parameters) for v in kwargs]
    return kwargs

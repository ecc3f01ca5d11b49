"""Great Expectations glue: suites stored as JSON under ``quality.expectations_dir``, validated on Spark frames.

    validator = Validator(conf)
    outcome = validator.validate("raw.voice_cdr", df, parameters={"row_count_min_ratio": 0.5, ...})
    if not outcome.success:
        raise QualityError(outcome.message())

One ephemeral GX context per Validator (nothing written but the Data Docs): a Spark data source, one
dataframe asset per table and a whole-dataframe batch definition. A suite may use runtime parameters
(``{"$PARAMETER": "name"}``) filled from ``parameters``; an expectation whose parameters are missing or None
is skipped (``meta.skip_when_missing`` lists the parameters, e.g. no previous batch to compare with).
Data Docs are written under ``quality.data_docs_dir`` for every validation, so a failure can be browsed.
"""
from __future__ import annotations

import copy
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inlife.config import Config
from inlife.errors import InlifeError

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


def _same(expectation: dict, config) -> bool:
    """Whether a suite entry is the expectation a result was computed for (same type and columns)."""
    mine, theirs = expectation.get("kwargs", {}), config.kwargs
    return expectation["type"] == config.type and all(
        mine.get(k) == theirs.get(k) for k in ("column", "column_list", "column_A", "column_B"))


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
            self._ctx.build_data_docs(site_names=["inlife"])
        return str(Path(self.conf.path("quality.data_docs_dir")) / "index.html")

    def __init__(self, conf: Config):
        self.conf = conf
        self.result_format = conf.get("quality.result_format")
        self._ctx = None
        self._datasource = None
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
                 suite: dict | None = None) -> Outcome:
        """Run the suite of ``table`` on ``df`` (cache it first: GX makes several passes)."""
        with self._lock:
            return self._validate(table, df, parameters, suite)

    def _validate(self, table: str, df, parameters: dict[str, Any] | None, suite: dict | None,
                  result_format: str | None = None) -> Outcome:
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        started = time.time()
        parameters = {k: v for k, v in (parameters or {}).items() if v is not None}
        spec = copy.deepcopy(suite or load_suite(self.conf, table))
        kept, skipped = [], []
        for exp in spec["expectations"]:
            needed = _parameters_of(exp.get("kwargs", {}))
            missing = [p for p in needed if p not in parameters]
            if missing:
                skipped.append(f"{exp['type']} (no {', '.join(missing)})")
            else:
                kept.append(exp)
        spec["expectations"] = kept
        spec["name"] = table
        ctx = self._context()
        fmt = result_format or self.result_format
        run_id = f"{table}-{int(started * 1000)}" + ("-detail" if result_format else "")
        asset = self._datasource.add_dataframe_asset(run_id)
        batch = asset.add_batch_definition_whole_dataframe("whole")
        try:
            gx_suite = gx.ExpectationSuite(**{k: v for k, v in spec.items() if k in ("name", "expectations", "meta")})
        except Exception as exc:  # GX raises its own types for malformed suites
            raise QualityError(f"{suite_path(self.conf, table)}: invalid expectation suite: {exc}") from None
        gx_suite = ctx.suites.add_or_update(gx_suite) if hasattr(ctx.suites, "add_or_update") else ctx.suites.add(gx_suite)
        definition = ctx.validation_definitions.add(gx.ValidationDefinition(name=run_id, data=batch, suite=gx_suite))
        # Rendering Data Docs costs more than a small validation: `end` renders them once per pipeline month
        # (and at once when a suite fails: what someone has to look at); always | end | failures | never.
        when = self.conf.get("quality.data_docs")
        actions = [UpdateDataDocsAction(name="data_docs", site_names=["inlife"])] if when == "always" else []
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name=run_id, validation_definitions=[definition], result_format=fmt,
            actions=actions))
        try:
            result = checkpoint.run(batch_parameters={"dataframe": df}, expectation_parameters=parameters)
        finally:
            self._forget_batches()
        results = [r for vr in result.run_results.values() for r in vr.results]
        failures = [_describe(r) for r in results if not r.success]
        if failures and fmt == "BOOLEAN_ONLY":
            # BOOLEAN_ONLY keeps no values, so the message could not say which rows or batches are at fault:
            # rerun only the failed expectations with SUMMARY (a failing run is rare; its cost does not matter).
            failed = [r.expectation_config for r in results if not r.success]
            again = {**spec, "expectations": [e for e in kept if any(_same(e, c) for c in failed)]}
            if again["expectations"]:
                self._datasource.delete_asset(run_id)
                detail = self._validate(table, df, parameters, again, "SUMMARY")
                return Outcome(table, False, len(results), skipped, detail.failures or failures,
                               time.time() - started, detail.docs)
        if failures and when in ("failures", "end"):
            ctx.build_data_docs(site_names=["inlife"])
        docs = str(Path(self.conf.path("quality.data_docs_dir")) / "index.html") if (failures or when == "always") else None
        self._datasource.delete_asset(run_id)
        return Outcome(table, not failures, len(results), skipped, failures, time.time() - started, docs)

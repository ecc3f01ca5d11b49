"""Model specs: ``<models.specs_dir>/<name>.yaml`` (default ``conf/models/``), one per model.

A spec names everything training needs, for any Delta table of this form (see docs/MODELS.md):

    kind: churn                        # churn | stickiness | propensity: how scores are graded
    description: ...
    features:
      table: unified.customer_view     # logical name of the feature table
      keys: [subscriber_id, month]     # identify a row; the label table is joined on them
      month_column: month              # for the time split and the drift reference; null: none
      columns: all_numeric             # or a list of columns
      exclude: [subscriber_id, ...]    # dropped from all_numeric (ids, dates, status... anything leaking)
      exclude_patterns: ["*_id"]       # fnmatch patterns, also dropped
      categorical: [brand, vip_level]  # string columns: indexed and one-hot encoded inside the pipeline
    label:
      column: churned_next_1m          # 0/1; rows with a null label are not used
      table: unified.outcomes          # omit when the label is a column of the feature table
    split:
      train_until: null                # train on months <= this (null: every labelled month but the last)
      validate_month: null             # a later month (null: the first labelled month after train_until)
      train_months: null               # at most this many months up to train_until (null: all)
      validation_fraction: 0.3         # one labelled month only: a seeded random split of the rows
      seed: 42
    algorithms:                        # candidates: every combination of the listed values
      logistic_regression: {regParam: [0.01, 0.1], elasticNetParam: [0.0]}
      gbt: {maxDepth: [3, 5], maxIter: [30]}
    imbalance: class_weight            # class_weight (balanced weights) | none
    promotion: {metric: auc_pr, tolerance: 0.01}

``load_spec`` checks the spec's own structure; ``check_against_tables`` checks it against the tables
(exist, columns exist, types) and resolves the feature list. Both run before any training and raise
``SpecError`` naming the spec file and the offending key, table or column.
"""
from __future__ import annotations

import copy
import fnmatch
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inlife.config import Config
from inlife.errors import InlifeError

KINDS = ("churn", "stickiness", "propensity")
IMBALANCE = ("class_weight", "none")
GATE_METRICS = ("auc_pr", "auc_roc")

# Searchable parameters per algorithm (the MLlib parameter names) and their types.
ALGORITHMS: dict[str, dict[str, type]] = {
    "logistic_regression": {"regParam": float, "elasticNetParam": float, "maxIter": int, "threshold": float},
    "gbt": {"maxDepth": int, "maxIter": int, "stepSize": float, "subsamplingRate": float, "maxBins": int,
            "minInstancesPerNode": int},
    "random_forest": {"numTrees": int, "maxDepth": int, "subsamplingRate": float, "maxBins": int,
                      "minInstancesPerNode": int},
}

DEFAULTS: dict[str, Any] = {
    "kind": "propensity",
    "description": "",
    "features": {"table": None, "keys": ["subscriber_id", "month"], "month_column": "month",
                 "columns": "all_numeric", "exclude": [], "exclude_patterns": [], "categorical": []},
    "label": {"column": None, "table": None},
    "split": {"train_until": None, "validate_month": None, "train_months": None,
              "validation_fraction": 0.3, "seed": 42},
    "algorithms": None,
    "imbalance": "class_weight",
    "promotion": {"metric": "auc_pr", "tolerance": 0.01},
}


class SpecError(InlifeError):
    """A model spec is malformed or names a table or column that does not exist."""


@dataclass
class Spec:
    name: str
    path: str
    kind: str
    description: str
    table: str
    keys: list[str]
    month_column: str | None
    columns: str | list[str]
    exclude: list[str]
    exclude_patterns: list[str]
    categorical: list[str]
    label: str
    label_table: str | None
    split: dict[str, Any]
    algorithms: dict[str, dict[str, list]]
    imbalance: str
    tolerance: float
    gate_metric: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def candidates(self) -> list[tuple[str, dict[str, Any]]]:
        """(algorithm, parameters) for every combination of the search space, in a stable order."""
        out = []
        for algo, space in self.algorithms.items():
            names = sorted(space)
            for combo in itertools.product(*[space[n] for n in names]):
                out.append((algo, dict(zip(names, combo))))
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.raw, sort_keys=False, allow_unicode=True)


@dataclass
class FeaturePlan:
    """The spec resolved against the feature table's schema."""
    numeric: list[str]
    categorical: list[str]
    label_in_features_table: bool

    @property
    def columns(self) -> list[str]:
        return self.numeric + self.categorical


def specs_dir(conf: Config) -> Path:
    value = conf.get("models.specs_dir")
    p = Path(value)
    return p if p.is_absolute() else Path(conf.conf_dir) / p


def spec_names(conf: Config) -> list[str]:
    d = specs_dir(conf)
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_spec(conf: Config, name_or_path: str | Path) -> Spec:
    """The spec named ``name`` in ``models.specs_dir``, or the spec file at a path."""
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = specs_dir(conf) / f"{name_or_path}.yaml"
    if not p.exists():
        have = ", ".join(spec_names(conf)) or "none"
        raise SpecError(f"{p}: no such model spec (specs in {specs_dir(conf)}: {have})")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SpecError(f"{p}: not valid YAML: {exc}") from None
    return parse_spec(data, p.stem, str(p), int(conf.get("models.max_candidates")))


def _err(path: str, msg: str) -> SpecError:
    return SpecError(f"{path}: {msg}")


def _merge(defaults: dict, data: dict, path: str, prefix: str = "") -> dict:
    out = copy.deepcopy(defaults)
    for key, value in data.items():
        if key not in defaults:
            raise _err(path, f"unknown key '{prefix}{key}' (known: {', '.join(defaults)})")
        if isinstance(defaults[key], dict) and defaults[key]:
            if not isinstance(value, dict):
                raise _err(path, f"'{prefix}{key}' must be a mapping")
            out[key] = _merge(defaults[key], value, path, f"{prefix}{key}.")
        else:
            out[key] = value
    return out


def _str_list(value: Any, path: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(path, f"'{key}' must be a list of column names")
    return list(value)


def parse_spec(data: dict, name: str, path: str = "<spec>", max_candidates: int = 12) -> Spec:
    if not isinstance(data, dict):
        raise _err(path, "the top level must be a mapping")
    d = _merge(DEFAULTS, data, path)
    if d["kind"] not in KINDS:
        raise _err(path, f"kind must be one of {', '.join(KINDS)}, got {d['kind']!r}")
    f, lab, split = d["features"], d["label"], d["split"]
    if not f["table"]:
        raise _err(path, "features.table is required (a logical table name, e.g. unified.customer_view)")
    keys = _str_list(f["keys"], path, "features.keys")
    if not keys:
        raise _err(path, "features.keys must name at least one key column")
    columns = f["columns"]
    if columns != "all_numeric":
        columns = _str_list(columns, path, "features.columns")
        if not columns:
            raise _err(path, "features.columns must be 'all_numeric' or a non-empty list of columns")
    if not lab["column"]:
        raise _err(path, "label.column is required")
    if d["imbalance"] not in IMBALANCE:
        raise _err(path, f"imbalance must be one of {', '.join(IMBALANCE)}, got {d['imbalance']!r}")
    frac = split["validation_fraction"]
    if not isinstance(frac, (int, float)) or not 0 < frac < 1:
        raise _err(path, f"split.validation_fraction must be between 0 and 1, got {frac!r}")
    for k in ("train_until", "validate_month"):
        if split[k] is not None and not isinstance(split[k], str):
            raise _err(path, f"split.{k} must be a month string like '2024-06' (quote it), got {split[k]!r}")
    if split["train_until"] and split["validate_month"] and split["validate_month"] <= split["train_until"]:
        raise _err(path, f"split.validate_month {split['validate_month']} must be after train_until "
                         f"{split['train_until']}")
    promo = d["promotion"]
    if promo["metric"] not in GATE_METRICS:
        raise _err(path, f"promotion.metric must be one of {', '.join(GATE_METRICS)}")
    if not isinstance(promo["tolerance"], (int, float)) or promo["tolerance"] < 0:
        raise _err(path, "promotion.tolerance must be a number >= 0")

    algos = d["algorithms"]
    if not isinstance(algos, dict) or not algos:
        raise _err(path, f"algorithms must map at least one of {', '.join(ALGORITHMS)} to a search space")
    space: dict[str, dict[str, list]] = {}
    for algo, params in algos.items():
        if algo not in ALGORITHMS:
            raise _err(path, f"algorithms: unknown algorithm {algo!r} (known: {', '.join(ALGORITHMS)})")
        params = params or {}
        if not isinstance(params, dict):
            raise _err(path, f"algorithms.{algo} must map parameter names to lists of values")
        space[algo] = {}
        for pname, values in params.items():
            if pname not in ALGORITHMS[algo]:
                raise _err(path, f"algorithms.{algo}: unknown parameter {pname!r} "
                                 f"(searchable: {', '.join(ALGORITHMS[algo])})")
            values = values if isinstance(values, list) else [values]
            typ = ALGORITHMS[algo][pname]
            ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and
                     (typ is float or float(v).is_integer()) for v in values)
            if not values or not ok:
                raise _err(path, f"algorithms.{algo}.{pname} must be a list of {typ.__name__} values")
            space[algo][pname] = [typ(v) for v in values]
    spec = Spec(name=name, path=path, kind=d["kind"], description=str(d["description"] or ""),
                table=f["table"], keys=keys, month_column=f["month_column"], columns=columns,
                exclude=_str_list(f["exclude"], path, "features.exclude"),
                exclude_patterns=_str_list(f["exclude_patterns"], path, "features.exclude_patterns"),
                categorical=_str_list(f["categorical"], path, "features.categorical"),
                label=lab["column"], label_table=lab["table"], split=split, algorithms=space,
                imbalance=d["imbalance"], tolerance=float(promo["tolerance"]), gate_metric=promo["metric"],
                raw=d)
    n = len(spec.candidates())
    if n > max_candidates:
        raise _err(path, f"the search space has {n} candidates, more than models.max_candidates "
                         f"({max_candidates}): list fewer values")
    return spec


NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal", "boolean")


def _is_numeric(simple_type: str) -> bool:
    return simple_type.split("(")[0] in NUMERIC_TYPES


def check_against_tables(spec: Spec, tables) -> FeaturePlan:
    """Check that the spec's tables and columns exist (before any training) and resolve the features."""
    where = spec.path
    for role, table in (("features.table", spec.table), ("label.table", spec.label_table)):
        if table is None:
            continue
        try:
            exists = tables.exists(table)
        except InlifeError as exc:
            raise _err(where, f"{role} {table}: {exc}") from None
        if not exists:
            raise _err(where, f"{role} {table} does not exist (no Delta table at {tables.location(table)})")
    schema = tables.schema(spec.table)
    types = {f.name: f.dataType.simpleString() for f in schema.fields}

    def missing_in(cols, role, tname=spec.table, tt=types):
        gone = [c for c in cols if c not in tt]
        if gone:
            raise _err(where, f"{role} names column(s) not in {tname}: {', '.join(gone)}")

    missing_in(spec.keys, "features.keys")
    if spec.month_column:
        missing_in([spec.month_column], "features.month_column")
    missing_in(spec.categorical, "features.categorical")
    if spec.columns != "all_numeric":
        missing_in(spec.columns, "features.columns")
    if spec.label_table:
        ltypes = {f.name: f.dataType.simpleString() for f in tables.schema(spec.label_table).fields}
        missing_in([spec.label], "label.column", spec.label_table, ltypes)
        missing_in(spec.keys, "features.keys (joining the label)", spec.label_table, ltypes)
        label_type = ltypes[spec.label]
    else:
        missing_in([spec.label], "label.column (no label.table: a column of the feature table)")
        label_type = types[spec.label]
    if not _is_numeric(label_type):
        raise _err(where, f"label.column {spec.label} must be numeric 0/1, it is {label_type}")

    def excluded(c: str) -> bool:
        return (c in spec.exclude or c in spec.keys or c == spec.month_column or c == spec.label
                or any(fnmatch.fnmatchcase(c, p) for p in spec.exclude_patterns))

    if spec.columns == "all_numeric":
        numeric = [c for c, t in types.items() if _is_numeric(t) and not excluded(c) and c not in spec.categorical]
    else:
        leaking = [c for c in spec.columns if c in spec.keys or c == spec.label]
        if leaking:
            raise _err(where, f"features.columns may not list keys or the label: {', '.join(leaking)}")
        non_numeric = [c for c in spec.columns if not _is_numeric(types[c]) and c not in spec.categorical]
        if non_numeric:
            raise _err(where, f"features.columns lists non-numeric column(s) {', '.join(non_numeric)}: "
                              f"list them under features.categorical")
        numeric = [c for c in spec.columns if c not in spec.categorical]
    categorical = [c for c in spec.categorical if c not in spec.keys and c != spec.label]
    if not numeric and not categorical:
        raise _err(where, f"no feature columns left in {spec.table} after the exclusions")
    return FeaturePlan(numeric=numeric, categorical=categorical, label_in_features_table=spec.label_table is None)

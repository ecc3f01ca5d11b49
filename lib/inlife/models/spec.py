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

import fnmatch
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, Field, StrictFloat, StrictInt, model_validator

from inlife.config import Config
from inlife.errors import ConfigError, InlifeError
from inlife.yamlschema import Schema, check, listed, read_mapping

# A search space's values; one value alone is a list of one: the search keeps that parameter fixed.
Floats = Annotated[list[StrictFloat], BeforeValidator(listed), Field(min_length=1)]
Ints = Annotated[list[StrictInt], BeforeValidator(listed), Field(min_length=1)]


# The search spaces: each algorithm's searchable parameters (the MLlib names), a value or a list of values.
class _LogisticRegression(Schema):
    regParam: Floats | None = None
    elasticNetParam: Floats | None = None
    maxIter: Ints | None = None
    threshold: Floats | None = None


class _Trees(Schema):
    """What both tree ensembles search (candidates are ordered by parameter name, not by these fields)."""
    maxDepth: Ints | None = None
    subsamplingRate: Floats | None = None
    maxBins: Ints | None = None
    minInstancesPerNode: Ints | None = None


class _Gbt(_Trees):
    maxIter: Ints | None = None
    stepSize: Floats | None = None


class _RandomForest(_Trees):
    numTrees: Ints | None = None


class _Algorithms(Schema):
    logistic_regression: _LogisticRegression | None = None      # null: the algorithm's defaults only
    gbt: _Gbt | None = None
    random_forest: _RandomForest | None = None

    @model_validator(mode="after")
    def _some(self) -> _Algorithms:
        if not self.model_fields_set:
            raise ValueError(f"map at least one of {', '.join(type(self).model_fields)} to a search space")
        return self


class _Features(Schema):
    table: str = Field(min_length=1)
    keys: list[str] = Field(["subscriber_id", "month"], min_length=1)
    month_column: str | None = "month"
    columns: Literal["all_numeric"] | Annotated[list[str], Field(min_length=1)] = "all_numeric"
    exclude: list[str] | None = []                 # null: none (an empty key in YAML)
    exclude_patterns: list[str] | None = []
    categorical: list[str] | None = []


class _Label(Schema):
    column: str = Field(min_length=1)
    table: str | None = None


class _Split(Schema):
    train_until: str | None = None                 # months as strings: '2024-06'
    validate_month: str | None = None
    train_months: StrictInt | None = Field(None, ge=0)   # 0 or null: every month
    validation_fraction: StrictFloat = Field(0.3, gt=0, lt=1)
    seed: StrictInt = 42

    @model_validator(mode="after")
    def _validate_after_training(self) -> _Split:
        if self.train_until and self.validate_month and self.validate_month <= self.train_until:
            raise ValueError(f"validate_month {self.validate_month} must be after train_until {self.train_until}")
        return self


class _Promotion(Schema):
    metric: Literal["auc_pr", "auc_roc"] = "auc_pr"
    tolerance: StrictFloat = Field(0.01, ge=0)


class _SpecFile(Schema):
    """conf/models/<name>.yaml; the fields in this order are the spec logged with each run."""
    kind: Literal["churn", "stickiness", "propensity"] = "propensity"
    description: str | None = ""
    features: _Features
    label: _Label
    split: _Split = _Split()
    algorithms: _Algorithms
    imbalance: Literal["class_weight", "none"] = "class_weight"
    promotion: _Promotion = _Promotion()


class SpecError(ConfigError):
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
        data = read_mapping(p, "model spec")
    except ConfigError as exc:   # callers catch SpecError for anything wrong with a spec
        raise SpecError(str(exc)) from None
    return parse_spec(data, p.stem, str(p), int(conf.get("models.max_candidates")))


def _err(path: str, msg: str) -> SpecError:
    return SpecError(f"{path}: {msg}")


def parse_spec(data: dict, name: str, path: str = "<spec>", max_candidates: int = 12) -> Spec:
    try:
        d = check(_SpecFile, data, path)
    except ConfigError as exc:
        raise SpecError(str(exc)) from None
    f, algos = d.features, d.algorithms
    # candidates are tried in the file's order of algorithms
    space = {a: getattr(algos, a).model_dump(exclude_none=True) if getattr(algos, a) else {}
             for a in data["algorithms"]}
    spec = Spec(name=name, path=path, kind=d.kind, description=str(d.description or ""),
                table=f.table, keys=f.keys, month_column=f.month_column, columns=f.columns,
                exclude=f.exclude or [], exclude_patterns=f.exclude_patterns or [], categorical=f.categorical or [],
                label=d.label.column, label_table=d.label.table, split=d.split.model_dump(), algorithms=space,
                imbalance=d.imbalance, tolerance=d.promotion.tolerance, gate_metric=d.promotion.metric,
                raw={**d.model_dump(), "algorithms": data["algorithms"]})
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

"""The columns rules may name: the subscriber state (lib/inlife/scores/state.py) plus what the rules code adds.

- every ``unified.customer_view`` column (lib/inlife/unified/factors.yaml), typed from its unit;
- the value index (``value_<criterion>`` per criterion of conf/value_model.yaml),
  ``<model>_score/_probability/_decile/_grade`` for every model of conf/models, the segment columns;
- added here: ``return_rate_q1``, ``return_rate_q2``, ``return_rate_q3`` - the average return rate of each of
  the previous three quarters (months M-3..M-1, M-6..M-4, M-9..M-7; see ``quarters.py``) so that "return rate
  above 86 in each of the previous three quarters" is ``least(return_rate_q1, return_rate_q2,
  return_rate_q3) > 86`` (derived.py); ``days_since_activation``; and ``tags``, the ids of the tags the subscriber holds this month (``has_tag``).

When a real state frame is at hand its schema decides the types (``kinds_of(df.schema)``); without one (lint,
config tests) the static catalogue below does.
"""
from __future__ import annotations

from functools import lru_cache

from pyspark.sql.types import DataType, DateType, DoubleType, IntegerType, LongType, StringType, StructField, StructType

from inlife.rules.expressions import spark_type_kind
from inlife.rules.syntax import IDENTIFIER

QUARTER_COLUMNS = ["return_rate_q1", "return_rate_q2", "return_rate_q3"]
DERIVED_INT = ["days_since_activation"]
TAGS_COLUMN = "tags"

_STRING_UNITS = {"text", "code", "yyyy-MM"}
# Columns of this unit in the data dictionary (subscriber_id, msisdn, group_id) name one customer: a condition
# on them would single a person out (and lint's counts would then tell that person's attributes).
IDENTIFIER_UNIT = "id"
_INT_UNITS = {"0/1", "rank", "months", "years", "days", "calls", "peers", "events", "messages", "complaints",
              "contacts", "replies", "recharges", "sessions", "subscribers"}


def _view_type(name: str, unit: str) -> DataType:
    if name == "subscriber_id":
        return LongType()
    if unit in _STRING_UNITS or unit == IDENTIFIER_UNIT:
        return StringType()
    if unit == "date":
        return DateType()
    if unit in _INT_UNITS and not name.endswith(("_avg3", "_avg6", "_mom", "_trend6", "_vs_avg3")):
        return IntegerType()
    return DoubleType()


def state_names(conf) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names the state takes from config: the models (conf/models) and the value criteria
    (conf/value_model.yaml). A new model spec gives the rules its columns without a change of code."""
    from inlife.models.spec import spec_names
    from inlife.scores.value import load_value_model

    return tuple(spec_names(conf)), tuple(load_value_model(conf).subscriber.criteria)


@lru_cache(maxsize=4)
def state_schema(models: tuple[str, ...], criteria: tuple[str, ...]) -> StructType:
    """The full state row as the rules see it (view + scores + quarters + tags)."""
    from inlife.scores.state import value_columns
    from inlife.unified.dictionary import load_factors

    fields = [StructField(f.name, _view_type(f.name, f.unit)) for f in load_factors()]
    fields += [StructField(c, StringType() if t == "string" else DoubleType())
               for c, t in value_columns(criteria).items()]
    for m in models:
        fields += [StructField(f"{m}_score", DoubleType()), StructField(f"{m}_probability", DoubleType()),
                   StructField(f"{m}_decile", IntegerType()), StructField(f"{m}_grade", StringType())]
    fields += [StructField("segment_id", IntegerType()), StructField("segment_name", StringType()),
               StructField("subgroup_id", IntegerType()), StructField("subgroup_name", StringType())]
    fields += [StructField(c, DoubleType()) for c in QUARTER_COLUMNS]
    fields += [StructField(c, IntegerType()) for c in DERIVED_INT]
    return StructType(fields)


@lru_cache(maxsize=1)
def identifiers() -> frozenset[str]:
    """The view's identifier columns (unit ``id`` in the data dictionary)."""
    from inlife.unified.dictionary import load_factors

    return frozenset(f.name for f in load_factors() if f.unit == IDENTIFIER_UNIT)


def kinds_of(schema: StructType) -> dict[str, str]:
    """column -> checker kind (number, string, date, boolean; arrays and structs are not usable;
    identifiers are of kind ``identifier``, which no condition may use)."""
    return {f.name: IDENTIFIER if f.name in identifiers() else spark_type_kind(f.dataType.simpleString())
            for f in schema.fields if f.name != TAGS_COLUMN}


def static_kinds(conf) -> dict[str, str]:
    """The state's kinds without a state at hand (lint, checks before Spark runs)."""
    return kinds_of(state_schema(*state_names(conf)))



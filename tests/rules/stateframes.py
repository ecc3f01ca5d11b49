"""Small subscriber-state frames for the rules tests: every state column, null unless a row sets it."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql.types import StructType

from inlife.config import load_config
from inlife.rules.columns import state_names, state_schema, static_kinds

MONTH = "2024-03"
# The shipped configuration: its model specs and value criteria name state columns.
CONF = load_config("test", conf_dir=Path(__file__).resolve().parents[2] / "conf")
SCHEMA = state_schema(*state_names(CONF))
KINDS = static_kinds(CONF)


def state_frame(spark, rows: list[dict], month: str = MONTH):
    schema: StructType = SCHEMA
    names = set(schema.names)
    full = []
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - names
        assert not unknown, f"not state columns: {unknown}"
        r = {n: None for n in schema.names}
        r.update({"subscriber_id": i, "month": month})
        r.update(row)
        for f in schema.fields:  # dates may be given as strings
            if f.dataType.simpleString() == "date" and isinstance(r[f.name], str):
                r[f.name] = dt.date.fromisoformat(r[f.name])
            if f.dataType.simpleString() == "double" and isinstance(r[f.name], int):
                r[f.name] = float(r[f.name])
        full.append(r)
    return spark.createDataFrame(full, schema)

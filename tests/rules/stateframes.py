"""Small subscriber-state frames for the rules tests: every state column, null unless a row sets it."""
from __future__ import annotations

import datetime as dt

from pyspark.sql.types import StructType

from inlife.rules.columns import state_schema

MONTH = "2024-03"


def state_frame(spark, rows: list[dict], month: str = MONTH):
    schema: StructType = state_schema()
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

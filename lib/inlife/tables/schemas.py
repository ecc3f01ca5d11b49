"""Schema enforcement shared by both engines, so a mismatch reads the same whichever engine runs."""
from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql.types import StructField, StructType

from inlife.errors import SchemaMismatchError


@dataclass
class SchemaDiff:
    missing: list[str] = field(default_factory=list)          # in the table, not in the frame
    added: list[StructField] = field(default_factory=list)    # in the frame, not in the table
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (column, table type, frame type)

    @property
    def empty(self) -> bool:
        return not (self.missing or self.added or self.changed)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append("missing from the frame: " + ", ".join(self.missing))
        if self.added:
            parts.append("not in the table: " + ", ".join(
                f"{f.name} {f.dataType.simpleString()}" for f in self.added))
        if self.changed:
            parts.append("type differs: " + ", ".join(
                f"{c} (table {t}, frame {fr})" for c, t, fr in self.changed))
        return "; ".join(parts)


def diff_schemas(table: StructType, frame: StructType) -> SchemaDiff:
    """Compare by column name (case-sensitive) and type; nullability and column order are not compared."""
    t_fields = {f.name: f for f in table.fields}
    f_fields = {f.name: f for f in frame.fields}
    diff = SchemaDiff()
    diff.missing = [n for n in t_fields if n not in f_fields]
    diff.added = [f for n, f in f_fields.items() if n not in t_fields]
    for name, tf in t_fields.items():
        ff = f_fields.get(name)
        if ff is not None and _strip(tf.dataType) != _strip(ff.dataType):
            diff.changed.append((name, tf.dataType.simpleString(), ff.dataType.simpleString()))
    return diff


def _strip(dtype):
    """Data type with nullability and metadata removed, for comparison."""
    from pyspark.sql.types import ArrayType, MapType

    if isinstance(dtype, StructType):
        return StructType([StructField(f.name, _strip(f.dataType), True) for f in dtype.fields])
    if isinstance(dtype, ArrayType):
        return ArrayType(_strip(dtype.elementType), True)
    if isinstance(dtype, MapType):
        return MapType(_strip(dtype.keyType), _strip(dtype.valueType), True)
    return dtype


def reconcile(table_name: str, table: StructType, frame: StructType, evolve: bool) -> StructType:
    """The schema to write with: the table's, or the table's plus new nullable columns when evolving.

    Raises SchemaMismatchError listing every difference otherwise.
    """
    diff = diff_schemas(table, frame)
    if diff.empty:
        return table
    if evolve and not diff.missing and not diff.changed:
        return StructType(list(table.fields) + [StructField(f.name, f.dataType, True) for f in diff.added])
    hint = "" if evolve else " (pass evolve=True to add new nullable columns)"
    if evolve:
        hint = " (schema evolution adds columns only; it cannot drop or retype them)"
    raise SchemaMismatchError(f"table {table_name}: the frame does not match the table's schema: "
                              f"{diff.describe()}{hint}")


def nullable(schema: StructType) -> StructType:
    """Every top-level column nullable: Delta tables here accept nulls and quality checks enforce keys."""
    return StructType([StructField(f.name, f.dataType, True, f.metadata) for f in schema.fields])

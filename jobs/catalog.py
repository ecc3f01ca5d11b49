"""Register every table of the lake in the session catalog, as <layer>.<table> over its location.

    inlife catalog
Jobs register the tables they write as they go; this registers what is already in the lake (a metastore
that was reset, a new cluster's metastore, a lake.root or lake.locations that changed). It needs the
delta-spark engine and lake.catalog on.
"""
from __future__ import annotations

from inlife.errors import InlifeError
from inlife.tables import Tables


def run(spark, conf) -> int:
    tables = Tables(spark, conf)
    if not tables.catalog_enabled:
        raise InlifeError(f"the catalog is off: lake.catalog is {conf.get('lake.catalog')} and the engine is "
                          f"{tables.engine.name} (registration needs delta-spark; run `make jars`)")
    names = tables.register_all()
    impl = spark.conf.get("spark.sql.catalogImplementation", "in-memory")
    print(f"catalog ({impl}): {len(names)} tables registered" + (": " + ", ".join(names) if names else ""))
    return 0

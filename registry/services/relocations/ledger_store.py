"""Writing many rows at once inside the import's transaction: sqlite3 executemany on GeoPackage, COPY on PostGIS.

SQLAlchemy's per-value type processing cost more than the insert itself at 100,000 rows, so the values are
put in the store's own form, a column at a time, by the store's sibling (``_gpkg``: geometry blobs and the
R*Tree filled in one pass; ``_postgis``: COPY's text format).
"""

from __future__ import annotations

from registry.db import Store
from registry.services.relocations import ledger_stores

CHUNK = 5000


def insert_columns(conn, store: Store, table, columns: dict[str, list], stamp: dict, report) -> None:
    """Insert rows given column by column, in chunks, inside the session's transaction.

    GeoPackage: executemany with values already in storage form, the R*Tree filled in one pass (``_gpkg``);
    PostGIS: COPY in its text format (``_postgis``).
    """
    n = len(next(iter(columns.values())))
    for name, value in stamp.items():
        if name in table.c and name not in columns:
            columns[name] = [value] * n
    # A column empty in every row is left to its NULL default: ledgers fill only some of the fields, and each
    # value sent costs a conversion on the way.
    columns = {name: values for name, values in columns.items() if name == "id" or _has_value(values)}
    ledger_stores.for_store(store).write_columns(conn, table, columns, report, CHUNK)


def _has_value(values) -> bool:
    """Whether any value is not None (a list is counted in C; an array of geometries is looked through)."""
    if isinstance(values, list):
        return values.count(None) < len(values)
    return any(v is not None for v in values)

"""What differs by store in the ledger import: the interface its GeoPackage (``_gpkg``) and PostGIS (``_postgis``)
siblings implement, as ``services/manage`` does; ``ledger_stores`` picks one.

The import reads the registry with one JSON parameter per list of values, takes the new rows' ids before
writing, writes the rows in bulk (sqlite3 executemany with the R*Tree filled in one pass; COPY) and, on
GeoPackage, keeps a large page cache for a big import and refreshes the feature tables' extents after.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager


class LedgerBackend(ABC):
    """The ledger import's per-store statements."""

    kind: str      # the store's kind: 'geopackage' or 'postgis'
    dialect: str   # SQLAlchemy's name for its dialect: 'sqlite' or 'postgresql'

    @abstractmethod
    def in_values(self, query: str) -> str:
        """``query`` (ending in a column) narrowed to rows whose column is in the JSON list ``:values``."""

    @abstractmethod
    def large_cache(self, conn, rows: int) -> AbstractContextManager:
        """A context in which a bulk write of ``rows`` rows runs fast; the connection as before after it."""

    @abstractmethod
    def allocate_ids(self, conn, table: str, n: int) -> list[int]:
        """Ids for ``n`` new rows of ``table``, taken before writing so the rows can point at each other."""

    @abstractmethod
    def write_columns(self, conn, table, columns: dict[str, list], report, chunk: int) -> None:
        """Insert rows given column by column (values as the models hold them), ``chunk`` rows at a time."""

    @abstractmethod
    def after_write(self, conn, tables: tuple[str, ...]) -> None:
        """What the store needs once ``tables`` were written in bulk."""

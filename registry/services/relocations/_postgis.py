"""The ledger import's statements on the PostGIS store (psycopg through SQLAlchemy's connection)."""

from __future__ import annotations

import json
import math
import re
from contextlib import nullcontext
from datetime import date, datetime

import numpy as np
import shapely

from registry.models.types import Geometry, JSONText
from registry.services.relocations.ledger_backend import LedgerBackend


class PostGISLedger(LedgerBackend):
    kind = "postgis"
    dialect = "postgresql"

    def in_values(self, query: str) -> str:
        # One JSON text, not an array parameter: psycopg adapts an array element by element in Python.
        return f"{query} IN (SELECT jsonb_array_elements_text(CAST(:values AS jsonb)))"

    def large_cache(self, conn, rows: int):
        return nullcontext()

    def allocate_ids(self, conn, table: str, n: int) -> list[int]:
        """Drawn from the table's sequence on the server: one range comes back as its ends; only when another
        writer drew ids meanwhile (so ours are not one range) does the whole list travel."""
        if not n:
            return []
        low, high, scattered = conn.exec_driver_sql(
            f"WITH drawn AS (SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id "
            f"FROM generate_series(1, {int(n)})) SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = "
            "count(*) THEN NULL ELSE array_agg(id ORDER BY id) END FROM drawn").one()
        return list(range(low, high + 1)) if scattered is None else list(scattered)

    def write_columns(self, conn, table, columns: dict[str, list], report, chunk: int) -> None:
        _copy(conn, table, columns, report, chunk)

    def after_write(self, conn, tables: tuple[str, ...]) -> None:
        return None


def _copy(conn, table, columns: dict[str, list], report, chunk: int) -> None:
    """COPY a table's new rows into PostGIS within the transaction: one COPY, sent in chunks.

    The rows are put in COPY's text format here, a column at a time (psycopg's per-row ``write_row``
    formats each value in Python and was a third of the import's CPU): geometry as hex EWKB, JSON as text.
    """
    raw = conn.connection.driver_connection
    n = len(next(iter(columns.values())))
    kinds = [table.c[name].type for name in columns]
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for start in range(0, n, chunk):
                # Chunk by chunk, so the server checks and indexes one chunk while the next is formatted here.
                out = [_copy_text(values[start:start + chunk], kind)
                       for values, kind in zip(columns.values(), kinds, strict=True)]
                copy.write("".join(line + "\n" for line in map("\t".join, zip(*out, strict=True))))
                report(min(chunk, n - start))


# COPY text format: backslash, newline, carriage return and tab are escaped; \N is NULL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_COPY_SPECIAL = re.compile(r"[\\\n\r\t]")


def _copy_text(values: list, kind) -> list[str]:
    """One column's values as COPY text fields."""
    if isinstance(kind, Geometry):
        geoms = shapely.set_srid(np.asarray(values, dtype=object), kind.srid)
        return ["\\N" if h is None else h for h in shapely.to_wkb(geoms, hex=True, include_srid=True).tolist()]
    if not isinstance(kind, JSONText):
        present = [v for v in values if v is not None]
        types = set(map(type, present))
        fast = None
        if types <= {str} and not _COPY_SPECIAL.search("".join(present)):
            fast = values  # plain text, nothing to escape: the common case, checked for the whole column at once
        elif types <= {int}:
            fast = list(map(str, values))
        elif types <= {float} and all(map(math.isfinite, present)):
            fast = list(map(repr, values))
        if fast is not None:
            return ["\\N" if v is None else c for v, c in zip(values, fast, strict=True)]
    cells = {}
    out = []
    for v in values:
        # Values repeat down a column (stamps, dates, facility ids): each distinct one is formatted once.
        try:
            cell = cells.get(v)
        except TypeError:  # a list (JSON)
            cell = None
        if cell is None:
            cell = _copy_field(v, kind)
            try:
                cells[v] = cell
            except TypeError:
                pass
        out.append(cell)
    return out


def _copy_field(v, kind) -> str:
    if v is None:
        return "\\N"
    if isinstance(kind, JSONText):
        v = json.dumps(v, ensure_ascii=False)
    elif type(v) is bool:
        return "t" if v else "f"
    elif isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
    elif isinstance(v, (int, np.integer)):
        return str(int(v))
    elif isinstance(v, (date, datetime)):
        return v.isoformat()
    text_value = str(v)
    return text_value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text_value) else text_value

"""Writing many rows at once inside the import's transaction: sqlite3 executemany on GeoPackage, COPY on PostGIS.

SQLAlchemy's per-value type processing cost more than the insert itself at 100,000 rows, so the values are
put in the store's own form here, a column at a time: GeoPackage geometry blobs (and the R*Tree filled in one
pass), COPY's text format.
"""

from __future__ import annotations

import json
import math
import re
import struct
from contextlib import contextmanager
from datetime import date, datetime

import numpy as np
import shapely
from sqlalchemy import Boolean, Date
from sqlalchemy.dialects import sqlite as sqlite_dialect

from registry.db import Store
from registry.models.types import Geometry, JSONText, UTCDateTime

_SQLITE = sqlite_dialect.dialect()
CHUNK = 5000


_GPKG_HEADER = struct.Struct("<2sBBi")
_GPKG_ENVELOPE = struct.Struct("<4d")


def _gpkg_blobs(geoms: np.ndarray, srid: int) -> tuple[list, np.ndarray]:
    """GeoPackage blobs (as geodata.gpkg.encode writes them) and bounds of many geometries at once."""
    blobs: list = [None] * len(geoms)
    present = ~shapely.is_missing(geoms)
    if not present.any():
        return blobs, np.empty((0, 4))
    chosen = geoms[present]
    wkb = shapely.to_wkb(chosen, byte_order=1, flavor="iso").tolist()
    bounds = shapely.bounds(chosen)
    points = shapely.get_type_id(chosen) == 0
    point_head = _GPKG_HEADER.pack(b"GP", 0, 0x01, srid)
    line_head = _GPKG_HEADER.pack(b"GP", 0, 0x03, srid)
    for i, w, is_point, (minx, miny, maxx, maxy) in zip(np.flatnonzero(present).tolist(), wkb, points.tolist(),
                                                         bounds.tolist(), strict=True):
        # Points carry no envelope, other shapes their XY envelope (flags 0x01 / 0x03: little-endian).
        blobs[i] = point_head + w if is_point else line_head + _GPKG_ENVELOPE.pack(minx, maxx, miny, maxy) + w
    return blobs, bounds


def insert_columns(conn, store: Store, table, columns: dict[str, list], stamp: dict, report) -> None:
    """Insert rows given column by column, in chunks, inside the session's transaction.

    GeoPackage: executemany on the session's own sqlite3 connection with values already in storage form
    (SQLAlchemy's per-value type processing cost more than the insert itself at 100,000 rows). PostGIS: COPY.
    """
    n = len(next(iter(columns.values())))
    for name, value in stamp.items():
        if name in table.c and name not in columns:
            columns[name] = [value] * n
    # A column empty in every row is left to its NULL default: ledgers fill only some of the fields, and each
    # value sent costs a conversion on the way.
    columns = {name: values for name, values in columns.items() if name == "id" or _has_value(values)}
    if store.kind == "postgis":
        _copy(conn, table, columns, report)
        return
    raw = conn.connection.driver_connection
    out = {}
    geometry = None
    for name, values in columns.items():
        kind = table.c[name].type
        if isinstance(kind, Geometry):
            out[name], bounds = _gpkg_blobs(np.asarray(values, dtype=object), kind.srid)
            geometry = (name, np.asarray(values, dtype=object), bounds, np.asarray(columns["id"]))
        elif isinstance(kind, UTCDateTime):
            stamps = {v: kind.process_bind_param(v, _SQLITE) for v in set(values)}
            out[name] = [stamps[v] for v in values]
        elif isinstance(kind, Date):
            # Dates repeat down a column: each distinct one is written out once.
            days = {v: v.isoformat() for v in set(values) if v is not None}
            out[name] = [None if v is None else days[v] for v in values]
        elif isinstance(kind, Boolean):
            out[name] = [None if v is None else int(v) for v in values]
        elif isinstance(kind, JSONText):
            out[name] = [None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values]
        else:
            out[name] = list(values)
    order = list(out)
    statement = f"INSERT INTO {table.name} ({', '.join(order)}) VALUES ({', '.join('?' * len(order))})"
    params = list(zip(*(out[c] for c in order), strict=True))
    with _index_filled_here(raw, table.name, geometry):
        for start in range(0, n, CHUNK):
            _sqlite_insert(raw, statement, params[start:start + CHUNK])
            report(min(CHUNK, n - start))


def _has_value(values) -> bool:
    """Whether any value is not None (a list is counted in C; an array of geometries is looked through)."""
    if isinstance(values, list):
        return values.count(None) < len(values)
    return any(v is not None for v in values)


def _sqlite_insert(raw, statement: str, params: list[tuple]) -> None:
    """One chunk through the session's own sqlite3 connection (so in its transaction)."""
    raw.executemany(statement, params)


@contextmanager
def _index_filled_here(raw, table: str, geometry):
    """Fill a GeoPackage table's R*Tree for a bulk insert in one pass instead of through its insert trigger.

    The GeoPackage trigger calls five SQL functions (Python ones here) per row, which made it some 80% of
    a 100,000-row import. Inside the import's own transaction (the write lock is held, so no other writer
    can insert meanwhile, and readers see the schema as before) the insert trigger is dropped, the rows
    written, their bounds put in the R*Tree (which rounds them outward to float32 exactly as the trigger's
    insert would), and the trigger created again from its own stored SQL: the file keeps the triggers the
    specification wants, and a rollback undoes all of it.
    """
    if geometry is None:
        yield
        return
    column, geoms, bounds, ids = geometry
    trigger = f"rtree_{table}_{column}insert_columns"
    found = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trigger,)).fetchone()
    if found is None:
        yield  # no spatial index on this table: nothing to fill
        return
    raw.execute(f"DROP TRIGGER {trigger}")
    try:
        yield
    except BaseException:
        raw.execute(found[0])
        raise
    present = ~shapely.is_missing(geoms)
    keep = ~shapely.is_empty(geoms[present])
    ids = ids[present][keep]
    box = bounds[keep]
    raw.executemany(f"INSERT INTO rtree_{table}_{column} (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
                    zip(ids.tolist(), box[:, 0].tolist(), box[:, 2].tolist(), box[:, 1].tolist(), box[:, 3].tolist(),
                        strict=True))
    raw.execute(found[0])


def _copy(conn, table, columns: dict[str, list], report) -> None:
    """COPY a table's new rows into PostGIS within the transaction: one COPY, sent in chunks.

    The rows are put in COPY's text format here, a column at a time (psycopg's per-row ``write_row``
    formats each value in Python and was a third of the import's CPU): geometry as hex EWKB, JSON as text.
    """
    raw = conn.connection.driver_connection
    n = len(next(iter(columns.values())))
    kinds = [table.c[name].type for name in columns]
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for start in range(0, n, CHUNK):
                # Chunk by chunk, so the server checks and indexes one chunk while the next is formatted here.
                out = [_copy_text(values[start:start + CHUNK], kind)
                       for values, kind in zip(columns.values(), kinds, strict=True)]
                copy.write("".join(line + "\n" for line in map("\t".join, zip(*out, strict=True))))
                report(min(CHUNK, n - start))


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

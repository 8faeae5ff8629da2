"""The ledger import's statements on the GeoPackage store (sqlite3 through SQLAlchemy's connection)."""

from __future__ import annotations

import json
import struct
from contextlib import contextmanager

import numpy as np
import shapely
from sqlalchemy import Boolean, Date
from sqlalchemy.dialects import sqlite as sqlite_dialect

from registry import gpkg
from registry.models.types import Geometry, JSONText, UTCDateTime
from registry.services.relocations.ledger_backend import LedgerBackend

_SQLITE = sqlite_dialect.dialect()
# A big import (more rows than this) keeps a large page cache while it writes.
LARGE = 5000


class GeoPackageLedger(LedgerBackend):
    kind = "geopackage"
    dialect = "sqlite"

    def in_values(self, query: str) -> str:
        return f"{query} IN (SELECT value FROM json_each(:values))"

    @contextmanager
    def large_cache(self, conn, rows: int):
        """A large page cache keeps the growing indexes and R*Tree in memory during a big import (the demo
        loader does the same); without it the insert slows down as the table grows. Restored after."""
        if rows <= LARGE:
            yield
            return
        cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.exec_driver_sql(f"PRAGMA cache_size=-{256 * 1024}")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_size)}")

    def allocate_ids(self, conn, table: str, n: int) -> list[int]:
        """The write lock is held (BEGIN IMMEDIATE), so the next ids are those after the table's AUTOINCREMENT
        high-water mark (never one a retired or rolled-back row had); explicit ids move that mark on."""
        if not n:
            return []
        top = conn.exec_driver_sql(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), "
            f"coalesce((SELECT max(id) FROM {table}), 0))").scalar()
        return list(range(top + 1, top + 1 + n))

    def write_columns(self, conn, table, columns: dict[str, list], report, chunk: int) -> None:
        """executemany on the session's own sqlite3 connection with values already in storage form
        (SQLAlchemy's per-value type processing cost more than the insert itself at 100,000 rows)."""
        n = len(next(iter(columns.values())))
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
            for start in range(0, n, chunk):
                _sqlite_insert(raw, statement, params[start:start + chunk])
                report(min(chunk, n - start))

    def after_write(self, conn, tables: tuple[str, ...]) -> None:
        for table in tables:
            gpkg.refresh_contents_extent(lambda sql, params=(): conn.exec_driver_sql(sql, tuple(params)), table)


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

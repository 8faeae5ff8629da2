"""Raster tiles from an MBTiles file, opened read-only and kept open per process (the intranet base map)."""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

# Raster formats a browser shows as an <img>: metadata ``format`` -> (media type, file extensions).
RASTER_FORMATS = {
    "png": ("image/png", ("png",)),
    "jpg": ("image/jpeg", ("jpg", "jpeg")),
    "jpeg": ("image/jpeg", ("jpg", "jpeg")),
    "webp": ("image/webp", ("webp",)),
}
# Magic numbers of the raster formats, for a file whose metadata names no format (MBTiles 1.0).
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"RIFF", "webp"))
MAX_ZOOM = 24


class MBTilesError(Exception):
    """The configured MBTiles file cannot serve a base map; the message names the file and why."""


@dataclass(frozen=True)
class TileSet:
    """What the map needs to know of an MBTiles file: its name, format, extent and zooms."""

    path: str
    name: str
    format: str
    media_type: str
    extensions: tuple[str, ...]
    attribution: str
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float] | None
    version: str  # changes when the file is replaced: part of every tile's ETag and of the page's tile URL


def _identity(path: Path) -> str:
    st = path.stat()
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"


class MBTilesFile:
    """One open MBTiles file. The connection is ``mode=ro&immutable=1``: never written, never locked.

    One connection serves every thread of the process behind a lock: a tile is one primary-key lookup,
    so threads wait microseconds, and no connection is left behind by a thread that ends.
    """

    def __init__(self, path: Path, forbidden: Path | None = None):
        self.path = path
        label = f"REGISTRY_BASEMAP_PATH={str(path)!r}"
        if forbidden is not None and path.exists() and forbidden.exists() and path.samefile(forbidden):
            raise MBTilesError(f"{label} is the registry's own file: give the path of an MBTiles tile package")
        if not path.is_file():
            raise MBTilesError(f"{label}: no such file")
        version = _identity(path)
        uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
        self._lock = threading.Lock()
        self._con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        try:
            self.tileset = self._describe(label, version)
        except sqlite3.DatabaseError as exc:
            self._con.close()
            raise MBTilesError(f"{label} is not an MBTiles file: it is not a SQLite database ({exc})") from None
        except MBTilesError:
            self._con.close()
            raise

    def _describe(self, label: str, version: str) -> TileSet:
        names = {row[0] for row in self._con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        missing = [table for table in ("tiles", "metadata") if table not in names]
        if missing:
            raise MBTilesError(f"{label} is a SQLite file but not an MBTiles file: it has no "
                               f"{' and no '.join(missing)} table or view")
        meta = {str(k): str(v) for k, v in self._con.execute("SELECT name, value FROM metadata")}
        fmt = meta.get("format", "").strip().lower() or self._sniff()
        if fmt == "pbf":
            raise MBTilesError(f"{label} holds vector tiles (format pbf); the map shows raster base maps only "
                               "(png, jpg, webp): render the package to raster tiles first (docs/DEPLOY.md)")
        if fmt not in RASTER_FORMATS:
            raise MBTilesError(f"{label} has tile format {fmt!r}, not one of png, jpg, webp")
        media_type, extensions = RASTER_FORMATS[fmt]
        low, high = self._con.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        min_zoom = _int(meta.get("minzoom"), low if low is not None else 0)
        max_zoom = _int(meta.get("maxzoom"), high if high is not None else 18)
        return TileSet(str(self.path), meta.get("name") or self.path.stem, fmt, media_type, extensions,
                       meta.get("attribution", ""), max(0, min_zoom), min(MAX_ZOOM, max_zoom),
                       _bounds(meta.get("bounds")), version)

    def _sniff(self) -> str:
        row = self._con.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
        head = bytes(row[0][:8]) if row and row[0] else b""
        return next((fmt for magic, fmt in _MAGIC if head.startswith(magic)), "")

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ ``z/x/y`` (MBTiles stores TMS rows, counted from the south), or None."""
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        with self._lock:
            try:
                row = self._con.execute(
                    "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                    (z, x, 2**z - 1 - y)).fetchone()
            except sqlite3.ProgrammingError:  # closed: the file was replaced while this request held it
                return None
        return bytes(row[0]) if row and row[0] is not None else None

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _int(value, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return int(default)


def _bounds(value) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(v) for v in str(value).split(","))
    except (TypeError, ValueError):
        return None
    if -180 <= west < east <= 180 and -90 <= south < north <= 90:
        return (west, south, east, north)
    return None


class TileSets:
    """The process's open MBTiles files, reopened when the file at the path is replaced; safe across threads.

    A file that cannot serve is remembered with its reason until it changes, so a bad setting costs one
    ``stat`` per request, not an open.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open: dict[str, tuple[str, MBTilesFile | MBTilesError]] = {}

    def get(self, path: str | os.PathLike, forbidden: Path | None = None) -> MBTilesFile:
        """The open file at ``path``; raises :class:`MBTilesError` saying why it cannot serve."""
        if not str(path).strip():
            raise MBTilesError("REGISTRY_BASEMAP=mbtiles needs REGISTRY_BASEMAP_PATH, the path of an MBTiles file")
        target = Path(path)
        try:
            identity = _identity(target)
        except OSError:
            identity = "missing"
        key = str(target)
        with self._lock:
            known = self._open.get(key)
            if known is None or known[0] != identity:
                if known is not None and isinstance(known[1], MBTilesFile):
                    known[1].close()
                try:
                    opened: MBTilesFile | MBTilesError = MBTilesFile(target, forbidden)
                except MBTilesError as exc:
                    opened = exc
                known = self._open[key] = (identity, opened)
        if isinstance(known[1], MBTilesError):
            raise known[1]
        return known[1]

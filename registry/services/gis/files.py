"""Reading an import's file: its format by name, a checked private copy, a GeoPackage's layers, and its rows.

Every upload is checked by ``geodata.sniff`` before GDAL or pandas opens it, and only ever as a copy in a
private temporary folder (never the registry's own file). The rows come back as a frame with ``lon`` and
``lat`` columns (points of a file with its own projected system are moved into lon/lat).
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd

from geodata.sniff import DEFAULT_LIMITS, Limits, UploadRefused, check_file, extract_shapefile, gdal_layers, gdal_read
from registry.files.tables import read_frame
from registry.services.base import InvalidInput, refused

FORMATS = ("gpkg", "geojson", "shp", "csv", "xlsx")
# File name endings and the format each stands for (a zipped Shapefile travels as .zip).
SUFFIXES = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".zip": "shp", ".csv": "csv",
            ".xlsx": "xlsx"}
MAX_ROWS = 50_000
# Spreadsheet headers accepted for the point's columns.
_LONLAT_ALIASES = {"longitude": "lon", "经度": "lon", "lng": "lon", "latitude": "lat", "纬度": "lat"}
TABULAR = ("csv", "xlsx")


def format_for(filename: str) -> str:
    """The import format a file name stands for, or InvalidInput naming the file."""
    name = (filename or "").lower()
    for suffix, fmt in SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    raise InvalidInput(f"{filename or 'the upload'!r} is neither a GIS file nor a spreadsheet: upload GeoPackage "
                       "(.gpkg), GeoJSON (.geojson), a zipped Shapefile (.zip), CSV (.csv) or Excel (.xlsx)",
                       field="file")


def clean_value(value):
    """A cell as the registry stores it: blanks and NaN as None, numpy scalars as Python, text stripped."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _limits(limits: Limits | None) -> Limits:
    # A GIS import takes up to MAX_ROWS points (an outline upload far fewer); the other limits are the settings'.
    return replace(limits or DEFAULT_LIMITS, features=MAX_ROWS)


def file_sha256(data: bytes | Path) -> str:
    """The SHA-256 (hex) of an upload held in memory or staged on disk."""
    if isinstance(data, (bytes, bytearray)):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with open(data, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _refused(exc: UploadRefused, fmt: str):
    exc.reason = f"the file cannot be read as {fmt}: {exc.reason}"
    return refused(exc)


@contextmanager
def _checked(data: bytes | Path, fmt: str, limits: Limits):
    """The upload copied into a private folder and checked to be ``fmt``; yields the path readers open.

    A zipped Shapefile yields its extracted .shp (only the Shapefile's own parts are extracted).
    """
    if isinstance(data, (bytes, bytearray)) and not data:
        raise InvalidInput("the file is empty (0 bytes)", field="file")
    with tempfile.TemporaryDirectory(prefix="registry-import-") as folder:
        path = Path(folder) / f"upload.{'zip' if fmt == 'shp' else fmt}"
        if isinstance(data, (bytes, bytearray)):
            path.write_bytes(data)
        else:
            shutil.copyfile(data, path)  # a staged upload, never the registry's own file
        try:
            check_file(path, fmt, limits)
            if fmt == "shp":
                path = extract_shapefile(path, Path(folder) / "unzipped", limits)
        except UploadRefused as exc:
            raise _refused(exc, fmt) from None
        yield path


def layers(data: bytes | Path, fmt: str, limits: Limits | None = None) -> list[str]:
    """The layers a GeoPackage holds (other formats hold one, so this is empty for them)."""
    if fmt != "gpkg":
        return []
    with _checked(data, fmt, _limits(limits)) as path:
        return _gpkg_layers(path)


def _gpkg_layers(path: Path) -> list[str]:
    try:
        return gdal_layers(path, "gpkg")
    except UploadRefused as exc:
        raise _refused(exc, "gpkg") from None
    except Exception as exc:  # noqa: BLE001 - GDAL's many errors become one message
        raise InvalidInput(f"the file cannot be read as gpkg: {str(exc).splitlines()[0]}", field="file") from None


def _read_table(path: Path, fmt: str) -> pd.DataFrame:
    # The sheet is read as the ledger import reads one (registry.files.tables): same encodings, same workbook.
    frame = read_frame(path, fmt)
    frame = frame.rename(columns={c: _LONLAT_ALIASES.get(c.lower(), c) for c in frame.columns})
    frame = frame.replace({"": None})
    if frame.empty and not len(frame.columns):
        raise InvalidInput("the file holds no header row and no rows", field="file")
    missing = [c for c in ("lon", "lat") if c not in frame.columns]
    if missing:
        raise InvalidInput(f"the file has no {' and no '.join(missing)} column: name the point's columns lon and lat "
                           "(or longitude/latitude, 经度/纬度)", field=missing[0])
    return frame


def read_rows(data: bytes | Path, fmt: str, layer: str | None,
          limits: Limits | None = None) -> tuple[pd.DataFrame, str | None, bool]:
    """(rows with lon/lat columns, the layer read, whether the file named its own non-lon/lat CRS)."""
    limits = _limits(limits)
    with _checked(data, fmt, limits) as path:
        try:
            if fmt in TABULAR:
                return _read_table(path, fmt), None, False
            if fmt == "gpkg":
                names = _gpkg_layers(path)
                if layer:
                    if layer not in names:
                        raise InvalidInput(f"layer {layer!r} is not in the file; its layers are: {', '.join(names)}",
                                           field="layer", errors=names)
                elif len(names) > 1:
                    raise InvalidInput(f"the file holds {len(names)} layers ({', '.join(names)}); choose the one "
                                       "to import", field="layer", errors=names)
                elif not names:
                    raise InvalidInput("the file holds no layer", field="file")
                else:
                    layer = names[0]
            _info, gdf = gdal_read(path, fmt, layer if fmt == "gpkg" else None, limits)
        except InvalidInput:
            raise
        except UploadRefused as exc:
            raise _refused(exc, fmt) from None
        except (ValueError, OSError, RuntimeError, KeyError, zipfile.BadZipFile) as exc:
            # pyogrio's DataSourceError is a RuntimeError; openpyxl raises BadZipFile or KeyError on a non-XLSX.
            reason = (str(exc).split(";")[0].splitlines() or [type(exc).__name__])[0]
            raise InvalidInput(f"the file cannot be read as {fmt}: {reason}", field="file") from None
    own_crs = gdf.crs is not None and gdf.crs.to_epsg() not in (4326, 4490)
    if own_crs:
        gdf = gdf.to_crs(4326)
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    points = [g is not None and not g.is_empty and g.geom_type == "Point" for g in gdf.geometry]
    frame["lon"] = [g.x if ok else None for g, ok in zip(gdf.geometry, points, strict=True)]
    frame["lat"] = [g.y if ok else None for g, ok in zip(gdf.geometry, points, strict=True)]
    frame["_geometry_type"] = [None if g is None else g.geom_type for g in gdf.geometry]
    return frame, layer, own_crs

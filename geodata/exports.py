"""File exports of a GeoDataFrame: GeoJSON, GeoPackage, zipped Shapefile, KML, CSV for Excel and XLSX.

Pure functions: a GeoDataFrame in, the bytes of a file out. GDAL (through pyogrio) only ever writes
new files in a private temporary folder; nothing here opens the live registry.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geodata.sheets import append_row, csv_cell, looks_like_formula

__all__ = ["FORMATS", "ExportFormat", "export", "read_back", "shapefile_names"]


@dataclass(frozen=True)
class ExportFormat:
    key: str
    media_type: str
    extension: str
    label: str


FORMATS = {
    "geojson": ExportFormat("geojson", "application/geo+json", "geojson", "GeoJSON"),
    "gpkg": ExportFormat("gpkg", "application/geopackage+sqlite3", "gpkg", "GeoPackage"),
    "shp": ExportFormat("shp", "application/zip", "zip", "Shapefile (zip)"),
    "kml": ExportFormat("kml", "application/vnd.google-earth.kml+xml", "kml", "KML"),
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", "csv", "CSV (Excel)"),
    "xlsx": ExportFormat("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "Excel"),
}


def _plain_table(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """Attributes as text-friendly columns plus the geometry as WKT and, for points, lon/lat columns."""
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (list, dict))).any():
            frame[column] = frame[column].map(
                lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
    geoms = gdf.geometry
    if len(geoms) and (geoms.geom_type == "Point").all():
        frame["lon"] = geoms.x.round(7)
        frame["lat"] = geoms.y.round(7)
    frame["wkt"] = geoms.to_wkt(rounding_precision=7) if len(geoms) else pd.Series(dtype=object)
    return frame


def _for_gdal(gdf: gpd.GeoDataFrame, dates_as_text: bool = False) -> gpd.GeoDataFrame:
    """A copy GDAL can write: JSON-ish cells as text; dates as ISO text when the format has no date type."""
    out = gdf.copy()
    for column in out.columns:
        if column == out.geometry.name:
            continue
        series = out[column]
        if series.map(lambda v: isinstance(v, (list, dict))).any():
            out[column] = series.map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
        elif dates_as_text and series.map(lambda v: isinstance(v, (date, datetime))).any():
            out[column] = series.map(lambda v: v.isoformat() if isinstance(v, (date, datetime)) else v)
        elif series.map(lambda v: isinstance(v, datetime)).any():
            out[column] = pd.to_datetime(series, utc=True)
        elif series.map(lambda v: isinstance(v, date)).any():
            # pyogrio has no DATE field type: dates travel as midnight date-times (NULL stays NULL).
            out[column] = pd.to_datetime(series.map(lambda v: v if isinstance(v, date) else None))
    return out


def _write(gdf: gpd.GeoDataFrame, layer: str, driver: str, suffix: str,
           **options) -> tuple[Path, tempfile.TemporaryDirectory]:
    folder = tempfile.TemporaryDirectory(prefix="registry-export-")
    path = Path(folder.name) / f"{layer}{suffix}"
    pyogrio.write_dataframe(gdf, path, layer=layer, driver=driver, **options)
    return path, folder


def export(gdf: gpd.GeoDataFrame, fmt: str, layer: str) -> bytes:
    """The bytes of ``gdf`` written in format ``fmt``.

    Parameters
    ----------
    gdf : GeoDataFrame
        Features with a CRS (EPSG:4326 for the registry); attributes may hold Chinese text.
    fmt : str
        One of :data:`FORMATS`: geojson, gpkg, shp (a zip with the .cpg that says UTF-8), kml, csv
        (UTF-8 with a byte-order mark, so Excel reads Chinese) or xlsx.
    layer : str
        The layer, sheet or file name inside the export.

    Example
    -------
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame({"name": ["某纪念馆"]}, geometry=[Point(116.818, 25.225)], crs=4326)
    >>> export(gdf, "csv", "sites")[:3] == b"\\xef\\xbb\\xbf"
    True
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if gdf.crs is None:
        raise ValueError("the GeoDataFrame has no CRS; every export names its coordinate system")
    if fmt == "csv":
        table = _plain_table(gdf)
        for column in table.columns:
            if table[column].map(looks_like_formula).any():
                table[column] = table[column].map(csv_cell)
        # CRLF, as Excel writes CSV: the csv writer then quotes any cell holding a bare CR, which would
        # otherwise start a new row in the reader.
        return table.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        return _xlsx(_plain_table(gdf), layer)
    if fmt == "geojson":
        path, folder = _write(_for_gdal(gdf, dates_as_text=True), layer, "GeoJSON", ".geojson")
        with folder:
            return path.read_bytes()
    if fmt == "gpkg":
        path, folder = _write(_for_gdal(gdf), layer, "GPKG", ".gpkg")
        with folder:
            return path.read_bytes()
    if fmt == "kml":
        path, folder = _write(_for_gdal(gdf, dates_as_text=True).to_crs(4326), layer, "KML", ".kml")
        with folder:
            return path.read_bytes()
    # Shapefile: field names of at most 10 characters (listed beside the full names in a CSV in the
    # zip), dates as ISO text, UTF-8 declared in the .cpg so Chinese attributes survive.
    short = shapefile_names([c for c in gdf.columns if c != gdf.geometry.name])
    table = _for_gdal(gdf, dates_as_text=True).rename(columns=short)
    path, folder = _write(table, layer, "ESRI Shapefile", ".shp", layer_options={"ENCODING": "UTF-8"})
    with folder:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(folder.name).iterdir()):
                archive.write(part, part.name)
            listing = "field,shapefile_field\n" + "".join(f"{k},{v}\n" for k, v in short.items())
            archive.writestr(f"{layer}_fields.csv", listing.encode("utf-8-sig"))
        return buffer.getvalue()


def _xlsx_value(value):
    """A pandas cell as openpyxl takes it: missing as empty, numpy scalars as Python, UTC wall time for Excel."""
    if value is None or (not isinstance(value, (str, list, dict)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        # Excel has no time zones: write UTC wall time.
        return value.astimezone(UTC).replace(tzinfo=None)
    return value.item() if hasattr(value, "item") else value


def _xlsx(table: pd.DataFrame, layer: str) -> bytes:
    """The table as one sheet; text that starts like a formula stays text (``geodata.sheets.append_row``)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = layer[:31]
    append_row(sheet, [str(c) for c in table.columns])
    for row in table.itertuples(index=False, name=None):
        append_row(sheet, [_xlsx_value(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def shapefile_names(names: list[str]) -> dict[str, str]:
    """Unique dBASE field names of at most 10 characters for ``names``, in GDAL's style (``_1``, ``_2`` …).

    Example
    -------
    >>> shapefile_names(["level_approved_by", "level_approved_on", "id"])
    {'level_approved_by': 'level_appr', 'level_approved_on': 'level_ap_1', 'id': 'id'}
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        candidate = name[:10]
        n = 1
        while candidate.lower() in used:
            suffix = f"_{n}"
            candidate = name[:10 - len(suffix)] + suffix
            n += 1
        used.add(candidate.lower())
        out[name] = candidate
    return out


def read_back(data: bytes, fmt: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read an export's bytes back into a GeoDataFrame (for round trips and imports).

    Example
    -------
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame({"name": ["才溪"]}, geometry=[Point(116.4, 25.0)], crs=4326)
    >>> read_back(export(gdf, "gpkg", "t"), "gpkg")["name"].tolist()
    ['才溪']
    """
    suffix = {"shp": ".zip"}.get(fmt, "." + FORMATS[fmt].extension if fmt in FORMATS else "")
    with tempfile.TemporaryDirectory(prefix="registry-read-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        if fmt == "shp":
            return pyogrio.read_dataframe(f"/vsizip/{path}", layer=layer)
        return pyogrio.read_dataframe(path, layer=layer)

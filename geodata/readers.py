"""Safe reading of uploaded outlines and zones: GeoJSON, GeoPackage, zipped Shapefile and KML.

Every upload is copied to a private temporary folder, checked by :mod:`geodata.sniff` to be what its
name claims (zips before anything is extracted, KML decoded and without a DOCTYPE, no VRT, path, URL
or connection string) and read from there with its format's GDAL driver only, so GDAL never opens
the live registry file nor anything an upload names. Coordinates come back as shapely
geometries in EPSG:4326 longitude, latitude, checked with :mod:`geodata.checks`.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geodata.checks import GeometryError, check_linestring, check_polygon
from geodata.crs import normalise_crs, shift_geometry
from geodata.sniff import DEFAULT_LIMITS, Limits, UploadRefused, check_file, extract_shapefile, gdal_layers, gdal_read

# Limits on what an upload may hold; a planner's outline or a county's ranges fit far inside them.
MAX_UPLOAD_BYTES = DEFAULT_LIMITS.max_bytes
MAX_UNZIPPED_BYTES = DEFAULT_LIMITS.zip_bytes
MAX_ZIP_MEMBERS = DEFAULT_LIMITS.zip_members
MAX_COMPRESSION_RATIO = DEFAULT_LIMITS.zip_ratio
MAX_FEATURES = DEFAULT_LIMITS.features

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".zip": "zipped Shapefile",
    ".kml": "KML",
}
# The format each name ending claims, as geodata.sniff checks it.
_CLAIMS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "shp", ".kml": "kml"}

_GEOGRAPHIC_NAMES = ("EPSG:4326", "EPSG:4490", "OGC:CRS84")


class ReadError(ValueError):
    """An upload that cannot be read safely or sensibly; ``field`` names the form field, ``location`` the fault.

    Examples
    --------
    >>> str(ReadError("the file is empty", field="file"))
    'file: the file is empty'
    """

    def __init__(self, reason: str, field: str | None = "file", location: tuple | None = None,
                 choices: list | None = None, status: int = 400):
        super().__init__(reason, field, location)
        self.status = status
        self.reason = reason
        self.field = field
        self.location = location
        self.choices = choices or []

    def __str__(self):
        text = f"{self.field}: {self.reason}" if self.field else self.reason
        if self.location is not None:
            text += f" (at lon {self.location[0]:.6f}, lat {self.location[1]:.6f})"
        return text


@dataclass
class ReadResult:
    """What an upload held: checked lon/lat geometries, their attributes, and what was done to them."""

    geometries: list[BaseGeometry]
    attributes: list[dict]
    layer: str | None
    source_crs: str
    format: str
    notes: list[str] = field(default_factory=list)


def _suffix(filename: str) -> str:
    name = (filename or "").lower()
    for suffix in FORMATS:
        if name.endswith(suffix):
            return suffix
    raise ReadError(
        f"{filename!r} is not a supported file: upload GeoJSON (.geojson), GeoPackage (.gpkg), "
        "a zipped Shapefile (.zip) or KML (.kml)"
    )


def _dataset(data: bytes | Path, filename: str, folder: Path, limits: Limits) -> tuple[Path, str, str]:
    """Copy the upload into ``folder``, check it is what its name claims; return (path for GDAL, claim, name)."""
    suffix = _suffix(filename)
    upload = folder / f"upload{suffix}"
    if isinstance(data, (bytes, bytearray)):
        upload.write_bytes(data)
    else:
        shutil.copyfile(data, upload)  # a staged upload, never the registry's own file
    claim = _CLAIMS[suffix]
    try:
        check_file(upload, claim, limits)
        if claim == "shp":
            upload = extract_shapefile(upload, folder / "unzipped", limits)
    except UploadRefused as exc:
        raise ReadError(exc.reason, field=exc.field, status=exc.status) from None
    return upload, claim, FORMATS[suffix]


def _layers(path: Path, claim: str) -> list[str]:
    try:
        return gdal_layers(path, claim)
    except UploadRefused as exc:
        raise ReadError(exc.reason, field=exc.field, status=exc.status) from None
    except Exception as exc:  # noqa: BLE001 - GDAL's many errors become one message
        raise ReadError(f"the file cannot be read: {str(exc).splitlines()[0]}") from None


def list_layers(data: bytes | Path, filename: str, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """The layers an upload holds (a GeoPackage may hold several; other formats hold one).

    Parameters
    ----------
    data : bytes
        The uploaded file's content.
    filename : str
        Its name; the suffix picks the format.

    Returns
    -------
    list of str

    Examples
    --------
    >>> gj = b'{"type":"FeatureCollection","features":[]}'
    >>> len(list_layers(gj, "a.geojson"))
    1
    """
    with tempfile.TemporaryDirectory(prefix="registry-upload-") as tmp:
        path, claim, _fmt = _dataset(data, filename, Path(tmp), limits)
        return _layers(path, claim)


def _source_crs(info_crs: str | None, declared: str | None, fmt: str) -> tuple[str, CRS | None]:
    """(name shown to the planner, pyproj CRS to transform from or None for a lon/lat system)."""
    if declared:
        try:
            name = normalise_crs(declared)
        except ValueError as exc:
            raise ReadError(str(exc), field="crs") from None
        return name, None
    if not info_crs:
        # GeoJSON and KML are lon/lat WGS 84 by their specifications.
        return "EPSG:4326", None
    crs = CRS.from_user_input(info_crs)
    if crs.is_geographic:
        epsg = crs.to_epsg()
        return (f"EPSG:{epsg}" if epsg else crs.name), None
    return (f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name), crs


def _check_lonlat_numbers(geoms: np.ndarray, crs_name: str) -> None:
    coords = shapely.get_coordinates(geoms)
    if coords.size == 0:
        return
    bad = (np.abs(coords[:, 0]) > 180.0) | (np.abs(coords[:, 1]) > 90.0)
    if bad.any():
        x, y = coords[np.argmax(bad)]
        raise ReadError(
            f"the file says its coordinates are longitude, latitude ({crs_name}) but holds ({x:.10g}, {y:.10g}), "
            "which are projected metres; set the right coordinate system in the file (for example EPSG:4498) "
            "and export it again",
            field="crs",
        )


def read_geometries(data: bytes | Path, filename: str, *, layer: str | None = None, crs: str | None = None,
                    repair: bool = False, kinds: tuple[str, ...] = ("polygon", "line"),
                    limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    """Read an uploaded file's features as checked lon/lat geometries.

    Parameters
    ----------
    data : bytes or Path
        The uploaded file's content, or the staged file holding it.
    filename : str
        Its name; the suffix picks the format (.geojson/.json, .gpkg, .zip, .kml), which the content
        must match (see :mod:`geodata.sniff`).
    layer : str, optional
        The layer to read; required when a GeoPackage holds more than one.
    crs : str, optional
        A lon/lat system the planner says the file is in (``"GCJ-02"``, ``"BD-09"``...), overriding
        the file's own; projected systems are read from the file itself.
    repair : bool, default False
        Repair self-intersecting outlines instead of refusing them.
    kinds : tuple of str, default ("polygon", "line")
        Which geometry kinds are accepted.

    Returns
    -------
    ReadResult
        Polygons come back as MultiPolygons, lines as MultiLineStrings, in EPSG:4326.

    Raises
    ------
    ReadError
        With the field (``file``, ``layer``, ``crs`` or ``geometry``) and, for a bad outline, its place.

    Examples
    --------
    >>> gj = (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},'
    ...       b'"geometry":{"type":"LineString","coordinates":[[116.81,25.22],[116.83,25.23]]}}]}')
    >>> result = read_geometries(gj, "road.geojson")
    >>> result.geometries[0].geom_type, result.attributes[0]["name"]
    ('MultiLineString', 'a')
    """
    with tempfile.TemporaryDirectory(prefix="registry-upload-") as tmp:
        path, claim, fmt = _dataset(data, filename, Path(tmp), limits)
        layers = _layers(path, claim)
        if not layers:
            raise ReadError("the file holds no layer")
        if layer:
            if layer not in layers:
                raise ReadError(f"the file has no layer {layer!r}; its layers are: {', '.join(layers)}",
                                field="layer", choices=layers)
        elif len(layers) > 1:
            raise ReadError(f"the file holds {len(layers)} layers ({', '.join(layers)}); choose the one to read",
                            field="layer", choices=layers)
        else:
            layer = layers[0]
        try:
            info, frame = gdal_read(path, claim, layer, limits)
        except UploadRefused as exc:
            raise ReadError(exc.reason, field=exc.field, status=exc.status) from None
        except Exception as exc:  # noqa: BLE001 - GDAL's many errors become one message
            raise ReadError(f"the file cannot be read: {str(exc).splitlines()[0]}") from None
    crs_name, projected = _source_crs(info.get("crs"), crs, fmt)
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if frame.empty:
        raise ReadError(f"layer {layer!r} holds no geometry")
    geoms = shapely.force_2d(np.asarray(frame.geometry.values, dtype=object))
    notes: list[str] = []
    if projected is not None:
        geoms = np.asarray(frame.set_geometry(list(geoms), crs=projected).to_crs("EPSG:4326").geometry.values,
                           dtype=object)
        notes.append(f"converted from {crs_name} to EPSG:4326")
    else:
        _check_lonlat_numbers(geoms, crs_name)
        if crs_name in ("GCJ-02", "BD-09"):
            geoms = np.asarray(shift_geometry(geoms, crs_name, "EPSG:4326"), dtype=object)
            notes.append(f"converted from {crs_name} to EPSG:4326")
    checked = []
    for row, geom in enumerate(geoms, start=1):
        label = f"feature {row}"
        try:
            if isinstance(geom, (Polygon, MultiPolygon)) and "polygon" in kinds:
                value, note = check_polygon(geom, field=label, repair=repair)
            elif isinstance(geom, (LineString, MultiLineString)) and "line" in kinds:
                value, note = check_linestring(geom, field=label, repair=repair)
            else:
                wanted = " or ".join("polygons" if k == "polygon" else "lines" for k in kinds)
                raise ReadError(f"{label} is a {geom.geom_type}; this upload takes {wanted}", field="file")
        except GeometryError as exc:
            hint = "" if repair else "; tick 'repair' to have it fixed"
            raise ReadError(f"{exc.reason}{hint}", field=f"geometry ({label})", location=exc.location) from None
        if note:
            notes.append(note)
        checked.append(value)
    attributes = frame.drop(columns=frame.geometry.name).to_dict("records")
    attributes = [{k: (None if _missing(v) else v) for k, v in rec.items()} for rec in attributes]
    return ReadResult(checked, attributes, layer, crs_name, fmt, notes)


def _missing(value) -> bool:
    try:
        return bool(value != value)  # NaN
    except (TypeError, ValueError):
        return False

"""Upload checks: content must be the format its name claims, pointers are refused, zips are checked, GDAL is fenced.

Every upload path of the registry runs its file through :func:`check_file` before any reader (GDAL,
openpyxl, pandas, Pillow) sees it. The file's first bytes must match the claimed format (a GeoPackage is
SQLite with the GPKG application id, GeoJSON is a JSON object of type FeatureCollection or Feature, a
zip starts with ``PK``, XLSX is a zip holding ``[Content_Types].xml``, KML is XML with a ``kml`` root,
CSV is text, photos carry the JPEG/PNG/HEIC signature). Content that names something else to read
instead (GDAL virtual dataset XML, a file path, a ``/vsi*`` prefix, a URL or a connection string) is
refused whatever the name says. Zips are checked from their directory before anything is extracted.

GDAL is only ever given a file in a private temporary folder, through :func:`gdal_read`, which opens
GeoJSON and GeoPackage with a driver-prefixed name (``GeoJSON:``/``GPKG:``: no other driver may claim
the file), and Shapefile/KML by a path whose content was checked here; the driver GDAL reports is
compared with the allow-list of the format before any feature is read. GDAL's network access and
other ways for content to reach outside are switched off for the whole process when this module is
imported (:data:`GDAL_SAFE_OPTIONS`); the registry's GDAL use is reading uploads and writing exports
into temporary folders, which need none of them.
"""

from __future__ import annotations

import codecs
import json
import re
import sqlite3
import stat
import zipfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyogrio

__all__ = [
    "DEFAULT_LIMITS",
    "GDAL_DRIVERS",
    "GDAL_SAFE_OPTIONS",
    "Limits",
    "UploadRefused",
    "check_file",
    "check_zip",
    "decode_xml",
    "gdal_layers",
    "gdal_read",
    "pointer_reason",
]

# Network off and nothing outside the file: set once for the process (see the module docstring).
GDAL_SAFE_OPTIONS = {
    # /vsicurl/ and the HTTP-based drivers accept no file name at all, and give up at once.
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".registry-no-network",
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/registry-no-network",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "CPL_ALLOW_VSISTDIN": "NO",
    # SQLite's VirtualOGR (a GeoPackage view opening another data source) and VRT's Python pixel functions.
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
}
pyogrio.set_gdal_config_options(GDAL_SAFE_OPTIONS)

# The only GDAL drivers each upload format may be opened with.
GDAL_DRIVERS = {"geojson": ("GeoJSON",), "gpkg": ("GPKG",), "shp": ("ESRI Shapefile",), "kml": ("LIBKML", "KML")}
# Formats GDAL opens with a driver prefix: the prefix is the allow-list itself.
_PREFIX = {"geojson": "GeoJSON:", "gpkg": "GPKG:"}

FORMAT_NAMES = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shp": "zipped Shapefile", "zip": "zip archive",
                "xlsx": "Excel workbook (.xlsx)", "kml": "KML", "csv": "CSV", "jpeg": "JPEG image",
                "png": "PNG image", "heic": "HEIC image", "pdf": "PDF document", "image": "JPEG, PNG or HEIC photo",
                "scan": "PDF, PNG or JPEG scan"}

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_SQLITE = b"SQLite format 3\x00"
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
_SHP_CODE = b"\x00\x00\x27\x0a"
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}
_PEEK = 64 * 1024


class UploadRefused(ValueError):
    """An upload that is not what it claims or is over a limit; ``status`` is 400, or 413 for a size limit.

    Examples
    --------
    >>> str(UploadRefused("the file is empty"))
    'file: the file is empty'
    """

    def __init__(self, reason: str, field: str = "file", status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.status = status

    def __str__(self):
        return f"{self.field}: {self.reason}"


@dataclass(frozen=True)
class Limits:
    """What one upload may hold; every number is a REGISTRY_UPLOAD_* setting in the web application."""

    max_bytes: int = 20 * 1024 * 1024
    zip_members: int = 200
    zip_bytes: int = 100 * 1024 * 1024
    zip_ratio: float = 100.0
    features: int = 10_000
    pixels: int = 50_000_000


DEFAULT_LIMITS = Limits()

# --- pointers -------------------------------------------------------------------------------------------

_VRT = re.compile(r"<\s*(OGRVRTDataSource|VRTDataset|GDAL_WMS|GDAL_WMTS|WFS_GDAL|OGRWFSDataSource)\b", re.I)
_URL = re.compile(r"^[a-z][a-z0-9+.\-]{1,15}://", re.I)
_WINDOWS_PATH = re.compile(r"^([a-z]:[\\/]|\\\\)", re.I)
# GDAL connection strings and driver-prefixed names: "PG:dbname=...", "MySQL:db,...", "ODBC:...", "CSV:/x".
_CONNECTION = re.compile(
    r"^(PG|PostgreSQL|MySQL|ODBC|OCI|MSSQL|MSSQLSpatial|MongoDB|MongoDBv3|SQLite|GPKG|CSV|GeoJSON|ESRIJSON|"
    r"TopoJSON|WFS|OAPIF|WMS|WCS|WMTS|ElasticSearch|ES|CouchDB|Carto|AmigoCloud|HANA|PGeo|MDB|DODS|NGW|"
    r"PLScenes|EEDA|GPSBabel|VRT|OGR_VRT|MEM|Memory|SHAPEFILE|ESRI Shapefile|KML|LIBKML|GML|OSM|FileGDB|"
    r"OpenFileGDB|Parquet|Arrow|XLSX|ODS|S57|DXF|GTI|STACIT|STACTA|ADBC|DuckDB|AIVector|MiraMonVector)\s*:",
    re.I)


def _text_head(head: bytes) -> str:
    """The first bytes as text for the pointer checks: BOMs removed, UTF-16 decoded, else byte for byte."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="ignore")
    if len(head) > 1 and (head[0] == 0) != (head[1] == 0):  # UTF-16 without a BOM ("<\0?\0" or "\0<\0?")
        return head.decode("utf-16-le" if head[1] == 0 else "utf-16-be", errors="ignore")
    return head.decode("latin-1")


def pointer_reason(head: bytes) -> str | None:
    """Why these first bytes name something else to read (a VRT, a path, a URL, a connection), or None.

    Examples
    --------
    >>> pointer_reason(b"/etc/passwd")
    'it holds a file path (/etc/passwd), not data; uploads are read only for what they hold'
    >>> pointer_reason(b'{"type": "FeatureCollection", "features": []}') is None
    True
    """
    text = _text_head(head)
    match = _VRT.search(text)
    if match:
        return (f"it is GDAL virtual dataset XML (<{match.group(1)}>), which names other files or servers to read; "
                "upload the data itself")
    first = text.lstrip("\ufeff \t\r\n")
    line = first.split("\n", 1)[0].strip()[:80]
    if line.lower().startswith(("/vsi", "\\vsi")) or "/vsi" in line.lower()[:40]:
        return f"it names a GDAL virtual file ({line}), not data; uploads are read only for what they hold"
    if _URL.match(line) or line.lower().startswith(("file:", "url:")):
        return f"it holds an address ({line}), not data; uploads never fetch anything from another host"
    if _CONNECTION.match(line):
        return f"it holds a database or driver connection string ({line.split(':')[0]}:…), not data"
    if line.startswith(("/", "~/", "./", "../")) or _WINDOWS_PATH.match(line):
        return f"it holds a file path ({line}), not data; uploads are read only for what they hold"
    return None


# --- zips ------------------------------------------------------------------------------------------------


def check_zip(path: Path, limits: Limits = DEFAULT_LIMITS, what: str = "the zip archive") -> list[zipfile.ZipInfo]:
    """Check a zip from its central directory before anything is extracted; return its members.

    Refused (400, or 413 for sizes): not a zip, empty, too many members, a member that climbs out
    (``..``, an absolute or drive path), a symbolic link, a total size or a compression ratio of a bomb.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise UploadRefused(f"{what} is damaged or not a zip archive") from None
    with archive:
        members = archive.infolist()
    if not members:
        raise UploadRefused(f"{what} is empty")
    if len(members) > limits.zip_members:
        raise UploadRefused(f"{what} holds {len(members)} files; at most {limits.zip_members} are accepted", status=413)
    total = compressed = 0
    for info in members:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name)
        if parts.is_absolute() or ".." in parts.parts or re.match(r"^[A-Za-z]:", name):
            raise UploadRefused(f"{what} member {info.filename!r} points outside the archive's folder (zip slip); "
                                "nothing was extracted")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UploadRefused(f"{what} member {info.filename!r} is a symbolic link; nothing was extracted")
        total += info.file_size
        compressed += info.compress_size
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.zip_ratio and info.file_size > 1024 * 1024:
            raise UploadRefused(f"{what} member {info.filename!r} expands {ratio:,.0f} times, more than the "
                                f"{limits.zip_ratio:g} allowed (a zip bomb?); nothing was extracted", status=413)
        if total > limits.zip_bytes:
            raise UploadRefused(f"{what} expands to more than {limits.zip_bytes / 1048576:g} MB (a zip bomb?); "
                                "nothing was extracted", status=413)
    return members


def extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: Limits) -> None:
    """Copy one checked member out, counting bytes as they come: a member's header can lie about its size."""
    written = 0
    with archive.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(1024 * 1024):
            written += len(chunk)
            if written > info.file_size or written > limits.zip_bytes:
                raise UploadRefused(f"the zip archive member {info.filename!r} expands beyond its declared size "
                                    "(a zip bomb?)", status=413)
            dst.write(chunk)


def extract_shapefile(path: Path, folder: Path, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Extract the one Shapefile of a checked zip (its .shp, .shx, .dbf, .prj, .cpg only); return the .shp.

    The feature count is read from the .shx size before extraction, so a zip of millions of points is
    refused at once. Other members (a README, a .vrt) are never extracted, so GDAL cannot see them.
    """
    members = check_zip(path, limits)
    shps = [m for m in members if m.filename.lower().endswith(".shp") and not m.is_dir()]
    if not shps:
        raise UploadRefused("the zip archive holds no Shapefile (.shp)")
    if len(shps) > 1:
        names = sorted(PurePosixPath(m.filename).name for m in shps)
        raise UploadRefused(f"the zip archive holds {len(shps)} Shapefiles ({', '.join(names)}); upload one at a time")
    stem = shps[0].filename[:-4]
    parts = {m.filename[len(stem):].lower(): m for m in members
             if m.filename.startswith(stem) and m.filename[len(stem):].lower() in SHAPEFILE_PARTS}
    for needed in (".shx", ".dbf"):
        if needed not in parts:
            raise UploadRefused(f"the zip archive's Shapefile has no {needed} file; zip the .shp, .shx, .dbf and "
                                ".prj together")
    count = max(parts[".shx"].file_size - 100, 0) // 8
    if count > limits.features:
        raise UploadRefused(f"the Shapefile holds {count:,} features; at most {limits.features:,} are accepted in "
                            "one upload", status=413)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as archive:
        for suffix, info in parts.items():
            extract_member(archive, info, folder / f"upload{suffix}", limits)
    shp = folder / "upload.shp"
    with shp.open("rb") as fh:
        if fh.read(4) != _SHP_CODE:
            raise UploadRefused("the zip archive's .shp file is not a Shapefile (its header is wrong)")
    return shp


# --- text and XML ----------------------------------------------------------------------------------------

_XML_ENCODING = re.compile(r"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


def decode_xml(data: bytes) -> str:
    """XML bytes as text: by their BOM (UTF-8, UTF-16), else by the declared encoding, else UTF-8.

    Examples
    --------
    >>> decode_xml('<?xml version="1.0"?><kml/>'.encode("utf-16"))
    '<?xml version="1.0"?><kml/>'
    """
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF32_LE, "utf-32-le"),
                          (codecs.BOM_UTF32_BE, "utf-32-be")):
        if data.startswith(bom) and not (bom == codecs.BOM_UTF16_LE and data.startswith(codecs.BOM_UTF32_LE)):
            return data[len(bom):].decode(encoding)
    if data[:2] in (b"<\x00", b"\x00<"):
        return data.decode("utf-16-le" if data[:1] == b"<" else "utf-16-be")
    match = _XML_ENCODING.match(data[:200].decode("latin-1"))
    encoding = match.group(1) if match else "utf-8"
    try:
        return data.decode(encoding)
    except LookupError:
        raise UploadRefused(f"the XML declares an unknown encoding {encoding!r}") from None


_DANGER = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.I)


def _check_kml(path: Path, limits: Limits) -> None:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    data = path.read_bytes()
    try:
        text = decode_xml(data)
    except (UnicodeDecodeError, UploadRefused):
        raise UploadRefused("the KML file is not readable text (UTF-8 or UTF-16 XML)") from None
    if _DANGER.search(text):
        raise UploadRefused("the KML file declares a DOCTYPE or entities (external entities are refused); "
                            "export it again without them")
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\ufeff"))
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ElementTree.ParseError, ValueError) as exc:
        raise UploadRefused(f"the KML file is not well-formed XML ({str(exc).splitlines()[0]})") from None
    if root.tag.rsplit("}", 1)[-1] != "kml":
        raise UploadRefused(f"the .kml file is XML but not KML (its root element is <{root.tag}>)")
    names = [el.tag.rsplit("}", 1)[-1] for el in root.iter() if isinstance(el.tag, str)]
    if "NetworkLink" in names:
        raise UploadRefused("the KML file holds a NetworkLink, which names another file or address to read; "
                            "upload the placemarks themselves")
    count = names.count("Placemark")
    if count > limits.features:
        raise UploadRefused(f"the KML file holds {count:,} placemarks; at most {limits.features:,} are accepted in "
                            "one upload", status=413)
    # GDAL reads the file again: hand it UTF-8 without a BOM, the encoding its KML drivers expect.
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + body, encoding="utf-8")


_CRS_NAME = re.compile(r"^(urn:ogc:def:crs:(EPSG|OGC):[0-9.]*:[A-Za-z0-9]+|EPSG:\d+|OGC:CRS84)$", re.I)


def _check_geojson(path: Path, limits: Limits) -> None:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig", errors="replace").lstrip(" \t\r\n")
    if not text.startswith("{"):
        raise UploadRefused("the file is not GeoJSON: GeoJSON is a JSON object that starts with '{'")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UploadRefused(f"the file is not GeoJSON: it is not valid JSON ({str(exc)[:80]})") from None
    kind = document.get("type") if isinstance(document, dict) else None
    if kind not in ("FeatureCollection", "Feature"):
        raise UploadRefused(f"the file is not GeoJSON: its type is {kind!r}, not FeatureCollection or Feature")
    crs = document.get("crs")
    if crs is not None:
        name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
        if not (isinstance(crs, dict) and crs.get("type") == "name" and isinstance(name, str)
                and _CRS_NAME.match(name)):
            raise UploadRefused("the GeoJSON's crs member names something other than an EPSG or OGC code "
                                "(a link or a path); remove it or give a code such as EPSG:4498")
    features = document.get("features") if kind == "FeatureCollection" else [document]
    if not isinstance(features, list):
        raise UploadRefused("the file is not GeoJSON: its features member is not a list")
    if len(features) > limits.features:
        raise UploadRefused(f"the file holds {len(features):,} features; at most {limits.features:,} are accepted "
                            "in one upload", status=413)


def _check_gpkg(path: Path) -> None:
    with path.open("rb") as fh:
        header = fh.read(100)
    if not header.startswith(_SQLITE):
        raise UploadRefused("the .gpkg file is not a GeoPackage (SQLite) file")
    if header[68:72] not in _GPKG_IDS:
        raise UploadRefused("the .gpkg file is a SQLite database but not a GeoPackage (no GPKG application id)")
    # A view is SQL that GDAL would run on reading (and SQL can call GDAL's own functions); an upload's
    # layers are plain tables. (Triggers run only on writes, and GDAL opens uploads read-only.)
    # Read-only and immutable: this is the staged copy in a private folder, never the registry's file.
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as db:
            views = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'view'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise UploadRefused(f"the .gpkg file is a damaged SQLite database ({exc})") from None
    if views:
        raise UploadRefused("the GeoPackage holds SQL views, which run when it is read; export the layer again as "
                            "a plain table")


def _check_xlsx(path: Path, limits: Limits) -> None:
    members = check_zip(path, limits, "the .xlsx workbook")
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names:
        raise UploadRefused("the file is a ZIP archive but not an .xlsx workbook (no [Content_Types].xml)")


def _check_csv(head: bytes) -> None:
    if b"\x00" in head[:4096]:
        raise UploadRefused("the file is binary, not CSV text")


# --- images ---------------------------------------------------------------------------------------------


def image_kind(head: bytes) -> str | None:
    """``"jpeg"``, ``"png"``, ``"heic"`` or ``"pdf"`` from the signature, else None.

    Examples
    --------
    >>> image_kind(b"\\x89PNG\\r\\n\\x1a\\n...."), image_kind(b"GIF89a")
    ('png', None)
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heic"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


# --- the one entry point --------------------------------------------------------------------------------

_ACCEPTS = {"image": ("jpeg", "png", "heic"), "scan": ("pdf", "png", "jpeg")}


def check_file(path: Path, fmt: str, limits: Limits = DEFAULT_LIMITS, *, field: str = "file") -> str:
    """Check that the staged file at ``path`` is really ``fmt`` and within ``limits``; return the format found.

    ``fmt`` is one of geojson, gpkg, shp (a zipped Shapefile), zip, xlsx, kml, csv, image (JPEG, PNG or
    HEIC), scan (PDF, PNG or JPEG). Raises :class:`UploadRefused` naming ``field`` and why.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(_PEEK)
    except OSError:
        raise UploadRefused("the upload could not be read back; send it again", field=field) from None
    try:
        if size == 0 or not head.strip(b" \t\r\n\x00"):
            raise UploadRefused("the file is empty")
        if size > limits.max_bytes:
            raise UploadRefused(f"the file is {size / 1048576:.1f} MB; at most {limits.max_bytes / 1048576:g} MB "
                                "are accepted", status=413)
        reason = pointer_reason(head)
        if reason:
            raise UploadRefused(f"the file claims to be {FORMAT_NAMES.get(fmt, fmt)} but {reason}; nothing of "
                                "what it names was read")
        if fmt in _ACCEPTS:
            found = image_kind(head)
            if found not in _ACCEPTS[fmt]:
                raise UploadRefused(f"the file is not a {FORMAT_NAMES[fmt]}: its first bytes are none of "
                                    "their signatures")
            return found
        if fmt == "geojson":
            _check_geojson(path, limits)
        elif fmt == "gpkg":
            _check_gpkg(path)
        elif fmt in ("shp", "zip"):
            if not head.startswith(b"PK\x03\x04"):
                raise UploadRefused("the .zip file is damaged or not a zip archive")
            check_zip(path, limits)
        elif fmt == "xlsx":
            if not head.startswith(b"PK\x03\x04"):
                raise UploadRefused("the file is not an .xlsx workbook (an .xlsx file is a zip archive)")
            _check_xlsx(path, limits)
        elif fmt == "kml":
            _check_kml(path, limits)
        elif fmt == "csv":
            _check_csv(head)
        else:
            raise UploadRefused(f"{fmt!r} is not an upload format this registry reads")
    except UploadRefused as exc:
        exc.field = field
        raise
    return fmt


# --- GDAL ------------------------------------------------------------------------------------------------


def _gdal_name(path: Path, fmt: str) -> str:
    # A name with a colon would be split by the GPKG: prefix syntax; uploads live in folders we name.
    return _PREFIX.get(fmt, "") + str(path)


def _driver_checked(path: Path, fmt: str, layer=None) -> dict:
    # Layer 0 when none is named: asking GDAL for "the" layer of a many-layer file only draws a warning.
    info = pyogrio.read_info(_gdal_name(path, fmt), layer=0 if layer is None else layer)
    if info.get("driver") not in GDAL_DRIVERS[fmt]:
        raise UploadRefused(f"the file was recognised as {info.get('driver')}, not {FORMAT_NAMES[fmt]}; "
                            "nothing was read from it")
    return info


def gdal_layers(path: Path, fmt: str) -> list[str]:
    """The layers of a checked upload, opened with its format's driver only."""
    _driver_checked(path, fmt)
    return [str(name) for name, _type in pyogrio.list_layers(_gdal_name(path, fmt))]


def gdal_read(path: Path, fmt: str, layer: str | None = None, limits: Limits = DEFAULT_LIMITS):
    """(info, GeoDataFrame) of one layer of a checked upload: the driver checked, the feature count limited first."""
    info = _driver_checked(path, fmt, layer)
    if info.get("features", 0) > limits.features:
        raise UploadRefused(f"layer {layer or info.get('layer_name') or ''!r} holds {info['features']:,} features; "
                            f"at most {limits.features:,} are accepted in one upload", status=413)
    return info, pyogrio.read_dataframe(_gdal_name(path, fmt), layer=layer)

"""Edits made in QGIS, part one: export a county's layer for editing, and read the edited file back as differences.

The export is a GeoPackage whose layer ``facilities`` carries each row's ``id`` and ``version``, and a small
table ``registry_edit_export`` (key, value) naming the export (its batch id, layer, county and time); the
registry keeps the same in an ``EditBatch`` with every exported row's version. The upload is checked by
``geodata.sniff`` as a GeoPackage, copied into a private folder and read from there only (its own tables
with the standard ``sqlite3`` in read-only mode, its features with GDAL): never the registry's own file.
Every refusal names the layer, the CRS or the row and field; nothing is stored on a refusal.
The differences become ``ProvisionalEdit`` rows; ``edits_apply`` applies them once a second person approves.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
from sqlalchemy import select

from geodata.exports import export
from geodata.sniff import DEFAULT_LIMITS, Limits, UploadRefused, check_file, gdal_read
from registry.db import Store
from registry.models import EditBatch, Facility
from registry.services import divisions
from registry.services.base import Actor, Forbidden, InvalidInput, NotFound, record_audit, refused, unit_of_work
from registry.services.gis.edits_diff import COLUMNS, diff_rows
from registry.services.gis.files import file_sha256

LAYERS = ("facilities",)
# Who exports, uploads and approves: planners everywhere, managers in their own counties (administrators too).
EDITORS = ("planner", "manager")
META_TABLE = "registry_edit_export"
SRS_IDS = (4326, 4490)


def may_edit(actor: Actor, county: str | None) -> bool:
    """Whether ``actor`` may export, upload or approve QGIS edits of ``county``'s layer."""
    return actor.can("admin") or actor.can("planner") or (actor.can("manager") and county in actor.counties)


def require_editor(actor: Actor, county: str | None) -> None:
    if not may_edit(actor, county):
        raise Forbidden(f"{actor.name} may not edit county {county}'s layer in QGIS: planners and the county's "
                        "managers do")


def export_layer(store: Store, actor: Actor, county: str, layer: str = "facilities") -> tuple[bytes, str, int]:
    """(GeoPackage bytes, file name, batch id) of ``county``'s active facilities for editing in QGIS."""
    if layer not in LAYERS:
        raise InvalidInput(f"layer {layer!r} cannot be edited in QGIS; the layers are: {', '.join(LAYERS)}",
                           field="layer")
    require_editor(actor, county)
    with unit_of_work(store) as session:
        divisions.check_county(session, county, "county")
        rows = session.scalars(select(Facility).where(Facility.county_code == county, Facility.status == "active")
                               .order_by(Facility.id)).all()
        batch = EditBatch(layer=layer, county_code=county, exported_by=actor.name,
                          exported={str(f.id): f.version for f in rows})
        session.add(batch)
        session.flush()
        data = _geopackage(rows, layer, batch, datetime.now(UTC))
        record_audit(session, actor, "export", batch, note=f"{len(rows)} rows of {layer}, county {county}")
        batch_id = batch.id
    return data, f"{layer}-{county}-edit{batch_id}.gpkg", batch_id


def _geopackage(rows: list, layer: str, batch: EditBatch, when: datetime) -> bytes:
    data = {name: [getattr(f, name) for f in rows] for name in COLUMNS}
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([f.geom for f in rows], crs=4326), crs=4326)
    for name in ("sign_present", "land_title_registered", "position_approximate"):
        gdf[name] = gdf[name].astype(bool)
    for name in COLUMNS:
        if gdf[name].dtype == object:
            gdf[name] = gdf[name].astype("string")  # an all-empty column still is a text field in QGIS
    with tempfile.TemporaryDirectory(prefix="registry-edit-export-") as folder:
        path = Path(folder) / "export.gpkg"
        path.write_bytes(export(gdf, "gpkg", layer))
        with closing(sqlite3.connect(path)) as db:
            db.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.executemany(f"INSERT INTO {META_TABLE} VALUES (?, ?)", [
                ("batch_id", str(batch.id)), ("layer", layer), ("county_code", batch.county_code),
                ("exported_at", when.isoformat(timespec="seconds")), ("exported_by", batch.exported_by)])
            db.commit()
        return path.read_bytes()


@contextmanager
def staged_copy(data: bytes | Path, limits: Limits):
    """The upload copied into a private folder and checked to be a GeoPackage (SQLite, application id GPKG)."""
    if isinstance(data, (bytes, bytearray)) and not data:
        raise InvalidInput("the file is empty (0 bytes)", field="file")
    with tempfile.TemporaryDirectory(prefix="registry-edit-upload-") as folder:
        path = Path(folder) / "upload.gpkg"
        if isinstance(data, (bytes, bytearray)):
            path.write_bytes(data)
        else:
            shutil.copyfile(data, path)
        try:
            check_file(path, "gpkg", limits)
        except UploadRefused as exc:
            exc.reason = f"the file is not a GeoPackage this registry can read: {exc.reason}"
            raise refused(exc) from None
        yield path


def read_header(path: Path) -> dict:
    """The export record, the feature layers and each layer's (srs_id, geometry type), read-only with sqlite3."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            meta = dict(db.execute(f"SELECT key, value FROM {META_TABLE}")) if META_TABLE in tables else {}
            layers = {r[0]: (r[1], (r[2] or "").upper()) for r in db.execute(
                "SELECT c.table_name, c.srs_id, g.geometry_type_name FROM gpkg_contents c "
                "LEFT JOIN gpkg_geometry_columns g ON g.table_name = c.table_name WHERE c.data_type = 'features'")}
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"the file cannot be read as a GeoPackage: {exc}", field="file") from None
    return {"meta": meta, "layers": layers}


def _checked_header(header: dict, batch: EditBatch) -> None:
    """Refuse a file whose layers are not the one exported, or whose layer is in another CRS or geometry type."""
    layers = header["layers"]
    for name in sorted(layers):
        if name != batch.layer:
            raise InvalidInput(f"layer {name!r} is not one that was exported (export {batch.id} holds the layer "
                               f"{batch.layer!r} only); remove it or upload the exported file", field="layer")
    if batch.layer not in layers:
        raise InvalidInput(f"the file has no layer {batch.layer!r}, the layer export {batch.id} wrote", field="layer")
    srs_id, kind = layers[batch.layer]
    if srs_id not in SRS_IDS:
        raise InvalidInput(f"layer {batch.layer!r} is in CRS EPSG:{srs_id}, not EPSG:4326 (WGS 84) or EPSG:4490 "
                           "(CGCS2000) as exported; save the layer in EPSG:4326 and upload again", field="crs")
    if kind != "POINT":
        raise InvalidInput(f"layer {batch.layer!r} holds {kind or 'no'} geometries; facilities are points",
                           field="layer")


def _batch_of(session, header: dict, actor: Actor) -> EditBatch:
    raw = header["meta"].get("batch_id", "")
    if not raw.isdigit():
        raise InvalidInput(f"the file carries no export record (table {META_TABLE}): upload a file exported from "
                           "this registry's QGIS edit page, edited in place", field="file")
    batch = session.get(EditBatch, int(raw))
    if batch is None:
        raise NotFound(f"export {raw} named by the file is not in this registry")
    require_editor(actor, batch.county_code)
    if batch.state != "exported":
        raise InvalidInput(f"export {batch.id} was already uploaded; export the layer again to make more edits",
                           field="file")
    return batch


def upload_edits(store: Store, actor: Actor, data: bytes | Path, filename: str = "upload.gpkg",
                 limits: Limits | None = None) -> int:
    """Read an edited export back and store its differences as provisional edits; the batch id.

    Refused (nothing stored) when the file is not a GeoPackage, is not an export of this registry, holds
    another layer, another CRS or geometry type, lacks ``id``/``version``, or a row is not valid.
    """
    limits = limits or DEFAULT_LIMITS
    sha = file_sha256(data)
    with staged_copy(data, limits) as path:
        header = read_header(path)
        with unit_of_work(store) as session:
            batch = _batch_of(session, header, actor)
            _checked_header(header, batch)
            try:
                _info, gdf = gdal_read(path, "gpkg", batch.layer, limits)
            except UploadRefused as exc:
                raise refused(exc) from None
            edits = diff_rows(session, batch, gdf)
            session.add_all(edits)
            batch.state = "uploaded"
            batch.uploaded_by = actor.name
            batch.uploaded_at = datetime.now(UTC)
            batch.file_sha256 = sha
            batch.filename = Path(filename).name
            record_audit(session, actor, "upload", batch, note=f"{len(edits)} provisional edits from {batch.filename} "
                         f"sha256:{sha}")
            return batch.id

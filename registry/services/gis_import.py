"""Imports of facilities and tombs from GIS files (GeoPackage, GeoJSON, zipped Shapefile, CSV with lon/lat).

Every row is checked first; a dry run reports what would be created and every problem by row,
and a real run writes all rows with their audit events in one transaction, or nothing at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from shapely.geometry import Point
from sqlalchemy import select

from geodata.checks import GeometryError, check_lonlat
from geodata.exports import read_back, shapefile_names
from registry.db import Store
from registry.models import Facility, FacilityName, Tomb
from registry.services.base import Actor, Forbidden, InvalidInput, record_audit, unit_of_work
from registry.services.facilities import EDITABLE, _check_fields

KINDS = ("facilities", "tombs")
FORMATS = ("gpkg", "geojson", "shp", "csv")
MAX_ROWS = 50_000
_TOMB_FIELDS = ("facility_id", "facility_code", "martyr_id", "plot_area", "plot_row", "plot_number", "state")
_FACILITY_FIELDS = ("code", "name", "position_approximate", *EDITABLE)


@dataclass
class ImportReport:
    """What an import did or would do: rows read, rows created, and problems as (row number, field, message)."""

    kind: str
    rows: int = 0
    created: int = 0
    dry_run: bool = True
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _clean(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def _read(data: bytes, fmt: str) -> pd.DataFrame:
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {', '.join(FORMATS)}", field="format")
    try:
        if fmt == "csv":
            frame = pd.read_csv(pd.io.common.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
            return frame.replace({"": None})
        gdf = read_back(data, fmt)
    except (ValueError, OSError, RuntimeError) as exc:  # pyogrio's DataSourceError is a RuntimeError
        reason = str(exc).split(";")[0]
        raise InvalidInput(f"the file cannot be read as {fmt}: {reason}", field="file") from None
    if gdf.crs is not None and gdf.crs.to_epsg() not in (4326, 4490):
        gdf = gdf.to_crs(4326)
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame["lon"] = [g.x if g is not None and g.geom_type == "Point" else None for g in gdf.geometry]
    frame["lat"] = [g.y if g is not None and g.geom_type == "Point" else None for g in gdf.geometry]
    return frame


def _point(row: dict, number: int, problems: list) -> Point | None:
    try:
        lon, lat = check_lonlat(row.get("lon"), row.get("lat"), field="position")
    except (TypeError, ValueError, GeometryError) as exc:
        problems.append((number, "position", f"row {number}: no valid point ({exc})"))
        return None
    return Point(lon, lat)


def import_features(store: Store, actor: Actor, kind: str, data: bytes, fmt: str, *,
                    dry_run: bool = True) -> ImportReport:
    """Check, then (unless ``dry_run``) create every row of the file as a facility or tomb, atomically."""
    if kind not in KINDS:
        raise InvalidInput(f"kind {kind!r} is not one of {', '.join(KINDS)}", field="kind")
    if not (actor.can("admin") or actor.can("planner")):
        raise Forbidden(f"{actor.name} may not import {kind}")
    frame = _read(data, fmt)
    if len(frame) > MAX_ROWS:
        raise InvalidInput(f"the file has {len(frame)} rows; import at most {MAX_ROWS} at a time", field="file")
    report = ImportReport(kind, rows=len(frame), dry_run=dry_run)
    allowed = set(_FACILITY_FIELDS if kind == "facilities" else _TOMB_FIELDS) | {"lon", "lat", "id", "wkt"}
    if fmt == "shp":
        # dBASE cut the names to 10 characters: map them back the way the export shortened them.
        short = {v: k for k, v in shapefile_names(sorted(allowed)).items()}
        frame = frame.rename(columns={c: short.get(c, c) for c in frame.columns})
    extra = sorted(set(frame.columns) - allowed)
    if extra:
        report.problems.append((0, extra[0], f"unknown columns: {', '.join(extra)}"))
        return report
    records = [{k: _clean(v) for k, v in row.items() if k not in ("id", "wkt")} for row in frame.to_dict("records")]
    with unit_of_work(store) as session:
        built = []
        seen_codes: set[str] = set()
        for number, values in enumerate(records, start=1):
            geom = _point(values, number, report.problems)
            values.pop("lon", None)
            values.pop("lat", None)
            values = {k: v for k, v in values.items() if v is not None}
            if kind == "facilities":
                obj = _facility(session, number, values, geom, seen_codes, report.problems)
            else:
                obj = _tomb(session, number, values, geom, report.problems)
            if obj is not None:
                built.append(obj)
        if report.problems or dry_run:
            session.rollback()
            return report
        for obj in built:
            session.add(obj)
            session.flush()
            if isinstance(obj, Facility):
                session.add(FacilityName(facility_id=obj.id, name=obj.name, valid_from=date.today(),
                                         note="name at import"))
            record_audit(session, actor, "import", obj)
        report.created = len(built)
    return report


def _facility(session, number: int, values: dict, geom, seen: set, problems: list):
    for required in ("code", "name", "category", "county_code"):
        if not values.get(required):
            problems.append((number, required, f"row {number}: {required} is required"))
            return None
    for flag in ("sign_present", "land_title_registered", "position_approximate"):
        if isinstance(values.get(flag), str):
            values[flag] = values[flag].strip().lower() in ("1", "true", "yes", "是")
    try:
        _check_fields(values)
    except InvalidInput as exc:
        problems.append((number, exc.field, f"row {number}: {exc.message}"))
        return None
    code = str(values["code"])
    if code in seen or session.scalar(select(Facility.id).where(Facility.code == code)) is not None:
        problems.append((number, "code", f"row {number}: code {code!r} is already used"))
        return None
    seen.add(code)
    if geom is None:
        return None
    return Facility(geom=geom, **values)


def _tomb(session, number: int, values: dict, geom, problems: list):
    code = values.pop("facility_code", None)
    if code is not None and "facility_id" not in values:
        facility_id = session.scalar(select(Facility.id).where(Facility.code == str(code)))
        if facility_id is None:
            problems.append((number, "facility_code", f"row {number}: no facility with code {code!r}"))
            return None
        values["facility_id"] = facility_id
    for key in ("facility_id", "martyr_id"):
        if key in values:
            try:
                values[key] = int(values[key])
            except (TypeError, ValueError):
                problems.append((number, key, f"row {number}: {key} {values[key]!r} is not a whole number"))
                return None
    if "facility_id" in values and session.get(Facility, values["facility_id"]) is None:
        problems.append((number, "facility_id", f"row {number}: no facility {values['facility_id']}"))
        return None
    for key in ("plot_area", "plot_row", "plot_number"):
        if key in values:
            values[key] = str(values[key])
    if geom is None:
        return None
    return Tomb(geom=geom, **values)

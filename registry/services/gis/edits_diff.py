"""Edits made in QGIS, the difference: each uploaded row against the registry, as provisional edits.

A row without ``id`` is added; a row whose fields or point differ is changed (the point's move in metres,
measured in the metric CRS of ``geodata.crs``); an exported id missing from the upload is proposed for
retiring. A row the registry changed since the export (its version is no longer the exported one) is a
conflict: shown, never applied; the planner exports again to edit it.
"""

from __future__ import annotations

import math

from sqlalchemy import select

from geodata.crs.metric import distance_m
from registry.models import EditBatch, Facility, ProvisionalEdit
from registry.services import divisions
from registry.services.base import InvalidInput
from registry.services.facilities import check_facility_fields
from registry.services.gis.files import clean_value

# A point read back from the file moves by float noise only; less than a centimetre is no move.
MOVE_TOLERANCE_M = 0.01
_FLAGS = ("sign_present", "land_title_registered", "position_approximate")
_REQUIRED_NEW = ("code", "name", "category")
# Columns a planner may change in QGIS; id, version, code, name and county_code are shown but read-only
# (a name changes only by an approved renaming). The caretaker's phone is personal and is not exported.
EDIT_FIELDS = ("category", "level", "protection_unit", "managing_unit", "caretaker", "address", "township",
               "village", "description", "visiting_info", "area_m2", "material", "dimensions", "sign_present",
               "land_title_registered", "position_approximate",
               "std_marker", "std_deeds", "std_headstone", "std_boundary", "std_rules", "std_road")
READ_ONLY = ("id", "version", "code", "name", "county_code")
COLUMNS = (*READ_ONLY, *EDIT_FIELDS)


def _fields():
    return COLUMNS, EDIT_FIELDS, READ_ONLY


def _value(name: str, raw, number: int, problems: list):
    value = clean_value(raw)
    if value is None:
        return False if name in _FLAGS else None
    if name in _FLAGS:
        text = str(value).strip().lower()
        if text not in ("0", "1", "true", "false"):
            problems.append(f"row {number}, field {name}: {value!r} is not true or false")
        return text in ("1", "true")
    if name == "area_m2":
        try:
            area = float(value)
        except (TypeError, ValueError):
            area = -1.0
        if not math.isfinite(area) or area < 0:
            problems.append(f"row {number}, field area_m2: {value!r} is not a positive number of square metres")
        return area
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _columns(gdf, batch: EditBatch) -> None:
    columns, _edit, _read_only = _fields()
    names = [c for c in gdf.columns if c != gdf.geometry.name]
    missing = [c for c in ("id", "version") if c not in names]
    if missing:
        raise InvalidInput(f"layer {batch.layer!r} has no {' and no '.join(missing)} column: each row must keep the "
                           "id and version it was exported with", field=missing[0])
    extra = sorted(set(names) - set(columns) - {"fid"})
    if extra:
        raise InvalidInput(f"layer {batch.layer!r} has columns the registry does not hold: {', '.join(extra)}",
                           field=extra[0])


def _ident(raw, number: int, name: str, problems: list) -> int | None:
    value = clean_value(raw)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        problems.append(f"row {number}, field {name}: {value!r} is not a whole number")
        return None


def _check_row(session, county: str, number: int, values: dict, problems: list) -> None:
    try:
        check_facility_fields({k: v for k, v in values.items() if v is not None and k != "id"}, session)
        if values.get("township"):
            values["township"] = divisions.check_township(session, county, values["township"])
    except InvalidInput as exc:
        problems.append(f"row {number}, field {exc.field}: {exc.message}")


def _geometry(geom, number: int, problems: list):
    if geom is None or geom.is_empty or geom.geom_type != "Point":
        found = "no point" if geom is None or geom.is_empty else geom.geom_type
        problems.append(f"row {number}, field geometry: {found}; facilities are points")
        return None
    return geom


def _new_codes(session, rows: list, problems: list) -> None:
    """A new row's code must be new: not a facility's already, nor another new row's of the file."""
    seen: dict = {}
    for number, ident, values, _geom in rows:
        code = values.get("code")
        if ident is not None or not code:
            continue
        taken = session.scalar(select(Facility.id).where(Facility.code == code))
        if taken is not None:
            problems.append(f"row {number}, field code: {code!r} is already the code of facility {taken}")
        elif code in seen:
            problems.append(f"row {number}, field code: {code!r} is already used in row {seen[code]}")
        seen.setdefault(code, number)


def diff_rows(session, batch: EditBatch, gdf) -> list[ProvisionalEdit]:
    """The provisional edits of an uploaded layer; InvalidInput naming every bad row and field (nothing stored)."""
    _columns(gdf, batch)
    columns, edit_fields, _read_only = _fields()
    exported = {int(k): v for k, v in batch.exported.items()}
    rows, problems, seen = [], [], set()
    for number, record in enumerate(gdf.to_dict("records"), start=1):
        ident = _ident(record.get("id"), number, "id", problems)
        version = _ident(record.get("version"), number, "version", problems)
        values = {name: _value(name, record.get(name), number, problems) for name in columns
                  if name in record and name not in ("id", "version")}
        geom = _geometry(record.get(gdf.geometry.name), number, problems)
        if ident is not None and ident not in exported:
            county = session.scalar(select(Facility.county_code).where(Facility.id == ident))
            where = f"a facility of county {county}" if county else "not a facility of the registry"
            problems.append(f"row {number}, field id: {ident} is {where}, not a row of export {batch.id} "
                            f"(county {batch.county_code})")
            continue
        if ident in seen:
            problems.append(f"row {number}, field id: {ident} appears twice")
            continue
        if ident is not None:
            seen.add(ident)
            if version != exported[ident]:
                problems.append(f"row {number}, field version: {version} is not the version exported "
                                f"({exported[ident]}); leave id and version as exported")
        _check_row(session, batch.county_code, number, values, problems)
        rows.append((number, ident, values, geom))
    _new_codes(session, rows, problems)
    if problems:
        raise InvalidInput(f"layer {batch.layer!r}: {problems[0]}" + (f" (and {len(problems) - 1} more)"
                                                                       if len(problems) > 1 else ""),
                           field="file", errors=problems)
    current = {f.id: f for f in session.scalars(select(Facility).where(Facility.id.in_(sorted(exported))))}
    edits = []
    for number, ident, values, geom in rows:
        edit = _added(batch, number, values, geom, edit_fields) if ident is None else _changed(
            batch, number, current[ident], exported[ident], values, geom, edit_fields)
        if edit is not None:
            edits.append(edit)
    for ident in sorted(set(exported) - seen):
        edits.append(_edit(batch, "retire", 0, current[ident], exported[ident], {}))
    return edits


def _edit(batch, kind, number, facility, exported_version, changes, moved=None) -> ProvisionalEdit:
    stale = facility is not None and (facility.version != exported_version or facility.status != "active")
    return ProvisionalEdit(batch_id=batch.id, kind=kind, row_number=number, changes=changes, moved_m=moved,
                           target_id=None if facility is None else facility.id, exported_version=exported_version,
                           state="conflict" if stale else "pending")


def _added(batch, number, values, geom, edit_fields) -> ProvisionalEdit:
    missing = [name for name in _REQUIRED_NEW if not values.get(name)]
    if missing:
        raise InvalidInput(f"layer {batch.layer!r}: row {number}, field {missing[0]}: a new row needs "
                           f"{', '.join(_REQUIRED_NEW)}", field=missing[0])
    if values.get("county_code") not in (None, batch.county_code):
        raise InvalidInput(f"layer {batch.layer!r}: row {number}, field county_code: {values['county_code']} is not "
                           f"the export's county {batch.county_code}", field="county_code")
    changes = {name: [None, values[name]] for name in ("code", "name", *edit_fields) if values.get(name) not in
               (None, False)}
    changes["lon"], changes["lat"] = [None, geom.x], [None, geom.y]
    return _edit(batch, "add", number, None, None, changes)


def _changed(batch, number, facility, exported_version, values, geom, edit_fields) -> ProvisionalEdit | None:
    for name in ("code", "name", "county_code"):
        if name in values and values[name] != getattr(facility, name) and facility.version == exported_version:
            why = "changes only by an approved renaming" if name == "name" else "cannot be changed in QGIS"
            raise InvalidInput(f"layer {batch.layer!r}: row {number}, field {name}: the {name} {why} "
                               f"(facility {facility.id})", field=name)
    changes = {}
    for name in edit_fields:
        if name not in values:
            continue
        old = getattr(facility, name)
        old = old if old is None or isinstance(old, (bool, float)) else str(old)
        new = values[name]
        if name == "area_m2" and old is not None and new is not None and math.isclose(old, new):
            continue
        if old != new and not (old in (None, "") and new in (None, "")):
            changes[name] = [old, new]
    moved = distance_m(facility.geom, geom)
    if moved >= MOVE_TOLERANCE_M:
        changes["lon"], changes["lat"] = [facility.geom.x, geom.x], [facility.geom.y, geom.y]
    if not changes:
        return None
    return _edit(batch, "change", number, facility, exported_version, changes,
                 round(moved, 2) if "lon" in changes else None)

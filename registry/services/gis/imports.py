"""Imports of facilities and tombs from GIS files and spreadsheets (GeoPackage, GeoJSON, zipped Shapefile, CSV, XLSX).

Every row is checked first; a dry run reports what would be created and every problem by row
(row number, column, value, why), and a real run writes all new rows with their audit events in one
transaction, or nothing at all. A row that is already in the registry unchanged (a re-import of the
same file) is counted and skipped, so importing a file twice adds nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from geodata.checks import GeometryError, check_lonlat
from geodata.crs import normalise_crs, to_wgs84
from geodata.exports import shapefile_names
from geodata.plots import bare, format_plot
from geodata.sniff import Limits
from registry.db import Store
from registry.models import Facility, FacilityName, Tomb
from registry.models.vocab import TOMB_STATES
from registry.services import divisions
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.facilities import EDITABLE, check_facility_fields
from registry.services.gis.files import FORMATS, MAX_ROWS, TABULAR, clean_value, file_sha256, read_rows
from registry.services.provenance import stamp
from registry.services.relocations import plot_taken
from registry.spatial import for_store

KINDS = ("facilities", "tombs")
# Systems a file's lon/lat may be declared in; phone apps hand out GCJ-02, Baidu BD-09.
CRS_CHOICES = ("EPSG:4326", "EPSG:4490", "GCJ-02", "BD-09")
# Who may import: those who may edit facilities (a manager only in their own counties).
IMPORTERS = ("admin", "planner", "manager")
_TOMB_FIELDS = ("facility_id", "facility_code", "martyr_id", "plot_area", "plot_row", "plot_number", "state")
_FACILITY_FIELDS = ("code", "name", "position_approximate", *EDITABLE)
REQUIRED = {"facilities": ("code", "name", "category", "county_code"), "tombs": ()}


class Problem(NamedTuple):
    """One problem of one row: its number (0 for the whole file), the column, a message and the value found."""

    row: int
    column: str | None
    message: str
    value: object = None

    @property
    def why(self) -> str:
        """The message without its leading 'row N: ' (the preview shows the row in its own column)."""
        prefix = f"row {self.row}: "
        return self.message[len(prefix):] if self.message.startswith(prefix) else self.message


@dataclass
class ImportReport:
    """What an import did or would do: rows read, new rows, rows already present, and problems by row."""

    kind: str
    rows: int = 0
    created: int = 0
    dry_run: bool = True
    problems: list = field(default_factory=list)
    new: int = 0
    existing: int = 0
    layer: str | None = None
    crs: str = "EPSG:4326"

    @property
    def ok(self) -> bool:
        return not self.problems


def may_import(actor: Actor) -> bool:
    return any(actor.can(role) for role in IMPORTERS) and (
        actor.can("admin") or actor.can("planner") or bool(actor.counties))


def _point(row: dict, number: int, crs: str | None, tabular: bool, problems: list) -> Point | None:
    kind = row.pop("_geometry_type", "Point")
    column = "lon, lat" if tabular else "position"
    if kind is not None and kind != "Point":
        problems.append(Problem(number, column, f"row {number}: the geometry is a {kind}; this import takes points",
                                kind))
        return None
    raw = (row.get("lon"), row.get("lat"))
    try:
        lon, lat = check_lonlat(*raw, field=column)
        if crs in ("GCJ-02", "BD-09"):
            lon, lat = to_wgs84(lon, lat, crs)
    except (TypeError, ValueError, GeometryError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        shown = None if raw == (None, None) else f"{raw[0]}, {raw[1]}"
        problems.append(Problem(number, column, f"row {number}: no valid point ({reason})", shown))
        return None
    return Point(lon, lat)


def _key(lon: float, lat: float) -> tuple[float, float]:
    # Seven decimals are about a centimetre: a point read back from any of the formats compares equal.
    return round(lon, 7), round(lat, 7)


def import_features(store: Store, actor: Actor, kind: str, data: bytes | Path, fmt: str, *,
                    dry_run: bool = True, layer: str | None = None, crs: str | None = None,
                    filename: str | None = None, limits: Limits | None = None) -> ImportReport:
    """Check, then (unless ``dry_run``) create every new row of the file as a facility or tomb, atomically.

    ``layer`` picks a GeoPackage's layer; ``crs`` says which lon/lat system the points are in when the
    file does not carry a projected system of its own (EPSG:4326 by default; GCJ-02 and BD-09 are converted).
    Each created row's audit event names the file and its SHA-256, the name its original is archived under.
    """
    crs_name = _checked_request(actor, kind, fmt, crs)
    report, records, declared = _file_records(kind, data, fmt, layer, crs_name, limits, dry_run)
    if records is None:
        return report
    with unit_of_work(store) as session:
        rows = []
        for number, values in enumerate(records, start=1):
            geom = _point(values, number, declared, fmt in TABULAR, report.problems)
            values.pop("lon", None)
            values.pop("lat", None)
            rows.append((number, {k: v for k, v in values.items() if v is not None}, geom))
        if kind == "facilities":
            built = _facilities(session, actor, rows, report)
        else:
            built = _tombs(store, session, actor, rows, report)
        report.new = len(built)
        report.problems.sort(key=lambda problem: problem.row)  # in the order a reader goes through the file
        if report.problems or dry_run:
            session.rollback()
            return report
        digest = file_sha256(data)
        for obj in built:  # each record's point and fields come from the file, named by its hash
            stamp(obj, "position", "gis_import", ref=digest)
            stamp(obj, "facts", "gis_import", ref=digest)
        _write(session, actor, built, rows, f"{filename or 'file'} sha256:{digest}")
        report.created = len(built)
    return report


def _checked_request(actor: Actor, kind: str, fmt: str, crs: str | None) -> str:
    """Refuse an unknown kind or format, or an actor who may not import; the declared CRS's name."""
    if kind not in KINDS:
        raise InvalidInput(f"kind {kind!r} is not one of {', '.join(KINDS)}", field="kind")
    if not may_import(actor):
        raise Forbidden(f"{actor.name} may not import {kind}")
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {', '.join(FORMATS)}", field="format")
    try:
        return normalise_crs(crs or "EPSG:4326")
    except ValueError as exc:
        raise InvalidInput(str(exc), field="crs") from None


def _file_records(kind: str, data: bytes | Path, fmt: str, layer: str | None, crs_name: str,
                  limits: Limits | None, dry_run: bool) -> tuple[ImportReport, list | None, str | None]:
    """(the report begun, each row's cleaned values or None when the columns are wrong, the declared CRS)."""
    frame, layer, own_crs = read_rows(data, fmt, layer, limits)
    if len(frame) > MAX_ROWS:
        raise InvalidInput(f"the file has {len(frame)} rows; import at most {MAX_ROWS} at a time", field="file")
    if frame.empty:
        raise InvalidInput("the file holds a header but no rows", field="file")
    report = ImportReport(kind, rows=len(frame), dry_run=dry_run, layer=layer,
                          crs="(from the file)" if own_crs else crs_name)
    allowed = set(_FACILITY_FIELDS if kind == "facilities" else _TOMB_FIELDS) | {"lon", "lat", "id", "wkt",
                                                                                 "_geometry_type"}
    if fmt == "shp":
        # dBASE cut the names to 10 characters: map them back the way the export shortened them.
        short = {v: k for k, v in shapefile_names(sorted(allowed)).items()}
        frame = frame.rename(columns={c: short.get(c, c) for c in frame.columns})
    extra = sorted(set(frame.columns) - allowed)
    if extra:
        report.problems.append(Problem(0, extra[0], f"unknown columns: {', '.join(extra)}", ", ".join(extra)))
        return report, None, None
    records = [{k: clean_value(v) for k, v in row.items() if k not in ("id", "wkt")}
               for row in frame.to_dict("records")]
    return report, records, None if own_crs else crs_name


def _write(session, actor: Actor, built: list, rows: list, source: str) -> None:
    """Insert the checked rows, each with its audit event naming the file (``source``), and a facility's name."""
    # One batched INSERT for all rows gives every row its id; the names and the audit events follow in
    # one more flush at commit (a flush per row made a 5,000-row import take 40 s instead of a few).
    session.add_all(built)
    try:
        session.flush()
    except IntegrityError as exc:
        if not plot_taken(exc):
            raise
        # Another writer filled a plot after the check above (the store's index refused the second tomb).
        session.rollback()
        raise _plots_filled_meanwhile(session, rows) from None
    for obj in built:
        if isinstance(obj, Facility):
            session.add(FacilityName(facility_id=obj.id, name=obj.name, valid_from=date.today(),
                                     note="name at import"))
        event = record_audit(session, actor, "import", entity_type=obj.__tablename__, entity_id=obj.id,
                             note=source)
        event.after = snapshot(obj)


def _plots_filled_meanwhile(session, rows: list) -> Conflict:
    """The Conflict for tomb rows whose plots another writer filled after this import checked them.

    The store's one-tomb-per-plot index refused the import's insert (its transaction is rolled back, so
    nothing was written); the rows whose plots now hold an active tomb are named, as the check would have.
    ``session`` reads in a fresh transaction, which sees the other writer's tomb.
    """
    plots = {}
    for number, values, _geom in rows:
        plot = _plot(values)
        if plot is not None:
            plots.setdefault(plot, number)
    held = session.execute(select(Tomb.id, Tomb.facility_id, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number)
                           .where(Tomb.facility_id.in_(sorted({p[0] for p in plots})), Tomb.status == "active",
                                  Tomb.plot_number.is_not(None))).all()
    problems = []
    for tomb_id, *values in held:
        plot = _plot(dict(zip(("facility_id", "plot_area", "plot_row", "plot_number"), values, strict=True)))
        if plot in plots:
            number = plots[plot]
            problems.append(Problem(number, "plot_number", f"row {number}: plot {_plot_text(plot)} "
                                    f"of facility {plot[0]} was given tomb {tomb_id} by someone else while this file "
                                    "was imported", plot[3]))
    problems.sort(key=lambda problem: problem.row)
    first = problems[0].message if problems else "a plot of the file was given a tomb by someone else meanwhile"
    return Conflict(f"{first}; one plot holds one active tomb, so nothing was imported: check the file again",
                    field="plot_number", errors=problems)


_FLAGS = ("sign_present", "land_title_registered", "position_approximate")
_TRUE, _FALSE = ("1", "true", "yes", "是", "有"), ("0", "false", "no", "否", "无")


def _coerce(values: dict, number: int, problems: list) -> bool:
    """Give each facility value its column's type (files carry text or numbers); a bad one is a problem."""
    for key, value in list(values.items()):
        try:
            if key in _FLAGS:
                text = str(value).strip().lower()
                if text in ("1.0", "0.0"):
                    text = text[0]
                if text not in _TRUE + _FALSE:
                    raise ValueError(f"{key} {value!r} is not yes or no (是/否, 1/0, true/false)")
                values[key] = text in _TRUE
            elif key == "area_m2":
                area = float(value)
                if not math.isfinite(area) or area < 0:
                    raise ValueError(f"area_m2 {value!r} is not a positive number of square metres")
                values[key] = area
            elif key == "level_approved_on":
                if not isinstance(value, date):
                    try:
                        value = date.fromisoformat(str(value).strip()[:10])
                    except ValueError:
                        raise ValueError(f"level_approved_on {value!r} is not a date (YYYY-MM-DD)") from None
                values[key] = value
            elif isinstance(value, float) and value.is_integer():
                values[key] = str(int(value))  # a code read as a number: 990101.0 -> "990101"
            elif not isinstance(value, str):
                values[key] = str(value)
        except (TypeError, ValueError) as exc:
            message = str(exc) if key in str(exc) else f"{key} {value!r} is not a number"
            problems.append(Problem(number, key, f"row {number}: {message}", value))
            return False
    return True


def _outside_counties(actor: Actor, county: str | None) -> bool:
    # Admins and planners edit everywhere; a manager only in the counties they are responsible for.
    return not (actor.can("admin") or actor.can("planner")) and county not in actor.counties


def _facilities(session, actor: Actor, rows: list, report: ImportReport) -> list:
    problems = report.problems
    built, seen = [], {}
    registered = _registered(session, {str(values["code"]) for _n, values, _g in rows if values.get("code")})
    for number, values, geom in rows:
        missing = [name for name in REQUIRED["facilities"] if not values.get(name)]
        if missing:
            for name in missing:
                problems.append(Problem(number, name, f"row {number}: {name} is required", None))
            continue
        if not _coerce(values, number, problems):
            continue
        try:
            check_facility_fields(values, session)
            if values.get("township"):
                values["township"] = divisions.check_township(session, values["county_code"], values["township"])
        except InvalidInput as exc:
            problems.append(Problem(number, exc.field, f"row {number}: {exc.message}", values.get(exc.field)))
            continue
        code = values["code"] = str(values["code"])
        if _outside_counties(actor, values["county_code"]):
            problems.append(Problem(number, "county_code", f"row {number}: {actor.name} manages counties "
                                    f"{', '.join(actor.counties) or 'none'} only", values["county_code"]))
            continue
        if code in seen:
            first, first_values, first_geom = seen[code]
            same = first_values == values and (first_geom is None or geom is None or first_geom.equals(geom))
            why = f"repeats row {first}" if same else f"code {code!r} is already used in row {first}"
            problems.append(Problem(number, "code", f"row {number}: {why}", code))
            continue
        seen[code] = (number, values, geom)
        if geom is None:
            continue
        existing = registered.get(code)
        if existing is not None:
            if (existing.name == values["name"] and existing.county_code == values["county_code"]
                    and _key(existing.geom.x, existing.geom.y) == _key(geom.x, geom.y)):
                report.existing += 1  # imported before: a re-import adds nothing
            else:
                problems.append(Problem(number, "code", f"row {number}: code {code!r} is already used by facility "
                                        f"{existing.id} ({existing.name}) with other values; edit that facility "
                                        "instead", code))
            continue
        built.append(Facility(geom=geom, **values))
    return built


def _registered(session, codes: set) -> dict:
    """The facilities already holding any of ``codes``, by code (one query per thousand codes, not per row)."""
    found, ordered = {}, sorted(codes)
    for start in range(0, len(ordered), 1000):
        for facility in session.scalars(select(Facility).where(Facility.code.in_(ordered[start:start + 1000]))):
            found[facility.code] = facility
    return found


def _tomb_values(session, number: int, values: dict, problems: list, facilities: dict) -> bool:
    code = values.pop("facility_code", None)
    if code is not None and "facility_id" not in values:
        facility_id = session.scalar(select(Facility.id).where(Facility.code == str(code)))
        if facility_id is None:
            problems.append(Problem(number, "facility_code", f"row {number}: no facility with code {code!r}", code))
            return False
        values["facility_id"] = facility_id
    for key in ("facility_id", "martyr_id"):
        if key in values:
            try:
                values[key] = int(float(values[key]))
            except (TypeError, ValueError):
                problems.append(Problem(number, key, f"row {number}: {key} {values[key]!r} is not a whole number",
                                        values[key]))
                return False
    if "facility_id" in values:
        fid = values["facility_id"]
        if fid not in facilities:
            facilities[fid] = session.get(Facility, fid)
        if facilities[fid] is None:
            problems.append(Problem(number, "facility_id", f"row {number}: no facility {fid}", fid))
            return False
    if "state" in values and values["state"] not in TOMB_STATES:
        problems.append(Problem(number, "state", f"row {number}: state {values['state']!r} is not one of "
                                f"{', '.join(TOMB_STATES)}", values["state"]))
        return False
    for key, part in (("plot_area", "area"), ("plot_row", "row"), ("plot_number", "number")):
        if key in values:
            # Kept bare, as signs are read (geodata.plots): "A区" and "A" are one area, 3.0 is plot 3.
            values[key] = bare(values[key], part)
    return True


def _tomb_key(values: dict, geom: Point) -> tuple:
    return (values.get("facility_id"), values.get("martyr_id"), values.get("plot_area"), values.get("plot_row"),
            values.get("plot_number"), *_key(geom.x, geom.y))


def _plot_text(plot: tuple) -> str:
    """A plot (facility, area, row, number) as a message names it: as signed, A区 4排 20号 (geodata.plots)."""
    return format_plot(*plot[1:])


def _plot(values: dict):
    # As the store's one-tomb-per-plot index reads a plot: a blank area or row is no area or row.
    if values.get("facility_id") is None or values.get("plot_number") is None:
        return None
    return (values["facility_id"], values.get("plot_area") or None, values.get("plot_row") or None,
            values["plot_number"])


def _tombs(store: Store, session, actor: Actor, rows: list, report: ImportReport) -> list:
    problems = report.problems
    facilities: dict = {}
    checked = []
    for number, values, geom in rows:
        if not _tomb_values(session, number, values, problems, facilities):
            continue
        facility = facilities.get(values.get("facility_id"))
        if _outside_counties(actor, facility.county_code if facility else None):
            where = f"facility {facility.id} is in county {facility.county_code}" if facility else "it has no facility"
            problems.append(Problem(number, "facility_id" if facility else "facility_code",
                                    f"row {number}: {where}; {actor.name} manages counties "
                                    f"{', '.join(actor.counties) or 'none'} only",
                                    facility.id if facility else None))
            continue
        if geom is not None:
            checked.append((number, values, geom))
    known_keys, known_plots = _existing_tombs(store, session, [g for _n, _v, g in checked],
                                              {v["facility_id"] for _n, v, _g in checked if "facility_id" in v})
    built, seen_keys, seen_plots = [], {}, {}
    for number, values, geom in checked:
        key, plot = _tomb_key(values, geom), _plot(values)
        if key in seen_keys:
            problems.append(Problem(number, "position", f"row {number}: repeats row {seen_keys[key]}",
                                    f"{geom.x}, {geom.y}"))
            continue
        if plot is not None and plot in seen_plots:
            problems.append(Problem(number, "plot_number", f"row {number}: plot {_plot_text(plot)} "
                                    f"of facility {plot[0]} is already given in row {seen_plots[plot]}",
                                    values["plot_number"]))
            continue
        seen_keys[key] = number
        if plot is not None:
            seen_plots[plot] = number
        if key in known_keys:
            report.existing += 1  # imported before: a re-import adds nothing
            continue
        if plot is not None and plot in known_plots:
            problems.append(Problem(number, "plot_number", f"row {number}: plot {_plot_text(plot)} "
                                    f"of facility {plot[0]} already holds tomb {known_plots[plot]}",
                                    values["plot_number"]))
            continue
        built.append(Tomb(geom=geom, **values))
    return built


def _existing_tombs(store: Store, session, points: list, facility_ids: set) -> tuple[set, dict]:
    """Keys of the active tombs at the file's points or in its facilities, and their plots (plot -> tomb id)."""
    if not points:
        return set(), {}
    xs, ys = [p.x for p in points], [p.y for p in points]
    ids = set(for_store(store).by_box(session, "tombs", min(xs), min(ys), max(xs), max(ys)))
    query = select(Tomb).where(Tomb.status != "retired")
    found = []
    id_list = sorted(ids)
    for start in range(0, len(id_list), 5000):
        found += session.scalars(query.where(Tomb.id.in_(id_list[start:start + 5000]))).all()
    if facility_ids:
        found += session.scalars(query.where(Tomb.facility_id.in_(sorted(facility_ids)))).all()
    keys, plots = set(), {}
    for tomb in found:
        values = {"facility_id": tomb.facility_id, "martyr_id": tomb.martyr_id, "plot_area": tomb.plot_area,
                  "plot_row": tomb.plot_row, "plot_number": tomb.plot_number}
        keys.add(_tomb_key(values, tomb.geom))
        plot = _plot(values)
        if plot is not None:
            plots[plot] = tomb.id
    return keys, plots

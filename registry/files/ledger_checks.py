"""One ledger row cleaned and checked: its county (by name, code or former name), its points, its steps in order.

Anything that stops the row from being imported is an error naming the row, the column, the value and why;
what was put right (swapped coordinates, a county taken from the point) is a warning for the user to confirm.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from datetime import date

from shapely.geometry import Point

from registry.files.ledger_cells import convert_cell
from registry.files.ledger_model import DATE_FIELDS, FIELDS, Alias, Ledger, LedgerRow, header_for

_MISSING = object()


class Counties(dict):
    """County code -> (name, seat lon, lat[, boundary]), with the former names and codes beside them."""

    aliases: dict = {}


def _alias_code(value) -> str | None:
    return value.code if isinstance(value, Alias) else value


def _resolve_county(text: str, counties: Mapping) -> str | None:
    if text in counties:
        return text
    for code, (name, *_rest) in counties.items():
        if text == name or (len(text) >= 2 and name.startswith(text) and len(name) - len(text) == 1):
            return code
    former = _alias_code(getattr(counties, "aliases", {}).get(text))
    return former if former in counties else None


def _nearest_county(text: str, counties: Mapping) -> str:
    names = {name: code for code, (name, *_rest) in counties.items()}
    names.update({code: code for code in counties})
    names.update({old: _alias_code(code) for old, code in getattr(counties, "aliases", {}).items()
                  if _alias_code(code) in counties})
    found = difflib.get_close_matches(text, list(names), n=1, cutoff=0.3)
    if not found:
        return ""
    code = names[found[0]]
    return f"; nearest is {counties[code][0]} ({code})"


def _boundary(counties: Mapping, code: str):
    value = counties[code]
    return value[3] if len(value) > 3 else None


def clean_row(ledger: Ledger, number: int, cells: list, columns, counties: Mapping,
               county_of: dict | None = None) -> LedgerRow | None:
    values: dict = {}
    failed = False
    width = len(cells)
    for index, header, target, convert, axis, seen in columns:
        raw = cells[index] if index < width else None
        if raw is None or raw == "":
            values[target] = None
            continue
        if seen is None:
            outcome = convert_cell(raw, convert, axis)
        else:
            try:
                outcome = seen.get(raw, _MISSING)
                if outcome is _MISSING:
                    outcome = seen[raw] = convert_cell(raw, convert, axis)
            except TypeError:  # an unhashable cell is converted, not remembered
                outcome = convert_cell(raw, convert, axis)
        value, notes, error = outcome
        for why, kind in notes:
            ledger.warn(why, row=number, column=header, value=raw, kind=kind)
        if error is not None:
            ledger.error(error, row=number, column=header, value=raw, kind="value")
            failed = True
            continue
        # A remembered list (personal effects) is copied, so no two rows share one list.
        values[target] = list(value) if type(value) is list else value
    if all(v in (None, "", []) for v in values.values()):
        ledger.warn("empty row skipped", row=number, kind="empty")
        return None
    if failed:
        return None
    ok = _check_point(ledger, number, values, columns)
    ok = _check_county(ledger, number, values, columns, counties, county_of) and ok
    ok = _check_steps(ledger, number, values, columns) and ok
    if not values.get("dest_facility") and any(c[2] == "dest_facility" for c in columns):
        ledger.error("the destination (迁入地) is empty", row=number, column=header_for(columns, "dest_facility"),
                     kind="missing")
        ok = False
    if values.get("family_consent") is None:
        values["family_consent"] = bool(values.get("consent_on") or values.get("consent_by"))
    if ok and values.get("reburied_on") is not None and not values["family_consent"]:
        ledger.warn(f"reburied on {values['reburied_on'].isoformat()} without the family's consent on file "
                    "(家属同意): the reconciliation lists it under missing consent or approval", row=number,
                    column=header_for(columns, "family_consent"), kind="consent")
    return LedgerRow(number, values) if ok else None


def _looks_swapped(lon: float, lat: float) -> bool:
    return not (-90 <= lat <= 90) or (0 < lon < 60 and 70 < lat < 140)


def _check_point(ledger: Ledger, number: int, values: dict, columns) -> bool:
    ok = True
    for lon_f, lat_f in (("origin_lon", "origin_lat"), ("dest_lon", "dest_lat")):
        lon, lat = values.get(lon_f), values.get(lat_f)
        if lon is None and lat is None:
            continue
        if lon is None or lat is None:
            missing = lat_f if lat is None else lon_f
            ledger.error(f"{FIELDS[missing][0]} is empty while {FIELDS[lon_f if missing == lat_f else lat_f][0]} "
                         "is given", row=number, column=header_for(columns, missing), kind="missing")
            ok = False
            continue
        if not (math.isfinite(lon) and math.isfinite(lat)):
            ledger.error("coordinate is not a finite number", row=number, column=header_for(columns, lon_f),
                         value=lon, kind="value")
            ok = False
            continue
        if _looks_swapped(lon, lat):
            values[lon_f], values[lat_f] = lat, lon
            ledger.warn(f"longitude and latitude were swapped ({lon:g}, {lat:g}); read as longitude {lat:g}, "
                        f"latitude {lon:g}", row=number, column=header_for(columns, lon_f), value=f"{lon:g}",
                        kind="swapped")
    return ok


def _check_county(ledger: Ledger, number: int, values: dict, columns, counties: Mapping,
                  county_of: dict | None = None) -> bool:
    text = values.get("county")
    if not counties:
        return True
    header = header_for(columns, "county")
    code = None
    if text:
        if county_of is None:
            code = _resolve_county(text, counties)
        else:
            code = county_of[text] if text in county_of else county_of.setdefault(text, _resolve_county(text,
                                                                                                       counties))
        if code is None:
            ledger.error(f"unknown county {text}{_nearest_county(text, counties)}; known are "
                         f"{', '.join(n for n, *_ in counties.values())}", row=number,
                         column=header, value=text, kind="county")
            return False
    values["county_code"] = code
    if text and code is not None:
        _check_alias_dates(ledger, number, values, header, text, code, counties)
    lon, lat = values.get("origin_lon"), values.get("origin_lat")
    if lon is None or lat is None:
        if code is None:
            ledger.error("neither a county nor a point is given for the origin", row=number, column=header,
                         kind="missing")
            return False
        return True
    if any(_boundary(counties, c) is not None for c in counties):
        return _check_boundary(ledger, number, values, columns, counties, code, lon, lat)
    if code is not None:
        own = _km(lon, lat, counties[code][1], counties[code][2])
        if own <= 55:
            return True  # well inside its county: the common case needs no other distance
    km = {c: _km(lon, lat, v[1], v[2]) for c, v in counties.items()}
    nearest = min(km, key=km.get)
    if km[nearest] > 70:
        ledger.error(f"the point ({lon:.5f}, {lat:.5f}) is {km[nearest]:.0f} km from the nearest county seat: it "
                     "lies outside the region", row=number, column=header_for(columns, "origin_lon"),
                     value=f"{lon:.5f}, {lat:.5f}", kind="outside")
        return False
    if code is None:
        values["county_code"] = nearest
        ledger.warn(f"no county given; {counties[nearest][0]} taken from the point", row=number, column=header,
                    kind="county")
        return True
    if km[code] > 55 and km[code] - km[nearest] > 15:
        ledger.error(f"the point ({lon:.5f}, {lat:.5f}) lies outside {counties[code][0]}: it is {km[code]:.0f} km "
                     f"from its seat and nearer {counties[nearest][0]}", row=number,
                     column=header_for(columns, "origin_lon"), value=f"{lon:.5f}, {lat:.5f}", kind="outside")
        return False
    return True


def _check_alias_dates(ledger: Ledger, number: int, values: dict, header, text: str, code: str,
                       counties: Mapping) -> None:
    # A former name is matched whatever the row's date; a row dated when the name was no longer (or not yet)
    # in use is still imported, with a warning: the ledger may be old, or the county mistyped.
    alias = getattr(counties, "aliases", {}).get(text)
    if not isinstance(alias, Alias) or alias.code != code or text in counties:
        return
    dated = [(values[f], f) for f in DATE_FIELDS if isinstance(values.get(f), date)]
    if not dated:
        return
    day, step = min(dated)
    if alias.in_use(day):
        return
    ledger.warn(f"{alias.label} is a former name, in use {alias.span()}, read as {counties[code][0]} ({code}); "
                f"this row is dated {day.isoformat()} ({FIELDS[step][0]}), outside those dates", row=number,
                column=header, value=text, kind="alias")


def _check_boundary(ledger: Ledger, number: int, values: dict, columns, counties: Mapping, code: str | None,
                    lon: float, lat: float) -> bool:
    # Boundaries are known: the point's county is the one whose outline holds it, not the nearest seat.
    point = Point(lon, lat)
    own = _boundary(counties, code) if code is not None else None
    if own is not None and own.covers(point):
        return True
    inside = next((c for c in counties if (b := _boundary(counties, c)) is not None and b.covers(point)), None)
    where = header_for(columns, "origin_lon")
    if inside is None:
        ledger.error(f"the point ({lon:.5f}, {lat:.5f}) falls in no county of the registry: it lies outside the "
                     "region", row=number, column=where, value=f"{lon:.5f}, {lat:.5f}", kind="outside")
        return False
    if code is None:
        values["county_code"] = inside
        ledger.warn(f"no county given; {counties[inside][0]} taken from the point", row=number,
                    column=header_for(columns, "county"), kind="county")
        return True
    if own is None:
        return True  # the given county has no boundary to check against
    ledger.error(f"the point ({lon:.5f}, {lat:.5f}) lies outside {counties[code][0]}: it falls in "
                 f"{counties[inside][0]}", row=number, column=where, value=f"{lon:.5f}, {lat:.5f}", kind="outside")
    return False


def _km(lon1, lat1, lon2, lat2) -> float:
    # An equirectangular distance: at county scale it is within a fraction of a percent.
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6371.0 * math.hypot(x, y)


def _check_steps(ledger: Ledger, number: int, values: dict, columns) -> bool:
    ok = True
    previous = None
    today = date.today()
    for step in DATE_FIELDS:
        day = values.get(step)
        if day is None:
            continue
        if day > today:
            ledger.error(f"{FIELDS[step][0]} {day.isoformat()} is after today ({today.isoformat()}): a step is "
                         "recorded once it has happened", row=number, column=header_for(columns, step),
                         value=day.isoformat(), kind="future")
            ok = False
        if previous is not None and day < values[previous]:
            ledger.error(f"{FIELDS[step][0]} {day.isoformat()} is before {FIELDS[previous][0]} "
                         f"{values[previous].isoformat()}: steps must follow each other in order",
                         row=number, column=header_for(columns, step), value=day.isoformat(), kind="order")
            ok = False
        previous = step
    if values.get("accepted_on") is not None:
        consent = values.get("family_consent")
        if consent is False or not (consent or values.get("consent_on") or values.get("consent_by")):
            ledger.error("accepted without the family's consent on file (家属同意)", row=number,
                         column=header_for(columns, "accepted_on"), value=values["accepted_on"].isoformat(),
                         kind="acceptance")
            ok = False
        if not values.get("approval_number"):
            ledger.error("accepted without an approval number on file (批准文号)", row=number,
                         column=header_for(columns, "accepted_on"), value=values["accepted_on"].isoformat(),
                         kind="acceptance")
            ok = False
    return ok

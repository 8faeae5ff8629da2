"""Checking the rows of a divisions file (GB/T 2260 codes, names, levels, seats, boundaries, former names),
each row alone and then their links to each other and to the registry; every bad row is named at once."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date

import shapely
from shapely.geometry import MultiPolygon, Polygon

from registry.models.division import DIVISION_LEVELS
from registry.services.base import InvalidInput

__all__ = ["CODE", "CODE_LENGTH", "FORMER", "check_rows"]

CODE = re.compile(r"^\d{6}(\d{3}){0,2}$")  # GB/T 2260: six digits, nine or twelve for townships and villages
# The length of a code by level: six to the county (GB/T 2260), nine for a township and twelve for a village,
# each beginning with the code of the division above it.
CODE_LENGTH = {"province": 6, "city": 6, "county": 6, "township": 9, "village": 12}
FORMER = "former"  # the level of a row that names a former name/code of the division given as its parent



def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value == int(value):
        value = int(value)  # a code read as a number: a float 990101.0 -> "990101"
    return str(value).strip()


def _number(value):
    text = _text(value)
    return float(text) if text else None


def _day(text: str, what: str, row: int) -> str | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise InvalidInput(f"row {row}: {what} {text!r} is not a date (YYYY-MM-DD)", field=f"row {row}") from None


def _seat(raw: dict, n, code: str) -> tuple[float | None, float | None]:
    """The row's seat as WGS 84 longitude/latitude (both or neither)."""
    try:
        lon, lat = _number(raw.get("seat_lon")), _number(raw.get("seat_lat"))
    except ValueError:
        raise InvalidInput(f"row {n}: the seat of {code} is not a pair of numbers") from None
    if (lon is None) != (lat is None):
        raise InvalidInput(f"row {n}: the seat of {code} needs both seat_lon and seat_lat")
    if lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"row {n}: the seat of {code} ({lon:g}, {lat:g}) is not longitude/latitude: "
                           "wrong CRS; give WGS 84 degrees (EPSG:4326)")
    return lon, lat


def _boundary(raw: dict, n, code: str):
    """The row's boundary as a valid MultiPolygon, or None."""
    boundary = raw.get("boundary")
    if boundary is None:
        return None
    if isinstance(boundary, Polygon):
        boundary = MultiPolygon([boundary])
    if not isinstance(boundary, MultiPolygon):
        raise InvalidInput(f"row {n}: the boundary of {code} is a {boundary.geom_type}, not a polygon")
    if not boundary.is_valid:
        raise InvalidInput(f"row {n}: the boundary of {code} is not a valid polygon "
                           f"({shapely.is_valid_reason(boundary)})")
    return boundary


_YES, _NO = {"true", "t", "yes", "y", "1", "是"}, {"false", "f", "no", "n", "0", "否", ""}


def _approximate(raw: dict, n, code: str, boundary) -> bool:
    """The row's ``boundary_approximate`` flag (true: the boundary is a sketch; meaningless without one)."""
    value = raw.get("boundary_approximate")
    text = ("true" if value else "false") if isinstance(value, bool) else _text(value).lower()
    if text not in _YES | _NO:
        raise InvalidInput(f"row {n}: boundary_approximate {value!r} of {code} is not true or false")
    return text in _YES and boundary is not None


def _identity(raw: dict, n) -> tuple[str, str, str, str | None]:
    """The row's code, name, level and parent, each checked alone."""
    code, name = _text(raw.get("code")), _text(raw.get("name"))
    level = _text(raw.get("level")).lower()
    parent = _text(raw.get("parent") or raw.get("parent_code")) or None
    if not CODE.match(code):
        raise InvalidInput(f"row {n}: code {code!r} is not a GB/T 2260 code (6, 9 or 12 digits)")
    if not name:
        raise InvalidInput(f"row {n}: the name of {code} is empty")
    if level not in (*DIVISION_LEVELS, FORMER):
        raise InvalidInput(f"row {n}: level {level!r} of {code} is not one of "
                           f"{', '.join((*DIVISION_LEVELS, FORMER))}")
    if level in CODE_LENGTH and len(code) != CODE_LENGTH[level]:
        raise InvalidInput(f"row {n}: code {code} has {len(code)} digits, but a {level} code has "
                           f"{CODE_LENGTH[level]}")
    if parent is not None and not CODE.match(parent):
        raise InvalidInput(f"row {n}: parent {parent!r} of {code} is not a GB/T 2260 code")
    return code, name, level, parent


def _check_row(raw: dict, in_file: dict[str, str]) -> dict:
    """One row checked alone: a division, or (level ``former``) an alias; raises InvalidInput naming the row."""
    n = raw.get("row")
    code, name, level, parent = _identity(raw, n)
    lon, lat = _seat(raw, n, code)
    target = _text(raw.get("relocation_target"))
    if target and not target.isdigit():
        raise InvalidInput(f"row {n}: relocation_target {target!r} of {code} is not a whole number")
    valid_from = _day(_text(raw.get("valid_from")), "valid_from", n)
    valid_to = _day(_text(raw.get("valid_to")), "valid_to", n)
    boundary = _boundary(raw, n, code)
    approximate = _approximate(raw, n, code, boundary)
    if boundary is not None and lon is None:
        seat = boundary.representative_point()
        lon, lat = round(seat.x, 6), round(seat.y, 6)
    if code in in_file and level != FORMER:
        raise InvalidInput(f"row {n}: code {code} is given twice (also row {in_file[code]})")
    if level == FORMER:
        return {"code": parent, "former_code": code, "former_name": name, "valid_from": valid_from,
                "valid_to": valid_to, "is_demo": bool(raw.get("is_demo")), "row": n}
    return {"code": code, "name": name, "level": level, "parent_code": parent, "seat_lon": lon,
            "seat_lat": lat, "valid_from": valid_from, "valid_to": valid_to,
            "is_demo": bool(raw.get("is_demo")), "boundary": boundary, "boundary_approximate": approximate,
            "relocation_target": int(target) if target else None, "row": n}


def _link_errors(divisions: list[dict], aliases: list[dict], codes: set[str]) -> list[str]:
    """Rows that point at a parent, or an alias at a division, that neither the file nor the registry holds."""
    errors = []
    for d in divisions:
        if d["parent_code"] is not None and d["parent_code"] not in codes:
            errors.append(f"row {d['row']}: parent {d['parent_code']} of {d['code']} does not exist "
                          "(neither in the file nor in the registry)")
        elif d["level"] in ("township", "village") and not d["code"].startswith(d["parent_code"] or "-"):
            errors.append(f"row {d['row']}: the {d['level']} code {d['code']} does not begin with the code of "
                          f"its parent {d['parent_code'] or '(none given)'}")
    for a in aliases:
        if a["code"] is None or a["code"] not in codes:
            errors.append(f"row {a['row']}: former {a['former_code']} names {a['code']!r} as what it became, "
                          "which does not exist")
    return errors


def check_rows(rows: list[dict], known: Collection[str]) -> tuple[list[dict], list[dict]]:
    """Check a divisions file's rows (dicts with code, name, level, parent, seat_lon, seat_lat, valid_from,
    valid_to, boundary, boundary_approximate, row); returns (divisions, aliases) or raises InvalidInput naming
    every bad row."""
    errors: list[str] = []
    divisions, aliases = [], []
    in_file: dict[str, str] = {}
    for raw in rows:
        try:
            record = _check_row(raw, in_file)
        except InvalidInput as exc:
            errors.append(exc.args[0])
            continue
        if "former_code" in record:
            aliases.append(record)
            continue
        in_file[record["code"]] = record["row"]
        divisions.append(record)
    errors += _link_errors(divisions, aliases, set(in_file) | set(known))
    if errors:
        raise InvalidInput("the divisions file was refused, nothing was loaded:\n" + "\n".join(errors),
                           field="file")
    return divisions, aliases

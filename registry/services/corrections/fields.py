"""What a visitor may propose to correct, per kind of record, and how each proposed value is checked.

Names are left out: a martyr's or a facility's name of record changes only by an approved renaming with
its approval number (services/facilities.rename_facility). A martyr's tomb position is proposed from the
martyr's page and changes the tomb's own position (the martyr's first live tomb, as the page shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

from geodata.checks import GeometryError, check_lonlat
from registry.models import Facility, Martyr, Tomb
from registry.services import divisions
from registry.services.base import InvalidInput, optional_date


@dataclass(frozen=True)
class Field:
    """One correctable field: its column, its labels, and its kind (text, date or position) and text limit."""

    column: str
    zh: str
    en: str
    kind: str = "text"
    max_len: int = 200
    part: str = "facts"  # which provenance part an accepted change stamps


FIELDS: dict[str, dict[str, Field]] = {
    "facility": {
        "position": Field("geom", "位置", "Position", kind="position", part="position"),
        "address": Field("address", "地址", "Address", max_len=200),
        "visiting_info": Field("visiting_info", "参观信息", "Visiting information", max_len=500),
        "description": Field("description", "简介", "Description", max_len=2000),
    },
    "martyr": {
        "tomb_position": Field("geom", "墓位位置", "Tomb position", kind="position", part="position"),
        "birth_date": Field("birth_date", "出生日期", "Date of birth", kind="date"),
        "death_date": Field("death_date", "牺牲日期", "Date of death", kind="date"),
        "native_place": Field("native_place", "籍贯", "Native place", max_len=100),
        "unit": Field("unit", "生前单位", "Unit", max_len=100),
        "place_of_death": Field("place_of_death", "牺牲地点", "Place of death", max_len=100),
        "deeds": Field("deeds", "事迹", "Deeds", max_len=2000),
    },
}
TARGET_MODELS = {"facility": Facility, "martyr": Martyr}


def field_of(target_type: str, name: str) -> Field:
    if target_type not in FIELDS:
        raise InvalidInput(f"target_type {target_type!r} is not one of {', '.join(FIELDS)}", field="target_type")
    if name not in FIELDS[target_type]:
        raise InvalidInput(f"field {name!r} is not a field a visitor may correct on a {target_type}; one of "
                           f"{', '.join(FIELDS[target_type])}", field="field")
    return FIELDS[target_type][name]


def tomb_of(session, martyr: Martyr) -> Tomb | None:
    """The martyr's first live tomb: the one the public page shows first."""
    tombs = sorted((t for t in martyr.tombs if t.status != "retired"), key=lambda t: t.id)
    return tombs[0] if tombs else None


def holder(session, target, field: Field):
    """The row a field lives on: the record itself, or a martyr's tomb for its position (None: no tomb)."""
    if isinstance(target, Martyr) and field.kind == "position":
        return tomb_of(session, target)
    return target


def shown(row, field: Field) -> str | None:
    """The field's current value as text (a position as 'lon, lat' to six places)."""
    if row is None:
        return None
    value = getattr(row, field.column)
    if value is None:
        return None
    if field.kind == "position":
        return f"{value.x:.6f}, {value.y:.6f}"
    return value.isoformat() if field.kind == "date" else str(value)


def check_text(field_name: str, field: Field, raw) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(f"value is empty: give the proposed {field.en.lower()}", field="value")
    if field.kind == "date":
        return optional_date(text, "value", strip=True).isoformat()
    if len(text) > field.max_len:
        raise InvalidInput(f"value is {len(text)} characters; {field_name} takes at most {field.max_len}",
                           field="value")
    return text


def check_position(session, lon, lat, county_code: str | None) -> tuple[float, float]:
    """A proposed WGS 84 point inside the record's county (by its boundary), else inside the registry's extent.

    Where the registry holds county boundaries the point must fall in the record's own county; where it
    holds only county seats, within the extent of the seats widened by 0.2 degrees (about 20 km).
    """
    if lon in (None, "") or lat in (None, ""):
        raise InvalidInput("position needs both a longitude and a latitude (pick a point on the map)",
                           field="position")
    try:
        lon, lat = check_lonlat(float(lon), float(lat), field="position")
    except (GeometryError, ValueError) as exc:
        raise InvalidInput(f"position {lon!r}, {lat!r} is not a WGS 84 point: {exc}", field="position") from None
    known = divisions.current(session)
    if any(d.boundary is not None for d in known.current("county")):
        found = known.locate(lon, lat)
        if found is None or (county_code and found != county_code):
            where = known.label(county_code) if county_code else "the registry's counties"
            raise InvalidInput(f"position {lon:.6f}, {lat:.6f} is outside {where}", field="position")
        return lon, lat
    extent = known.extent()
    if extent is not None:
        x0, y0, x1, y1 = extent
        if not (x0 - 0.2 <= lon <= x1 + 0.2 and y0 - 0.2 <= lat <= y1 + 0.2):
            raise InvalidInput(f"position {lon:.6f}, {lat:.6f} is outside the registry's region", field="position")
    return lon, lat

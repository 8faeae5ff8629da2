"""The query parameters of the OGC endpoints: names, CRS, bbox, datetime, limit and offset, checked into an ItemsQuery.

The web layer parses nothing but the URL: every query parameter is checked here and a bad one
becomes an InvalidInput naming the parameter, which the OGC blueprint turns into an exception
document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

import pyproj

from registry.services.base import InvalidInput
from registry.services.gis.ogc.collections import Collection, county_columns, queryables
from registry.services.gis.ogc.cql2_sql import filter_clause
from registry.services.gis.ogc.kinds import as_datetime, parameter_value
from registry.spatial.base import check_box

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
# Offered CRSs: URI -> (EPSG code, whether the CRS's axis order is latitude first).
# CGCS2000 (4490) equals WGS 84 at metre level, so it is served by relabelling, not transforming.
CRS = {
    CRS84: (4326, False),
    EPSG.format(4326): (4326, True),
    EPSG.format(4490): (4490, True),
    EPSG.format(3857): (3857, False),
}
TO_3857 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
_FROM_3857 = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)

# Query parameters every items request may carry; queryable names are allowed on top (equality filters).
ITEMS_PARAMS = {"f", "city", "bbox", "bbox-crs", "datetime", "limit", "offset", "crs", "filter", "filter-lang",
                "filter-crs", "lang"}
ITEM_PARAMS = {"f", "crs", "lang"}


def _single(args: dict, name: str) -> str | None:
    values = args.get(name)
    if values is None:
        return None
    if isinstance(values, (list, tuple)):
        if len(values) > 1:
            raise InvalidInput(f"parameter {name} is given {len(values)} times; give it once", field=name)
        return values[0]
    return values


def check_params(args: dict, allowed: set[str]) -> None:
    """Refuse any query parameter the endpoint does not know (OGC: 400 for unknown parameters)."""
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes: "
                           f"{', '.join(sorted(allowed))}", field=unknown[0])


def parse_crs(value: str | None, name: str = "crs") -> str:
    """The CRS URI asked for (CRS84 when absent), or InvalidInput listing those offered."""
    if value is None or value == "":
        return CRS84
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):  # a safe CURIE such as [EPSG:4326]
        value = value[1:-1]
    if value.upper().startswith("EPSG:"):
        value = EPSG.format(value[5:])
    elif value.upper() in ("CRS84", "OGC:CRS84"):
        value = CRS84
    if value not in CRS:
        raise InvalidInput(f"{name} {value!r} is not offered; use one of {', '.join(CRS)}", field=name)
    return value


# Past any collection's end, and within what JSON numbers and the stores' 64-bit integers hold exactly.
MAX_OFFSET = 2**53


def _whole_number(value, name: str, low: int, high: int, default: int) -> int:
    """``value`` as a whole number within low..high (``default`` when absent), or InvalidInput naming ``name``."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} {value!r} is not a whole number", field=name) from None
    if not low <= number <= high:
        raise InvalidInput(f"{name} {number} is outside {low}..{high}", field=name)
    return number


def parse_limit(value) -> int:
    """The page size asked for (``limit``), DEFAULT_LIMIT when absent."""
    return _whole_number(value, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT)


def parse_offset(value) -> int:
    """The features to skip (``offset``), 0 when absent."""
    return _whole_number(value, "offset", 0, MAX_OFFSET, 0)


def parse_bbox(value: str, bbox_crs: str) -> tuple[float, float, float, float]:
    """A lon/lat box from the bbox parameter (4 or 6 numbers) in ``bbox_crs``'s axis order."""
    parts = value.split(",")
    if len(parts) not in (4, 6):
        raise InvalidInput(f"bbox has {len(parts)} numbers; give 4 (minx,miny,maxx,maxy) or 6 (with heights)",
                           field="bbox")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"bbox {value!r} holds something that is not a number", field="bbox") from None
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(f"bbox {value!r} holds a number that is not finite", field="bbox")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    code, lat_first = CRS[bbox_crs]
    a, b, c, d = numbers
    if lat_first:
        a, b, c, d = b, a, d, c
    if code == 3857:
        if a > c or b > d:
            raise InvalidInput(f"bbox {value!r} is inverted (min greater than max)", field="bbox")
        xs, ys = _FROM_3857.transform([a, c, a, c], [b, b, d, d])
        a, b, c, d = min(xs), min(ys), max(xs), max(ys)
    try:
        return check_box(a, b, c, d)
    except ValueError as exc:
        raise InvalidInput(f"bbox: {exc}", field="bbox") from None


def _parse_instant(text_value: str, name: str = "datetime"):
    text_value = text_value.strip()
    try:
        if len(text_value) == 10:
            return date.fromisoformat(text_value)
        moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} {text_value!r} is not an RFC 3339 date or date-time", field=name) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{name} {text_value!r} has no time zone (end it with Z)", field=name)
    return moment


def parse_datetime(value: str):
    """(start, end) from an instant or an interval (``a/b``, ``../b``, ``a/..``); None for an open end."""
    if "/" in value:
        parts = value.split("/")
        if len(parts) != 2:
            raise InvalidInput(f"datetime {value!r} is not an instant or an interval a/b", field="datetime")
        start = None if parts[0] in ("", "..") else _parse_instant(parts[0])
        end = None if parts[1] in ("", "..") else _parse_instant(parts[1])
        if start is None and end is None:
            raise InvalidInput("datetime '../..' has no bound at all", field="datetime")
        if start is not None and end is not None and as_datetime(start) > as_datetime(end, True):
            raise InvalidInput(f"datetime {value!r}: the start is after the end", field="datetime")
        return start, end, False
    instant = _parse_instant(value)
    return instant, instant, True



@dataclass
class ItemsQuery:
    """A checked items request."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    crs: str = CRS84
    bbox: tuple | None = None
    bbox_crs: str = CRS84
    datetime: tuple | None = None
    filter: str | None = None
    equals: dict = field(default_factory=dict)
    unlimited: bool = False
    filter_limits: tuple[int, int] | None = None
    city: str | None = None  # a city's code: its counties' rows only (checked against the divisions when read)


def parse_items_query(collection: Collection, args: dict, *, unlimited: bool = False,
                      filter_limits: tuple[int, int] | None = None) -> ItemsQuery:
    """Check an items request's parameters: unknown names, bbox, datetime, limit, crs, filter.

    ``filter_limits`` is the filter's (nesting depth, number of conditions); None takes ``geodata.cql2``'s defaults.
    """
    props = queryables(collection)
    check_params(args, ITEMS_PARAMS | set(props))
    query = ItemsQuery(unlimited=unlimited, filter_limits=filter_limits)
    limit = _single(args, "limit")
    query.limit = parse_limit(limit)
    if unlimited and limit in (None, ""):
        query.limit = None
    query.offset = parse_offset(_single(args, "offset"))
    query.crs = parse_crs(_single(args, "crs"))
    query.bbox_crs = parse_crs(_single(args, "bbox-crs"), "bbox-crs")
    bbox = _single(args, "bbox")
    if bbox is not None:
        if not collection.has_geometry:
            raise InvalidInput(f"collection {collection.id!r} has no geometry, so bbox does not apply", field="bbox")
        query.bbox = parse_bbox(bbox, query.bbox_crs)
    moment = _single(args, "datetime")
    if moment is not None:
        if collection.temporal is None:
            raise InvalidInput(f"collection {collection.id!r} has no time property, so datetime does not apply",
                               field="datetime")
        query.datetime = parse_datetime(moment)
    city = _single(args, "city")
    if city not in (None, "", "all"):
        if not county_columns(collection):
            raise InvalidInput(f"collection {collection.id!r} has no county, so city does not apply", field="city")
        query.city = city
    lang = _single(args, "filter-lang")
    if lang not in (None, "cql2-text"):
        raise InvalidInput(f"filter-lang {lang!r} is not supported; use cql2-text", field="filter-lang")
    filter_crs = _single(args, "filter-crs")
    if filter_crs is not None and parse_crs(filter_crs, "filter-crs") != CRS84:
        raise InvalidInput("filter-crs: only CRS84 is supported for filters", field="filter-crs")
    query.filter = _single(args, "filter")
    if query.filter is not None:
        filter_clause(collection, query.filter, filter_limits)  # checked now: a bad filter fails before any read
    for name in set(args) & set(props):
        raw = _single(args, name)
        query.equals[name] = parameter_value(raw, props[name][1], name)
    fmt = _single(args, "f")
    if fmt is not None and fmt not in ("json", "geojson", "html", "gpkg", "shp", "kml", "csv", "xlsx"):
        raise InvalidInput(f"f {fmt!r} is not a format of this endpoint", field="f")
    return query

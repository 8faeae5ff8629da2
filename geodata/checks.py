"""Input checks for coordinates and geometries that say exactly what is wrong."""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from decimal import Decimal

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geodata.crs import area_m2

__all__ = [
    "CHINA_BOUNDS",
    "GeometryError",
    "check_linestring",
    "check_lonlat",
    "check_polygon",
    "parse_dms",
]

#: Rough bounding box of China as (west, south, east, north) in degrees.
#: It is only a plausibility filter: it takes in parts of neighbouring
#: countries (Mongolia, the Korean peninsula, northern Vietnam and others) and
#: leaves out the South China Sea islands south of 18.1N. For a registry of
#: sites in mainland China that trade-off is fine: it catches the real mistakes
#: (swapped axes, projected metres, a missing minus sign, zeros).
CHINA_BOUNDS = (73.5, 18.1, 135.1, 53.6)


class GeometryError(ValueError):
    """A coordinate or geometry that failed a check, with where and why.

    Parameters
    ----------
    reason : str
        What is wrong, in words a data-entry clerk can act on.
    field : str, optional
        Name of the form field or attribute that held the bad value.
    location : tuple of float, optional
        ``(lon, lat)`` of the fault, when there is one.

    Examples
    --------
    >>> err = GeometryError("the outline crosses itself", "boundary", (117.0, 25.0))
    >>> str(err)
    'boundary: the outline crosses itself (at lon 117.000000, lat 25.000000)'
    """

    def __init__(self, reason, field=None, location=None):
        # Passing everything to ValueError keeps the error picklable, which
        # matters when checks run in worker processes.
        super().__init__(reason, field, location)
        self.reason = reason
        self.field = field
        self.location = location

    def __str__(self):
        text = f"{self.field}: {self.reason}" if self.field else self.reason
        if self.location is not None:
            lon, lat = self.location
            text += f" (at lon {lon:.6f}, lat {lat:.6f})"
        return text


# --- numbers ----------------------------------------------------------------

# Characters NFKC leaves alone but people type for a minus sign.
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})
# Degree look-alikes that NFKC would turn into letters or combining marks.
_DEGREE_LOOKALIKES = str.maketrans({"\u00ba": "°", "\u02da": "°", "\u2218": "°"})


def _normalise_text(text: str) -> str:
    """Fold full-width digits, signs and punctuation into plain ASCII forms."""
    text = text.translate(_DEGREE_LOOKALIKES)
    return unicodedata.normalize("NFKC", text).translate(_MINUS_SIGNS).strip()


_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _to_float(value, name: str, field: str | None):
    """Read one coordinate; return (float, axis_hint) where axis_hint comes from DMS labels."""
    if value is None:
        raise GeometryError(f"{name} is missing (got None)", field)
    if isinstance(value, bool):
        # bool is an int subclass, but True as a coordinate is always a bug.
        raise GeometryError(f"{name} {value!r} is a bool, not a number", field)
    hint = None
    if isinstance(value, (numbers.Real, Decimal)):
        number = float(value)
    elif isinstance(value, str):
        text = _normalise_text(value)
        if _PLAIN_NUMBER.fullmatch(text):
            number = float(text)
        else:
            try:
                number, hint = _parse_dms(value)
            except ValueError:
                raise GeometryError(f"{name} {value!r} is not a number (nor degrees-minutes-seconds)", field) from None
    else:
        raise GeometryError(f"{name} {value!r} is a {type(value).__name__}, not a number", field)
    if not math.isfinite(number):
        raise GeometryError(f"{name} {value!r} is not a finite number", field)
    return number, hint


def _in_china(lon, lat) -> bool:
    west, south, east, north = CHINA_BOUNDS
    return west <= lon <= east and south <= lat <= north


def check_lonlat(lon, lat, field="position"):
    """Check and normalise one longitude/latitude pair for a site in China.

    Accepts numbers, numeric strings (full-width digits such as ``"１１６.５"``
    are folded to ASCII) and degrees-minutes-seconds text understood by
    :func:`parse_dms`. Refuses None, NaN, infinities, non-numeric text and
    out-of-range values; spots swapped axes; refuses points outside the rough
    :data:`CHINA_BOUNDS` box.

    Parameters
    ----------
    lon, lat : float, str or Decimal
        Longitude and latitude in degrees.
    field : str, default "position"
        Name of the input, used in error messages.

    Returns
    -------
    tuple of float
        ``(lon, lat)``.

    Raises
    ------
    GeometryError
        Naming the problem: ``"... is missing"``, ``"... is not a number"``,
        ``"... is not a finite number"``, ``"... is outside -90..90"``,
        ``"longitude and latitude appear to be swapped"`` or
        ``"... is outside China"``.

    Examples
    --------
    >>> check_lonlat("１１６.５", 25.1)
    (116.5, 25.1)
    >>> check_lonlat(25.1, 116.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geodata.checks.GeometryError: position: longitude and latitude appear to be swapped...
    """
    x, x_hint = _to_float(lon, "longitude", field)
    y, y_hint = _to_float(lat, "latitude", field)
    if x_hint == "lat" and y_hint == "lon":
        raise GeometryError(
            f"longitude and latitude appear to be swapped: longitude {lon!r} is marked N/S "
            f"and latitude {lat!r} is marked E/W",
            field,
        )
    if x_hint == "lat":
        raise GeometryError(f"longitude {lon!r} is marked N/S, which belongs to a latitude", field)
    if y_hint == "lon":
        raise GeometryError(f"latitude {lat!r} is marked E/W, which belongs to a longitude", field)
    swapped_fits = -90.0 <= x <= 90.0 and -180.0 <= y <= 180.0
    if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        if swapped_fits:
            raise GeometryError(
                f"longitude and latitude appear to be swapped: latitude {y} is outside -90..90 "
                f"but would be a valid longitude (longitude {x})",
                field,
            )
        if not -180.0 <= x <= 180.0:
            raise GeometryError(f"longitude {x} is outside -180..180", field)
        raise GeometryError(f"latitude {y} is outside -90..90", field)
    if not _in_china(x, y):
        if _in_china(y, x):
            raise GeometryError(
                f"longitude and latitude appear to be swapped: ({x}, {y}) is outside China but ({y}, {x}) is inside",
                field,
                (x, y),
            )
        raise GeometryError(
            f"longitude {x}, latitude {y} is outside China "
            f"(rough box lon {CHINA_BOUNDS[0]}..{CHINA_BOUNDS[2]}, "
            f"lat {CHINA_BOUNDS[1]}..{CHINA_BOUNDS[3]})",
            field,
            (x, y),
        )
    return x, y


# --- degrees, minutes, seconds ----------------------------------------------

# Longer labels first so that "东经" wins over "东".
_HEMISPHERES = (
    ("东经", "lon", 1.0),
    ("西经", "lon", -1.0),
    ("北纬", "lat", 1.0),
    ("南纬", "lat", -1.0),
    ("东", "lon", 1.0),
    ("西", "lon", -1.0),
    ("北", "lat", 1.0),
    ("南", "lat", -1.0),
    ("E", "lon", 1.0),
    ("W", "lon", -1.0),
    ("N", "lat", 1.0),
    ("S", "lat", -1.0),
)

# One number, optionally followed by its unit. NFKC has already turned the
# double prime into two primes and full-width quotes into ASCII ones.
_DMS_PART = re.compile(r"\s*(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>°|度|''|′′|'|′|分|\"|″|秒)?\s*")
_UNIT_RANK = {
    "°": 0,
    "度": 0,
    "'": 1,
    "′": 1,
    "分": 1,
    "''": 2,
    "′′": 2,
    '"': 2,
    "″": 2,
    "秒": 2,
}
_UNIT_NAMES = ("degrees", "minutes", "seconds")


def _strip_hemisphere(text: str):
    """Remove one hemisphere label from either end; return (rest, axis, sign)."""
    found = []
    for label, axis, sign in _HEMISPHERES:
        if text.upper().startswith(label):
            found.append((text[len(label) :].strip(), axis, sign))
            break
    for label, axis, sign in _HEMISPHERES:
        rest = found[0][0] if found else text
        if rest.upper().endswith(label):
            found.append((rest[: -len(label)].strip(), axis, sign))
            break
    if len(found) > 1:
        raise ValueError("more than one hemisphere label")
    if found:
        return found[0]
    return text, None, 1.0


def _parse_dms(text):
    """Parse DMS text; return (decimal degrees, axis) where axis is 'lon', 'lat' or None."""
    if not isinstance(text, str):
        raise ValueError(f"text {text!r} is a {type(text).__name__}, not a string")
    clean = _normalise_text(text)
    try:
        body, axis, sign = _strip_hemisphere(clean)
    except ValueError:
        raise ValueError(f"text {text!r} has more than one hemisphere label") from None
    if body and body[0] in "+-":
        if axis is not None:
            raise ValueError(f"text {text!r} has both a sign and a hemisphere label; use one of them")
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:].lstrip()
    if not body:
        raise ValueError(f"text {text!r} has no number in it")

    values = [None, None, None]
    rank = -1
    position = 0
    while position < len(body):
        match = _DMS_PART.match(body, position)
        if match is None or match.end() == position:
            raise ValueError(f"text {text!r} is not degrees-minutes-seconds: cannot read {body[position:]!r}")
        unit = match.group("unit")
        next_rank = _UNIT_RANK[unit] if unit else rank + 1
        if next_rank <= rank or next_rank > 2:
            raise ValueError(f"text {text!r} is not degrees-minutes-seconds: {match.group('num')!r} is out of order")
        if any(v is not None and "." in v for v in values):
            raise ValueError(f"text {text!r}: only the last of degrees, minutes, seconds may have decimals")
        values[next_rank] = match.group("num")
        rank = next_rank
        position = match.end()

    degrees, minutes, seconds = (float(v) if v is not None else 0.0 for v in values)
    for amount, name in ((minutes, "minutes"), (seconds, "seconds")):
        if amount >= 60.0:
            raise ValueError(f"text {text!r} has {name} {amount:g}, which must be below 60")
    value = degrees + minutes / 60.0 + seconds / 3600.0
    limit = 90.0 if axis == "lat" else 180.0
    if value > limit:
        raise ValueError(f"text {text!r} is {value:g} degrees, more than {limit:g}")
    return sign * value, axis


def parse_dms(text):
    """Read degrees-minutes-seconds (or plain decimal degrees) text as decimal degrees.

    Understands ``116°49′12″``, ``116°49'12"``, ``116 49 12``,
    ``116度49分12秒``, decimal minutes or seconds on the last part
    (``116°49.2′``), full-width digits and punctuation, an optional sign, and a
    hemisphere label before or after the number: ``E``/``W``/``N``/``S`` or
    ``东经``/``西经``/``北纬``/``南纬`` (``W`` and ``S`` give negative values).

    Parameters
    ----------
    text : str
        The angle as typed.

    Returns
    -------
    float
        Decimal degrees.

    Raises
    ------
    ValueError
        Naming the text: unreadable parts, minutes or seconds of 60 or more,
        parts out of order, both a sign and a hemisphere label.

    Examples
    --------
    >>> parse_dms("东经116°49′12″")
    116.82
    >>> parse_dms("25 06 00 S")
    -25.1
    """
    return _parse_dms(text)[0]


# --- geometries -------------------------------------------------------------

# shapely/GEOS validity reasons in plain words; the raw reason is kept too.
_VALIDITY_HINTS = {
    "Self-intersection": "the outline crosses itself",
    "Ring Self-intersection": "a ring touches itself at a point",
    "Hole lies outside shell": "a hole lies outside its outer ring",
    "Holes are nested": "a hole lies inside another hole",
    "Interior is disconnected": "holes cut the polygon into separate pieces",
    "Nested shells": "one polygon lies inside another",
    "Duplicate Rings": "the same ring appears twice",
    "Too few points in geometry component": "a part has too few distinct points",
    "Invalid Coordinate": "a coordinate is not a number",
    "Ring is not closed": "a ring does not end where it starts",
}
_REASON_LOCATION = re.compile(r"^(?P<text>.*?)\s*\[\s*(?P<x>\S+)\s+(?P<y>\S+)\s*\]\s*$")


def _validity(geom):
    """Return (plain-language reason, location or None) for an invalid geometry."""
    raw = shapely.is_valid_reason(geom)
    location = None
    text = raw
    match = _REASON_LOCATION.match(raw)
    if match:
        text = match.group("text")
        try:
            x, y = float(match.group("x")), float(match.group("y"))
        except ValueError:
            pass
        else:
            if math.isfinite(x) and math.isfinite(y):
                location = (x, y)
    hint = _VALIDITY_HINTS.get(text)
    reason = f"{hint} (shapely: {text})" if hint else text
    return reason, location


def _check_coordinates(geom, field, kind):
    """Refuse non-finite, projected-looking, swapped or non-Chinese coordinates."""
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise GeometryError(f"{kind} has a coordinate that is NaN or infinite", field)
    xs, ys = coords[:, 0], coords[:, 1]
    west, south, east, north = CHINA_BOUNDS
    # Swapped axes are only blamed when every vertex would land in China once
    # swapped; otherwise the likelier story is metres or a genuinely wrong place.
    swapped_in_china = ((ys >= west) & (ys <= east) & (xs >= south) & (xs <= north)).all()
    out_of_range = (np.abs(xs) > 180.0) | (np.abs(ys) > 90.0)
    if out_of_range.any():
        x, y = coords[np.argmax(out_of_range)]
        if swapped_in_china:
            raise GeometryError(
                f"{kind} has longitude and latitude that appear to be swapped: first bad "
                f"coordinate is ({x:.10g}, {y:.10g}); expected (lon, lat)",
                field,
            )
        raise GeometryError(
            f"{kind} coordinates look projected (metres), not lon/lat degrees: "
            f"({x:.10g}, {y:.10g}) is outside -180..180 / -90..90; convert to EPSG:4326 first",
            field,
        )
    in_china = (xs >= west) & (xs <= east) & (ys >= south) & (ys <= north)
    if not in_china.all():
        x, y = coords[np.argmin(in_china)]
        if swapped_in_china:
            raise GeometryError(
                f"{kind} has longitude and latitude that appear to be swapped", field, (float(x), float(y))
            )
        raise GeometryError(
            f"{kind} has a vertex outside China (rough box lon {west}..{east}, lat {south}..{north})",
            field,
            (float(x), float(y)),
        )


def _require_type(geom, allowed, field, wanted):
    if not isinstance(geom, BaseGeometry):
        raise GeometryError(f"expected a {wanted}, got a {type(geom).__name__}", field)
    if not isinstance(geom, allowed):
        raise GeometryError(f"expected a {wanted}, got a {geom.geom_type}", field)
    if geom.is_empty:
        raise GeometryError(f"{geom.geom_type} is empty", field)


def _flatten(geom):
    """Yield the non-collection parts of a geometry, however deeply nested."""
    for part in shapely.get_parts(geom):
        if isinstance(part, shapely.GeometryCollection) or part.geom_type.startswith("Multi"):
            yield from _flatten(part)
        else:
            yield part


def _as_multipolygon(geom) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    return MultiPolygon([geom])


def _as_multipolygon_parts(geom) -> MultiPolygon:
    return MultiPolygon([p for p in _flatten(geom) if isinstance(p, Polygon) and not p.is_empty])


def check_polygon(geom, field="geometry", repair=False):
    """Check a lon/lat area outline; optionally repair an invalid one.

    Refuses anything but a shapely Polygon or MultiPolygon, empty geometries,
    coordinates that are NaN, projected (metres), swapped, or outside the rough
    :data:`CHINA_BOUNDS` box. An invalid polygon (self-intersection, hole
    outside the shell, ...) is refused with shapely's reason and the location
    of the fault, unless ``repair`` is true, in which case ``shapely.make_valid``
    fixes it and only the parts with area are kept.

    Parameters
    ----------
    geom : shapely.Polygon or shapely.MultiPolygon
        Outline in longitude/latitude degrees.
    field : str, default "geometry"
        Name of the input, used in error messages.
    repair : bool, default False
        Repair invalid outlines instead of refusing them.

    Returns
    -------
    tuple
        ``(multipolygon, note)``: the geometry as a MultiPolygon, and None or,
        after a repair, a sentence saying what was wrong and what was done.

    Raises
    ------
    GeometryError
        With ``field``, ``reason`` and, where known, ``location``.

    Examples
    --------
    >>> from shapely import Polygon
    >>> bowtie = Polygon([(117.0, 25.0), (117.1, 25.1), (117.1, 25.0), (117.0, 25.1)])
    >>> check_polygon(bowtie)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geodata.checks.GeometryError: geometry: polygon is not valid: the outline crosses itself ...
    >>> fixed, note = check_polygon(bowtie, repair=True)
    >>> len(fixed.geoms), fixed.is_valid
    (2, True)
    """
    _require_type(geom, (Polygon, MultiPolygon), field, "Polygon or MultiPolygon")
    _check_coordinates(geom, field, "polygon")
    if geom.is_valid:
        return _as_multipolygon(geom), None
    reason, location = _validity(geom)
    if not repair:
        raise GeometryError(f"polygon is not valid: {reason}", field, location)

    fixed = shapely.make_valid(geom)
    polygons = []
    dropped = 0
    for part in _flatten(fixed):
        if isinstance(part, Polygon) and not part.is_empty:
            polygons.append(part)
        else:
            dropped += 1
    if not polygons:
        raise GeometryError(
            f"polygon is not valid: {reason}; it cannot be repaired because nothing "
            "with area is left after shapely.make_valid",
            field,
            location,
        )
    result = MultiPolygon(polygons)
    if not result.is_valid:
        # Polygons from a mixed collection may share edges; merging them is safe.
        result = _as_multipolygon_parts(shapely.union_all(polygons))
    where = f" at lon {location[0]:.6f}, lat {location[1]:.6f}" if location else ""
    note = (
        f"{field} was repaired: it was not valid, {reason}{where}; shapely.make_valid "
        f"rebuilt it as {len(result.geoms)} polygon(s) covering about "
        f"{area_m2(result):,.0f} m2"
    )
    if dropped:
        note += f" and {dropped} part(s) with no area (lines or points) were dropped"
    return result, note


def _self_contacts(lines: MultiLineString):
    """(lon, lat) points where a line meets itself other than where it should.

    Every segment is tested against the others through an STRtree. Contacts
    that are part of a line's normal shape are ignored: consecutive segments
    sharing their vertex, a closed line's first and last segments meeting at
    its start, and different parts meeting at their end points. Whatever is
    left (crossings, touches, overlaps) is where the line is not simple.
    """
    segments = []
    owners = []
    for part_index, part in enumerate(lines.geoms):
        coords = shapely.get_coordinates(part)
        count = len(coords) - 1
        closed = count > 1 and bool(np.array_equal(coords[0], coords[-1]))
        ends = (tuple(coords[0]), tuple(coords[-1]))
        for i in range(count):
            segments.append(LineString(coords[i : i + 2]))
            owners.append((part_index, i, count, closed, ends))
    tree = shapely.STRtree(segments)
    left, right = tree.query(segments, predicate="intersects")
    found = []
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        contact = segments[a].intersection(segments[b])
        part_a, i, count, closed, ends_a = owners[a]
        part_b, j, _, _, ends_b = owners[b]
        if contact.geom_type == "Point":
            point = (contact.x, contact.y)
            if part_a == part_b:
                if j - i == 1 and point == tuple(segments[b].coords[0]):
                    continue
                if closed and i == 0 and j == count - 1 and point == ends_a[0]:
                    continue
            elif point in ends_a and point in ends_b:
                continue
        first = shapely.get_coordinates(contact)[0]
        location = (float(first[0]), float(first[1]))
        if location not in found:
            found.append(location)
    return found


def check_linestring(geom, field="geometry", repair=False):
    """Check a lon/lat line (such as a road outline); optionally repair it.

    Refuses anything but a shapely LineString or MultiLineString, empty
    geometries, implausible coordinates (as :func:`check_polygon`), invalid
    lines (fewer than two distinct points) and lines that are not simple
    (they cross or touch themselves, reported with the location). With
    ``repair`` true, degenerate parts are dropped and a self-crossing line is
    split at its crossings into simple pieces that meet only at their ends.

    Parameters
    ----------
    geom : shapely.LineString or shapely.MultiLineString
        Line in longitude/latitude degrees.
    field : str, default "geometry"
        Name of the input, used in error messages.
    repair : bool, default False
        Repair instead of refusing.

    Returns
    -------
    tuple
        ``(multilinestring, note)``: the geometry as a MultiLineString, and None
        or, after a repair, a sentence saying what was done.

    Raises
    ------
    GeometryError
        With ``field``, ``reason`` and, where known, ``location``.

    Examples
    --------
    >>> from shapely import LineString
    >>> road = LineString([(117.0, 25.0), (117.01, 25.01), (117.02, 25.0)])
    >>> lines, note = check_linestring(road)
    >>> lines.geom_type, note
    ('MultiLineString', None)
    """
    _require_type(geom, (LineString, MultiLineString), field, "LineString or MultiLineString")
    _check_coordinates(geom, field, "line")
    notes = []
    parts = [LineString(p.coords) for p in _flatten(geom)]
    # An invalid line part is one with fewer than two distinct points.
    good = [p for p in parts if p.is_valid]
    if len(good) < len(parts):
        first_bad = next(p for p in parts if not p.is_valid)
        reason, location = _validity(first_bad)
        if not repair:
            raise GeometryError(f"line is not valid: {reason}", field, location)
        if not good:
            raise GeometryError(
                f"line is not valid: {reason}; it cannot be repaired because no part has length",
                field,
                location,
            )
        notes.append(f"dropped {len(parts) - len(good)} part(s) with zero length")
        parts = good
    lines = MultiLineString(parts)
    if not lines.is_simple:
        crossings = _self_contacts(lines)
        location = crossings[0] if crossings else None
        if not repair:
            count = f" at {len(crossings)} point(s)" if len(crossings) > 1 else ""
            raise GeometryError(f"line crosses or touches itself{count}", field, location)
        lines = MultiLineString(list(_flatten(shapely.node(lines))))
        where = f" at lon {location[0]:.6f}, lat {location[1]:.6f}" if location else ""
        notes.append(
            f"it crossed or touched itself{where}, so shapely.node split it there into {len(lines.geoms)} piece(s)"
        )
    if not notes:
        return lines, None
    return lines, f"{field} was repaired: " + "; ".join(notes)

"""Checks for outlines and lines: validity in plain words, lon/lat coordinates inside China, optional repair."""

from __future__ import annotations

import math
import re

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geodata.checks.errors import CHINA_BOUNDS, GeometryError
from geodata.crs import area_m2

__all__ = ["check_linestring", "check_polygon"]


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
    geodata.checks.errors.GeometryError: geometry: polygon is not valid: the outline crosses itself ...
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

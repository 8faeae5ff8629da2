"""Sketched county outlines for the demo: each county is the part of the plane nearer its seat than any other
seat (the seat's Voronoi cell), cut to a generous hull around its city's seats. They show roughly where a
county lies on a map without a base map; loaded with ``boundary_approximate``, so the map marks them 示意 and
no check ever judges a point by them. Pure: the seats come in as data (the places live in ``places``)."""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point
from shapely.ops import unary_union, voronoi_diagram

__all__ = ["MARGIN", "county_outlines"]

# Degrees (about 30 km) around a city's seats: the demo's records lie within 20 km of their county's seat.
MARGIN = 0.3


def county_outlines(seats: Sequence[tuple[str, str, float, float]]) -> dict[str, MultiPolygon]:
    """An approximate outline per county, from ``(code, city code, lon, lat)`` in WGS 84: its seat, and any
    other place known to lie in it (a county given twice or more is the union of its places' cells).

    The Voronoi cells of all the places together (so neighbouring cities' outlines do not overlap), each cut
    to the convex hull of its own city's places widened by ``MARGIN``; valid MULTIPOLYGONs in EPSG:4326.

    Example
    -------
    >>> cells = county_outlines([("990101", "990100", 116.0, 25.0), ("990102", "990100", 116.4, 25.0),
    ...                          ("990201", "990200", 117.5, 25.0)])
    >>> sorted(cells), {c.geom_type for c in cells.values()}
    (['990101', '990102', '990201'], {'MultiPolygon'})
    >>> cells["990101"].covers(Point(116.0, 25.0)), cells["990101"].covers(Point(116.4, 25.0))
    (True, False)
    >>> round(cells["990101"].bounds[0], 1), round(cells["990201"].area, 2)  # one seat alone: its circle
    (115.7, 0.28)
    """
    hulls = {city: MultiPoint([(lon, lat) for _c, other, lon, lat in seats if other == city])
             .convex_hull.buffer(MARGIN, quad_segs=16) for city in dict.fromkeys(s[1] for s in seats)}
    frame = unary_union(list(hulls.values())).envelope
    cells = list(voronoi_diagram(MultiPoint([(lon, lat) for _c, _city, lon, lat in seats]), envelope=frame).geoms)
    parts: dict[str, list] = {}
    for code, city, lon, lat in seats:
        seat = Point(lon, lat)
        cell = next((c for c in cells if c.covers(seat)), frame)  # one place alone has no cells
        parts.setdefault(code, []).append(cell.intersection(hulls[city]))  # neighbours share edges: no slivers
    return {code: MultiPolygon([p for p in shapely.get_parts(unary_union(shapes))
                                if p.geom_type == "Polygon" and not p.is_empty])
            for code, shapes in parts.items()}

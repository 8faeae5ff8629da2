"""GeoPackage blobs: round trips, envelopes and the trigger functions."""

from __future__ import annotations

import pytest
import shapely
from shapely import LineString, MultiPolygon, Point, Polygon, box

from geodata import gpkg


@pytest.mark.parametrize("geom", [
    Point(116.818, 25.225),
    LineString([(116.5, 25.1), (116.818, 25.225)]),
    MultiPolygon([box(116.81, 25.22, 116.82, 25.23)]),
    Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 2)]]),
])
def test_round_trip_and_envelope(geom):
    blob = gpkg.encode(geom)
    assert blob[:2] == b"GP" and blob[3] & 0x01  # little-endian header
    assert gpkg.decode(blob).equals(geom)
    minx, miny, maxx, maxy = geom.bounds
    assert gpkg.envelope(blob) == (minx, maxx, miny, maxy)
    assert gpkg.is_empty(blob) is False
    assert gpkg.SQL_FUNCTIONS["ST_MinX"](blob) == minx and gpkg.SQL_FUNCTIONS["ST_MaxY"](blob) == maxy


def test_points_carry_no_envelope_as_gdal_writes_them():
    blob = gpkg.encode(Point(1.5, 2.5))
    assert len(blob) == 8 + 21 and (blob[3] >> 1) & 0x07 == 0


@pytest.mark.parametrize("geom", [Point(), LineString(), MultiPolygon()])
def test_empty_geometries_are_flagged_and_have_no_bounds(geom):
    blob = gpkg.encode(geom)
    assert blob[3] & 0x10
    assert gpkg.is_empty(blob) is True
    assert gpkg.SQL_FUNCTIONS["ST_MinX"](blob) is None
    assert gpkg.SQL_FUNCTIONS["ST_IsEmpty"](blob) == 1


def test_an_empty_point_written_without_the_flag_is_still_empty():
    blob = bytearray(gpkg.encode(Point(0, 0)))
    blob[8:] = shapely.to_wkb(Point(), byte_order=1, flavor="iso")
    assert gpkg.is_empty(bytes(blob)) is True


def test_decode_many_and_point_xy_many():
    blobs = [gpkg.encode(Point(1, 2)), None, gpkg.encode(box(0, 0, 1, 1))]
    geoms = gpkg.decode_many(blobs)
    assert geoms[0].equals(Point(1, 2)) and geoms[1] is None and geoms[2].area == 1
    xs, ys = gpkg.point_xy_many(blobs)
    assert (xs[0], ys[0]) == (1.0, 2.0)
    assert all(x != x for x in xs[1:])  # NaN where the blob is not a plain point


def test_not_a_blob_is_refused_by_name():
    with pytest.raises(ValueError, match="not a GeoPackage geometry blob"):
        gpkg.decode(b"POINT(1 2)")

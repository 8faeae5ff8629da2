"""The embedded store's vector tile encoder: grid, thinning and encoding round trips."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from geodata import mvt


@pytest.mark.parametrize("z, x, y", [(0, 1, 0), (1, 2, 0), (3, 0, -1), (-1, 0, 0), (23, 0, 0), ("a", 0, 0)])
def test_check_tile_refuses_tiles_outside_the_grid(z, x, y):
    with pytest.raises(ValueError):
        mvt.check_tile(z, x, y)


def test_tile_bounds_cover_the_world_at_zoom_0():
    minx, miny, maxx, maxy = mvt.tile_bounds(0, 0, 0)
    assert minx == pytest.approx(-mvt.ORIGIN) and maxy == pytest.approx(mvt.ORIGIN)
    assert mvt.tile_bounds_lonlat(1, 0, 1) == pytest.approx((-180.0, -85.0511, 0.0, 0.0), abs=1e-3)


def test_encode_round_trip_keeps_chinese_attributes_and_positions():
    bounds = mvt.tile_bounds(1, 1, 0)
    centre = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    data = mvt.encode([{"name": "sites", "features": [
        {"id": 7, "geometry": Point(*centre), "properties": {"name": "古田会议会址", "none": None}}]}], bounds)
    layer = mapbox_vector_tile.decode(data)["sites"]
    feature = layer["features"][0]
    assert feature["id"] == 7
    assert feature["properties"] == {"name": "古田会议会址"}
    assert feature["geometry"]["coordinates"] == [2048, 2048]


def test_encode_clips_large_shapes_and_skips_empty_layers():
    bounds = mvt.tile_bounds(2, 1, 1)
    huge = box(-mvt.ORIGIN, -mvt.ORIGIN, mvt.ORIGIN, mvt.ORIGIN)
    data = mvt.encode([{"name": "zones", "features": [{"geometry": huge, "properties": {}}]},
                       {"name": "empty", "features": []}], bounds)
    decoded = mapbox_vector_tile.decode(data)
    assert set(decoded) == {"zones"}
    assert mvt.encode([{"name": "lines", "features": [
        {"geometry": LineString([(0, 0), (1, 1)]), "properties": {}}]}], mvt.tile_bounds(5, 0, 0)) == b""


def test_thin_points_keeps_one_per_cell_with_counts():
    bounds = mvt.tile_bounds(0, 0, 0)
    xs = np.array([1000.0, 1010.0, 1020.0, 1e7])
    ys = np.array([1000.0, 1010.0, 1020.0, 1e7])
    keep, counts = mvt.thin_points(xs, ys, bounds)
    assert keep.tolist() == [0, 3]
    assert counts.tolist() == [3, 1]
    empty_keep, empty_counts = mvt.thin_points([], [], bounds)
    assert empty_keep.size == 0 and empty_counts.size == 0


def test_to_mercator_projects_and_clamps():
    projected = mvt.to_mercator([Point(180.0, 89.9)])
    assert projected[0].x == pytest.approx(mvt.ORIGIN)
    assert projected[0].y == pytest.approx(mvt.ORIGIN, rel=1e-6)

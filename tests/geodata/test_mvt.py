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


def test_point_writer_decodes_like_the_general_encoder():
    bounds = mvt.tile_bounds(12, 3371, 1772)
    rng = np.random.default_rng(1)
    xs = rng.uniform(bounds[0], bounds[2], 50)
    ys = rng.uniform(bounds[1], bounds[3], 50)
    names = ["古田", "长汀", None, "上杭", "武平"] * 10
    counts = list(range(-25, 25))
    flags = [True, False] * 25
    areas = [i / 3 for i in range(50)]
    props = {"name": names, "n": counts, "flag": flags, "area": areas}
    fast = mapbox_vector_tile.decode(mvt.encode_points("tombs", range(1, 51), xs, ys, props, bounds))["tombs"]
    general = mapbox_vector_tile.decode(mvt.encode([{"name": "tombs", "features": [
        {"id": i + 1, "geometry": Point(x, y), "properties": {k: v[i] for k, v in props.items()}}
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))]}], bounds))["tombs"]
    assert fast["extent"] == general["extent"] == mvt.EXTENT
    assert [f["id"] for f in fast["features"]] == list(range(1, 51))
    assert [f["properties"] for f in fast["features"]] == [f["properties"] for f in general["features"]]
    assert [f["geometry"] for f in fast["features"]] == [f["geometry"] for f in general["features"]]
    assert "name" not in fast["features"][2]["properties"]


def test_point_writer_leaves_out_points_beyond_the_buffer():
    bounds = mvt.tile_bounds(12, 3371, 1772)
    width = bounds[2] - bounds[0]
    xs = [bounds[0] + width / 2, bounds[2] + width / 2, bounds[0] - width * 0.01]
    ys = [bounds[1] + width / 2] * 3
    layer = mapbox_vector_tile.decode(mvt.encode_points("t", [1, 2, 3], xs, ys, {}, bounds))["t"]
    assert [f["id"] for f in layer["features"]] == [1, 3]  # 1% of a tile is inside the 64-unit buffer
    assert mvt.encode_points("t", [2], xs[1:2], ys[1:2], {}, bounds) == b""

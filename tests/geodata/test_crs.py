"""Tests for geodata.crs: GCJ-02/BD-09 offsets, CRS names and metric measurements."""

import math

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from geodata import crs

GEOD = pyproj.Geod(ellps="WGS84")

# Test vectors published with googollee/eviltransform (its test suites in several
# languages share them): (WGS 84 lon, lat) -> (GCJ-02 lon, lat).
EVILTRANSFORM_PAIRS = [
    pytest.param((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597), id="shanghai"),
    pytest.param((113.912316, 22.543847), (113.9171764808363, 22.540796131694766), id="shenzhen"),
    pytest.param((116.377817, 39.911954), (116.38404722455657, 39.91334545536069), id="beijing"),
]

# Result comments in wandergis/coordtransform's test/app.js for input (116.404, 39.915).
# Its forward results are exact; its inverses are one-step approximations.
COORDTRANSFORM_INPUT = (116.404, 39.915)
COORDTRANSFORM_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
COORDTRANSFORM_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
COORDTRANSFORM_BD_TO_GCJ_APPROX = (116.39762729119315, 39.90865673957631)
COORDTRANSFORM_GCJ_TO_WGS_APPROX = (116.39775550083061, 39.91359571849836)

# Approximate seats of Longyan's seven county-level divisions (lon, lat).
LONGYAN_SEATS = {
    "Xinluo": (117.03, 25.09),
    "Yongding": (116.73, 24.72),
    "Changting": (116.36, 25.83),
    "Shanghang": (116.42, 25.05),
    "Wuping": (116.10, 25.10),
    "Liancheng": (116.75, 25.71),
    "Zhangping": (117.42, 25.29),
}

# 50 x 50 grid over Fujian (lon 115.8..120.7, lat 23.5..28.4).
FUJIAN_LON, FUJIAN_LAT = np.meshgrid(np.linspace(115.8, 120.7, 50), np.linspace(23.5, 28.4, 50))


def _max_error_m(lon_a, lat_a, lon_b, lat_b):
    return float(np.max(GEOD.inv(lon_a, lat_a, lon_b, lat_b)[2]))


# --- published reference values ---------------------------------------------


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_eviltransform_vectors(wgs, gcj):
    assert crs.wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_recovers_eviltransform_vectors(wgs, gcj):
    assert crs.gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-7)


def test_forward_transforms_match_coordtransform_example():
    assert crs.wgs84_to_gcj02(*COORDTRANSFORM_INPUT) == pytest.approx(COORDTRANSFORM_WGS_TO_GCJ, abs=1e-9)
    assert crs.gcj02_to_bd09(*COORDTRANSFORM_INPUT) == pytest.approx(COORDTRANSFORM_GCJ_TO_BD, abs=1e-9)


@pytest.mark.parametrize(
    ("ours", "forward", "published"),
    [
        pytest.param(crs.gcj02_to_wgs84, crs.wgs84_to_gcj02, COORDTRANSFORM_GCJ_TO_WGS_APPROX, id="gcj02_to_wgs84"),
        pytest.param(crs.bd09_to_gcj02, crs.gcj02_to_bd09, COORDTRANSFORM_BD_TO_GCJ_APPROX, id="bd09_to_gcj02"),
    ],
)
def test_iterated_inverse_is_closer_than_published_one_step_inverse(ours, forward, published):
    result = ours(*COORDTRANSFORM_INPUT)
    # Same answer to about 0.1 m ...
    assert result == pytest.approx(published, abs=1e-6)
    # ... but ours maps back onto the input, the one-step approximation does not.
    ours_residual = np.abs(np.subtract(forward(*result), COORDTRANSFORM_INPUT)).max()
    published_residual = np.abs(np.subtract(forward(*published), COORDTRANSFORM_INPUT)).max()
    assert ours_residual < 1e-9 < published_residual


# --- offsets and round trips ------------------------------------------------


def test_gcj02_offset_over_fujian_is_about_half_a_kilometre():
    # Property of the published formula (not a published pair): across Fujian
    # the shift is 476..636 m; the bounds leave room without hiding a wrong sign.
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(FUJIAN_LON, FUJIAN_LAT)
    shift = GEOD.inv(FUJIAN_LON, FUJIAN_LAT, gcj_lon, gcj_lat)[2]
    assert shift.min() > 400.0
    assert shift.max() < 700.0
    # Everywhere in Fujian the formula moves points east and south.
    assert (gcj_lon > FUJIAN_LON).all()
    assert (gcj_lat < FUJIAN_LAT).all()


def test_bd09_offset_from_gcj02_over_fujian_is_about_900_metres():
    # Property of the published formula: 898..963 m over Fujian (the 0.0065 /
    # 0.006 degree constants alone make about 0.9 km at this latitude).
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(FUJIAN_LON, FUJIAN_LAT)
    bd_lon, bd_lat = crs.gcj02_to_bd09(gcj_lon, gcj_lat)
    shift = GEOD.inv(gcj_lon, gcj_lat, bd_lon, bd_lat)[2]
    assert shift.min() > 850.0
    assert shift.max() < 1000.0


def test_gcj02_round_trip_over_fujian_grid():
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(FUJIAN_LON, FUJIAN_LAT)
    back_lon, back_lat = crs.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert np.abs(back_lon - FUJIAN_LON).max() < 1e-7
    assert np.abs(back_lat - FUJIAN_LAT).max() < 1e-7
    assert _max_error_m(FUJIAN_LON, FUJIAN_LAT, back_lon, back_lat) < 0.5


def test_bd09_round_trip_over_fujian_grid():
    bd_lon, bd_lat = crs.wgs84_to_bd09(FUJIAN_LON, FUJIAN_LAT)
    back_lon, back_lat = crs.bd09_to_wgs84(bd_lon, bd_lat)
    assert np.abs(back_lon - FUJIAN_LON).max() < 1e-7
    assert np.abs(back_lat - FUJIAN_LAT).max() < 1e-7
    assert _max_error_m(FUJIAN_LON, FUJIAN_LAT, back_lon, back_lat) < 0.5


def test_gcj02_bd09_round_trip_over_fujian_grid():
    bd_lon, bd_lat = crs.gcj02_to_bd09(FUJIAN_LON, FUJIAN_LAT)
    back_lon, back_lat = crs.bd09_to_gcj02(bd_lon, bd_lat)
    assert np.abs(back_lon - FUJIAN_LON).max() < 1e-7
    assert np.abs(back_lat - FUJIAN_LAT).max() < 1e-7


def test_gcj02_round_trip_over_whole_china_box():
    lon, lat = np.meshgrid(np.linspace(72.1, 137.7, 120), np.linspace(0.9, 55.7, 120))
    back_lon, back_lat = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7


@pytest.mark.parametrize("seat", list(LONGYAN_SEATS), ids=list(LONGYAN_SEATS))
@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
    ],
    ids=["gcj02", "bd09", "gcj02-bd09"],
)
def test_scalar_round_trip_at_longyan_seats(seat, forward, inverse):
    lon, lat = LONGYAN_SEATS[seat]
    shifted = forward(lon, lat)
    back = inverse(*shifted)
    assert type(shifted[0]) is float and type(back[1]) is float
    assert back == pytest.approx((lon, lat), abs=1e-7)


@pytest.mark.parametrize(
    "place",
    [(2.3522, 48.8566), (139.767125, 35.681236), (-104.9903, 39.7392), (153.0251, -27.4698)],
    ids=["paris", "tokyo", "denver", "brisbane"],
)
def test_no_gcj02_offset_outside_china_box(place):
    assert crs.wgs84_to_gcj02(*place) == place
    assert crs.gcj02_to_wgs84(*place) == place


def test_in_gcj02_area_scalar_and_array():
    assert crs.in_gcj02_area(117.03, 25.09) is True
    assert crs.in_gcj02_area(2.35, 48.85) is False
    inside = crs.in_gcj02_area([117.03, 2.35], [25.09, 48.85])
    assert inside.tolist() == [True, False]


def test_arrays_keep_shape_and_broadcast():
    lon = np.array([[116.5, 117.0], [117.5, 118.0]])
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(lon, 25.0)
    assert gcj_lon.shape == gcj_lat.shape == (2, 2)
    back_lon, back_lat = crs.gcj02_to_wgs84(gcj_lon, gcj_lat)
    np.testing.assert_allclose(back_lon, lon, atol=1e-9)
    np.testing.assert_allclose(back_lat, 25.0, atol=1e-9)


def test_lists_are_accepted_and_give_arrays():
    lon, lat = crs.wgs84_to_bd09([117.03, 116.73], [25.09, 24.72])
    assert isinstance(lon, np.ndarray) and lon.shape == (2,)


def test_inputs_are_not_modified():
    lon = np.array([117.03, 116.73])
    lat = np.array([25.09, 24.72])
    crs.gcj02_to_wgs84(lon, lat)
    crs.bd09_to_gcj02(lon, lat)
    assert lon.tolist() == [117.03, 116.73] and lat.tolist() == [25.09, 24.72]


def test_nan_propagates_without_stalling_the_inverse():
    lon, lat = crs.gcj02_to_wgs84(np.array([117.0, np.nan]), np.array([25.0, np.nan]))
    assert math.isnan(lon[1]) and math.isnan(lat[1])
    # The finite neighbour is still solved to full precision.
    assert crs.wgs84_to_gcj02(lon[0], lat[0]) == pytest.approx((117.0, 25.0), abs=1e-9)


def test_non_numeric_input_names_argument():
    with pytest.raises(ValueError, match=r"lon 'abc' is not numeric"):
        crs.wgs84_to_gcj02("abc", 25.0)


def test_mismatched_shapes_name_both():
    with pytest.raises(ValueError, match=r"lon shape \(2,\) and lat shape \(3,\)"):
        crs.wgs84_to_gcj02([1.0, 2.0], [1.0, 2.0, 3.0])


# --- CRS names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("EPSG:4326", "EPSG:4326"),
        ("epsg:4326", "EPSG:4326"),
        ("wgs84", "EPSG:4326"),
        ("WGS 84", "EPSG:4326"),
        (4326, "EPSG:4326"),
        ("EPSG:4490", "EPSG:4490"),
        ("cgcs2000", "EPSG:4490"),
        ("GCJ-02", "GCJ-02"),
        ("gcj02", "GCJ-02"),
        ("gcj_02", "GCJ-02"),
        ("BD-09", "BD-09"),
        ("bd09", "BD-09"),
        ("bd09ll", "BD-09"),
    ],
)
def test_normalise_crs_accepts_names_and_aliases(name, canonical):
    assert crs.normalise_crs(name) == canonical


@pytest.mark.parametrize("name", ["EPSG:3857", "mars", "", None, "bd09mc"])
def test_unknown_crs_is_named_and_accepted_ones_listed(name):
    with pytest.raises(ValueError) as info:
        crs.to_wgs84(117.0, 25.0, name)
    message = str(info.value)
    assert f"crs {name!r} is not supported" in message
    for accepted in ("EPSG:4326", "EPSG:4490", "GCJ-02", "BD-09", "wgs84", "cgcs2000", "gcj02", "bd09"):
        assert accepted in message


def test_unknown_crs_in_from_wgs84():
    with pytest.raises(ValueError, match="crs 'utm' is not supported"):
        crs.from_wgs84(117.0, 25.0, "utm")


@pytest.mark.parametrize("name", ["EPSG:4326", "EPSG:4490", "wgs84", "cgcs2000"])
def test_wgs84_like_crs_leave_coordinates_alone(name):
    assert crs.to_wgs84(117.03, 25.09, name) == (117.03, 25.09)
    assert crs.from_wgs84(117.03, 25.09, name) == (117.03, 25.09)


@pytest.mark.parametrize("name", ["GCJ-02", "BD-09"])
def test_to_wgs84_inverts_from_wgs84(name):
    shifted = crs.from_wgs84(FUJIAN_LON, FUJIAN_LAT, name)
    back_lon, back_lat = crs.to_wgs84(*shifted, name)
    assert np.abs(back_lon - FUJIAN_LON).max() < 1e-7
    assert np.abs(back_lat - FUJIAN_LAT).max() < 1e-7


def test_to_wgs84_dispatches_to_the_right_inverse():
    lon, lat = 117.03, 25.09
    assert crs.to_wgs84(lon, lat, "gcj02") == crs.gcj02_to_wgs84(lon, lat)
    assert crs.to_wgs84(lon, lat, "bd09") == crs.bd09_to_wgs84(lon, lat)
    assert crs.from_wgs84(lon, lat, "bd09") == crs.wgs84_to_bd09(lon, lat)


def test_to_wgs84_array_result_is_a_copy():
    lon = np.array([117.0])
    out_lon, _ = crs.to_wgs84(lon, np.array([25.0]), "wgs84")
    out_lon[0] = 0.0
    assert lon[0] == 117.0


def test_convert_between_gcj02_and_bd09_directly():
    assert crs.convert(117.03, 25.09, "gcj02", "bd09") == crs.gcj02_to_bd09(117.03, 25.09)
    assert crs.convert(117.03, 25.09, "bd09", "gcj02") == crs.bd09_to_gcj02(117.03, 25.09)
    via_wgs = crs.convert(117.03, 25.09, "bd09", "cgcs2000")
    assert via_wgs == pytest.approx(crs.bd09_to_wgs84(117.03, 25.09), abs=1e-12)


# --- shift_geometry ---------------------------------------------------------


def test_shift_geometry_round_trip_polygon_with_hole():
    shell = [(117.00, 25.00), (117.02, 25.00), (117.02, 25.02), (117.00, 25.02)]
    hole = [(117.005, 25.005), (117.010, 25.005), (117.010, 25.010)]
    polygon = Polygon(shell, [hole])
    moved = crs.shift_geometry(polygon, "wgs84", "bd09")
    assert moved.geom_type == "Polygon" and len(moved.interiors) == 1
    assert moved.centroid.distance(polygon.centroid) > 0.005
    back = crs.shift_geometry(moved, "BD-09", "EPSG:4326")
    assert shapely.equals_exact(back, polygon, tolerance=1e-9)


def test_shift_geometry_moves_each_vertex_like_the_point_functions():
    line = LineString([(116.36, 25.83), (117.42, 25.29)])
    moved = crs.shift_geometry(line, "EPSG:4490", "GCJ-02")
    for (lon, lat), (new_lon, new_lat) in zip(line.coords, moved.coords, strict=True):
        assert (new_lon, new_lat) == pytest.approx(crs.wgs84_to_gcj02(lon, lat), abs=1e-12)


def test_shift_geometry_keeps_z():
    moved = crs.shift_geometry(Point(117.03, 25.09, 345.0), "wgs84", "gcj02")
    assert moved.has_z and moved.z == 345.0


def test_shift_geometry_between_wgs84_and_cgcs2000_is_identity():
    point = Point(117.03, 25.09)
    assert crs.shift_geometry(point, "EPSG:4326", "cgcs2000") is point


def test_shift_geometry_on_array_of_geometries():
    geoms = np.array([Point(117.03, 25.09), Point(116.36, 25.83)])
    moved = crs.shift_geometry(geoms, "wgs84", "gcj02")
    assert moved.shape == (2,)
    assert (moved[1].x, moved[1].y) == pytest.approx(crs.wgs84_to_gcj02(116.36, 25.83), abs=1e-12)


def test_shift_geometry_unknown_crs():
    with pytest.raises(ValueError, match="crs 'EPSG:3857' is not supported"):
        crs.shift_geometry(Point(117.0, 25.0), "EPSG:3857", "wgs84")


# --- metric CRS -------------------------------------------------------------


@pytest.mark.parametrize("seat", list(LONGYAN_SEATS), ids=list(LONGYAN_SEATS))
def test_longyan_county_seats_use_gauss_kruger_zone_20(seat):
    assert crs.metric_crs_for(*LONGYAN_SEATS[seat]) == 4498


@pytest.mark.parametrize("zone", range(13, 24))
def test_gauss_kruger_codes_match_epsg_zone_names(zone):
    central_meridian = zone * 6 - 3
    code = crs.metric_crs_for(central_meridian)
    assert pyproj.CRS.from_epsg(code).name == f"CGCS2000 / Gauss-Kruger zone {zone}"


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (72.0, 30.0, 4491),
        (137.99, 45.0, 4501),
        (138.0, 45.0, 32654),
        (71.99, 40.0, 32642),
        (2.35, 48.85, 32631),
        (-43.17, -22.91, 32723),
        (180.0, 10.0, 32660),
        (-180.0, -10.0, 32701),
    ],
)
def test_metric_crs_edges_and_utm_fallback(lon, lat, expected):
    assert crs.metric_crs_for(lon, lat) == expected


@pytest.mark.parametrize(
    ("lon", "lat", "fragment"),
    [(200.0, 25.0, "lon 200.0 is outside -180..180"), (117.0, 95.0, "lat 95.0 is outside -90..90")],
)
def test_metric_crs_for_rejects_out_of_range(lon, lat, fragment):
    with pytest.raises(ValueError, match=fragment):
        crs.metric_crs_for(lon, lat)


def _square_in_zone_20(side=100.0):
    x0, y0 = 20503000.0, 2776000.0  # near Xinluo, Longyan
    return box(x0, y0, x0 + side, y0 + side)


def test_area_of_100m_square_built_in_epsg_4498():
    square = crs.from_metric(_square_in_zone_20(), 4498)
    assert 117.0 < square.centroid.x < 117.1 and 25.0 < square.centroid.y < 25.1
    assert crs.area_m2(square) == pytest.approx(10000.0, rel=1e-4)
    assert crs.length_m(square.exterior) == pytest.approx(400.0, rel=1e-4)


def test_area_agrees_with_geodesic_area_in_longyan():
    # Gauss-Kruger scale error within 1 degree of 117E is about 1e-4 in area.
    square = crs.from_metric(_square_in_zone_20(1000.0), 4498)
    geodesic_area = abs(GEOD.geometry_area_perimeter(square)[0])
    assert crs.area_m2(square) == pytest.approx(geodesic_area, rel=5e-4)


def test_to_metric_picks_zone_from_centroid_and_round_trips():
    polygon = box(116.35, 25.80, 116.37, 25.85)
    projected, code = crs.to_metric(polygon)
    assert code == 4498
    assert projected.bounds[0] > 20_000_000  # zone-prefixed easting
    back = crs.from_metric(projected, code)
    assert shapely.equals_exact(back, polygon, tolerance=1e-9)


def test_to_metric_with_explicit_epsg():
    projected, code = crs.to_metric(Point(117.0, 25.0), epsg=32650)
    assert code == 32650
    assert projected.x == pytest.approx(500000.0, abs=1e-6)


@pytest.mark.parametrize(
    ("geom", "epsg", "fragment"),
    [
        (Point(), None, "geom is empty"),
        (Point(20503000.0, 2776000.0), None, "are not lon/lat degrees"),
        (Point(117.0, 25.0), "EPSG:4498", "epsg 'EPSG:4498' is not an integer EPSG code"),
        (Point(117.0, 25.0), 4326, "epsg 4326 is not a projected CRS"),
        (Point(117.0, 25.0), 999999, "epsg 999999 is not a known EPSG code"),
    ],
)
def test_to_metric_rejects_bad_input(geom, epsg, fragment):
    with pytest.raises(ValueError, match=fragment):
        crs.to_metric(geom, epsg)


def test_length_of_line_matches_geodesic():
    line = LineString([(117.00, 25.00), (117.01, 25.02), (117.03, 25.03)])
    geodesic_length = GEOD.geometry_length(line)
    assert crs.length_m(line) == pytest.approx(geodesic_length, rel=2e-4)


def test_distance_between_points_and_geometries():
    a = (117.00, 25.00)
    b = (117.01, 25.00)
    geodesic = GEOD.inv(*a, *b)[2]
    assert crs.distance_m(a, b) == pytest.approx(geodesic, rel=2e-4)
    assert crs.distance_m(Point(a), Point(b)) == crs.distance_m(a, b)
    assert crs.distance_m(box(117.0, 25.0, 117.01, 25.01), Point(117.005, 25.005)) == 0.0


def test_distance_across_zone_boundary_uses_one_crs():
    # 113.99 and 114.01 sit in different zones; the pair must share one.
    a, b = (113.99, 25.0), (114.01, 25.0)
    assert crs.distance_m(a, b) == pytest.approx(GEOD.inv(*a, *b)[2], rel=2e-3)


# --- bbox margin ------------------------------------------------------------


@pytest.mark.parametrize("lat", range(0, 61, 5))
@pytest.mark.parametrize("metres", [1.0, 150.0, 2000.0, 50000.0])
def test_margin_is_never_too_small(lat, metres):
    margin = crs.metres_to_degrees_margin(metres, lat)
    azimuths = np.arange(0.0, 360.0, 2.5)
    for sign in (1.0, -1.0):
        start_lat = np.full_like(azimuths, sign * lat)
        start_lon = np.full_like(azimuths, 117.0)
        end_lon, end_lat, _ = GEOD.fwd(start_lon, start_lat, azimuths, np.full_like(azimuths, metres))
        reach = max(np.abs(end_lon - start_lon).max(), np.abs(end_lat - start_lat).max())
        assert reach <= margin
        # Safe, but not wastefully large.
        assert margin < reach * 1.05


def test_margin_reaching_a_pole_covers_all_longitudes():
    assert crs.metres_to_degrees_margin(1000.0, 90.0) == 180.0
    assert crs.metres_to_degrees_margin(20_000_000.0, 0.0) == 180.0


def test_margin_zero_metres_is_zero():
    assert crs.metres_to_degrees_margin(0.0, 25.0) == 0.0


@pytest.mark.parametrize(
    ("metres", "lat", "fragment"),
    [
        (-1.0, 25.0, "metres -1.0 must be a finite distance >= 0"),
        (float("nan"), 25.0, "metres nan must be a finite distance >= 0"),
        (100.0, 117.0, "lat 117.0 is outside -90..90"),
    ],
)
def test_margin_rejects_bad_input(metres, lat, fragment):
    with pytest.raises(ValueError, match=fragment):
        crs.metres_to_degrees_margin(metres, lat)

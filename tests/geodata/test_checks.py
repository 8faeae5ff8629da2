"""Tests for geodata.checks: coordinate, DMS, polygon and line checks and their messages."""

import math
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import (
    GeometryCollection,
    LinearRing,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

from geodata.checks import (
    GeometryError,
    check_linestring,
    check_lonlat,
    check_polygon,
    parse_dms,
)

# A 0.1 degree square near Xinluo, Longyan, and shapes derived from it.
SQUARE = [(117.0, 25.0), (117.1, 25.0), (117.1, 25.1), (117.0, 25.1)]
BOWTIE = Polygon([(117.0, 25.0), (117.1, 25.1), (117.1, 25.0), (117.0, 25.1)])
WITH_HOLE = Polygon(SQUARE, [[(117.02, 25.02), (117.05, 25.02), (117.05, 25.05), (117.02, 25.05)]])


# --- GeometryError ----------------------------------------------------------


def test_geometry_error_attributes_and_text():
    err = GeometryError("the outline crosses itself", "boundary", (117.05, 25.05))
    assert isinstance(err, ValueError)
    assert (err.field, err.reason, err.location) == ("boundary", "the outline crosses itself", (117.05, 25.05))
    assert str(err) == "boundary: the outline crosses itself (at lon 117.050000, lat 25.050000)"


def test_geometry_error_without_field_or_location():
    assert str(GeometryError("bad")) == "bad"


def test_geometry_error_survives_pickling():
    err = pickle.loads(pickle.dumps(GeometryError("bad", "site", (117.0, 25.0))))
    assert (err.reason, err.field, err.location) == ("bad", "site", (117.0, 25.0))


# --- check_lonlat -----------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        pytest.param(117.03, 25.09, (117.03, 25.09), id="floats"),
        pytest.param(117, 25, (117.0, 25.0), id="ints"),
        pytest.param("117.03", " 25.09 ", (117.03, 25.09), id="numeric-strings"),
        pytest.param("１１６.５", "２５.１", (116.5, 25.1), id="full-width-digits"),
        pytest.param("１１６．５", "２５．１", (116.5, 25.1), id="full-width-digits-and-point"),
        pytest.param(Decimal("117.03"), Decimal("25.09"), (117.03, 25.09), id="decimal"),
        pytest.param(np.float32(117.5), np.float64(25.25), (117.5, 25.25), id="numpy"),
        pytest.param("116°49′12″", "25°06′00″", (116.82, 25.1), id="dms-strings"),
        pytest.param("东经116°49′12″", "北纬25°06′", (116.82, 25.1), id="dms-chinese-labels"),
    ],
)
def test_check_lonlat_accepts(lon, lat, expected):
    result = check_lonlat(lon, lat)
    assert result == pytest.approx(expected, abs=1e-9)
    assert all(type(v) is float for v in result)


@pytest.mark.parametrize(
    ("lon", "lat", "fragment"),
    [
        pytest.param(None, 25.0, "longitude is missing (got None)", id="lon-none"),
        pytest.param(117.0, None, "latitude is missing (got None)", id="lat-none"),
        pytest.param(math.nan, 25.0, "longitude nan is not a finite number", id="lon-nan"),
        pytest.param(117.0, math.inf, "latitude inf is not a finite number", id="lat-inf"),
        pytest.param(np.nan, 25.0, "longitude nan is not a finite number", id="numpy-nan"),
        pytest.param("abc", 25.0, "longitude 'abc' is not a number", id="text"),
        pytest.param(117.0, "", "latitude '' is not a number", id="empty-text"),
        pytest.param("nan", 25.0, "longitude 'nan' is not a number", id="nan-text"),
        pytest.param(True, 25.0, "longitude True is a bool, not a number", id="bool"),
        pytest.param([117.0], 25.0, "longitude [117.0] is a list, not a number", id="list"),
        pytest.param(200.0, 25.0, "longitude 200.0 is outside -180..180", id="lon-out-of-range"),
        pytest.param(117.0, 95.0, "latitude 95.0 is outside -90..90", id="lat-out-of-range"),
        pytest.param(117.0, -91.0, "latitude -91.0 is outside -90..90", id="lat-below-range"),
        pytest.param(25.09, 117.03, "longitude and latitude appear to be swapped", id="swapped-out-of-range"),
        pytest.param(25.0, 80.0, "longitude and latitude appear to be swapped", id="swapped-in-range"),
        pytest.param(
            "北纬25°06′", "东经116°49′", "longitude and latitude appear to be swapped", id="swapped-dms-labels"
        ),
        pytest.param("N25°06′", 25.0, "is marked N/S, which belongs to a latitude", id="lon-labelled-n"),
        pytest.param(117.0, "E116°", "is marked E/W, which belongs to a longitude", id="lat-labelled-e"),
        pytest.param(-117.03, 25.09, "is outside China", id="missing-minus-sign-the-other-way"),
        pytest.param(2.35, 48.85, "is outside China", id="paris"),
        pytest.param(0.0, 0.0, "is outside China", id="null-island"),
        pytest.param(117.0, 10.0, "is outside China", id="south-of-box"),
    ],
)
def test_check_lonlat_refuses(lon, lat, fragment):
    with pytest.raises(GeometryError) as info:
        check_lonlat(lon, lat, field="site")
    assert fragment in str(info.value)
    assert info.value.field == "site"
    assert str(info.value).startswith("site: ")


def test_outside_china_reports_location():
    with pytest.raises(GeometryError) as info:
        check_lonlat(2.35, 48.85)
    assert info.value.location == (2.35, 48.85)
    assert "rough box" in info.value.reason


def test_out_of_range_has_no_location():
    with pytest.raises(GeometryError) as info:
        check_lonlat(200.0, 25.0)
    assert info.value.location is None


# --- parse_dms --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("116°49′12″", 116.82, id="primes"),
        pytest.param("116°49'12\"", 116.82, id="ascii-quotes"),
        pytest.param("116°49'12''", 116.82, id="two-apostrophes"),
        pytest.param("116 49 12", 116.82, id="spaces"),
        pytest.param("116度49分12秒", 116.82, id="chinese-units"),
        pytest.param("１１６°４９′１２″", 116.82, id="full-width-digits"),
        pytest.param("１１６度４９分１２秒", 116.82, id="full-width-chinese"),
        pytest.param("116º49'12\"", 116.82, id="ordinal-as-degree-sign"),
        pytest.param("E116°49′12″", 116.82, id="e-prefix"),
        pytest.param("116°49′12″E", 116.82, id="e-suffix"),
        pytest.param("e 116°49′12″", 116.82, id="lowercase-e"),
        pytest.param("W116°49′12″", -116.82, id="w-prefix"),
        pytest.param("东经116°49′12″", 116.82, id="dongjing"),
        pytest.param("西经116°49′12″", -116.82, id="xijing"),
        pytest.param("北纬25°06′00″", 25.1, id="beiwei"),
        pytest.param("南纬25°06′", -25.1, id="nanwei"),
        pytest.param("N25°06′", 25.1, id="n-prefix"),
        pytest.param("25 06 00 S", -25.1, id="s-suffix"),
        pytest.param("-116 49 12", -116.82, id="minus-sign"),
        pytest.param("+116°49′12″", 116.82, id="plus-sign"),
        pytest.param("－116°49′12″", -116.82, id="full-width-minus"),
        pytest.param("116°49.2′", 116.82, id="decimal-minutes"),
        pytest.param("116°49′12.36″", 116.82 + 0.36 / 3600, id="decimal-seconds"),
        pytest.param("116.82°", 116.82, id="decimal-degrees"),
        pytest.param("116.82", 116.82, id="plain-number"),
        pytest.param("116°", 116.0, id="degrees-only"),
        pytest.param("116°12″", 116.0 + 12 / 3600, id="degrees-and-seconds"),
    ],
)
def test_parse_dms_accepts(text, expected):
    assert parse_dms(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("abc", "cannot read 'abc'", id="letters"),
        pytest.param("", "has no number in it", id="empty"),
        pytest.param("E", "has no number in it", id="label-only"),
        pytest.param("116°61′", "has minutes 61, which must be below 60", id="minutes-60-plus"),
        pytest.param("116°49′60″", "has seconds 60, which must be below 60", id="seconds-60"),
        pytest.param("116 49 12 5", "'5' is out of order", id="four-numbers"),
        pytest.param("49′116°", "'116' is out of order", id="units-reversed"),
        pytest.param("116.5 30", "only the last of degrees, minutes, seconds may have decimals", id="decimal-not-last"),
        pytest.param("N25E", "more than one hemisphere label", id="two-labels"),
        pytest.param("-E116", "cannot read 'E116'", id="sign-before-label"),
        pytest.param("W-116", "both a sign and a hemisphere label", id="sign-and-label"),
        pytest.param("200°", "is 200 degrees, more than 180", id="over-180"),
        pytest.param("N95°", "is 95 degrees, more than 90", id="latitude-over-90"),
        pytest.param("116°°", "cannot read '°'", id="double-degree"),
        pytest.param("116,5", "cannot read ',5'", id="comma"),
    ],
)
def test_parse_dms_refuses_and_names_text(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_dms(text)
    message = str(info.value)
    assert fragment in message
    assert f"text {text!r}" in message


def test_parse_dms_refuses_non_string():
    with pytest.raises(ValueError, match="text 116.5 is a float, not a string"):
        parse_dms(116.5)


# --- check_polygon ----------------------------------------------------------


def _nan_polygon():
    # shapely reports NaN through numpy's floating-point error machinery, which
    # the suite turns into errors; the NaN is the point of this fixture.
    with np.errstate(invalid="ignore"):
        return Polygon([(117.0, 25.0), (117.1, 25.0), (math.nan, 25.1), (117.0, 25.1)])


@pytest.mark.parametrize(
    "geom",
    [
        pytest.param(Polygon(SQUARE), id="square"),
        pytest.param(WITH_HOLE, id="with-hole"),
        pytest.param(MultiPolygon([Polygon(SQUARE), box(117.2, 25.0, 117.3, 25.1)]), id="multipolygon"),
    ],
)
def test_check_polygon_accepts_valid(geom):
    result, note = check_polygon(geom)
    assert note is None
    assert isinstance(result, MultiPolygon)
    assert result.equals(geom)


def test_check_polygon_keeps_hole():
    result, _ = check_polygon(WITH_HOLE)
    assert len(result.geoms[0].interiors) == 1
    assert result.area == pytest.approx(WITH_HOLE.area)


@pytest.mark.parametrize(
    ("geom", "fragment"),
    [
        pytest.param(Point(117.0, 25.0), "expected a Polygon or MultiPolygon, got a Point", id="point"),
        pytest.param(LineString(SQUARE), "expected a Polygon or MultiPolygon, got a LineString", id="line"),
        pytest.param(
            GeometryCollection([Polygon(SQUARE)]),
            "expected a Polygon or MultiPolygon, got a GeometryCollection",
            id="collection",
        ),
        pytest.param("POLYGON ((117 25, 117.1 25, 117.1 25.1, 117 25))", "got a str", id="wkt-string"),
        pytest.param(None, "got a NoneType", id="none"),
        pytest.param(Polygon(), "Polygon is empty", id="empty"),
        pytest.param(MultiPolygon(), "MultiPolygon is empty", id="empty-multi"),
        pytest.param(
            box(20503000.0, 2776000.0, 20504000.0, 2777000.0),
            "coordinates look projected (metres), not lon/lat",
            id="projected-gauss-kruger",
        ),
        pytest.param(
            box(503000.0, 2776000.0, 504000.0, 2777000.0),
            "coordinates look projected (metres), not lon/lat",
            id="projected-no-zone-prefix",
        ),
        pytest.param(box(25.0, 117.0, 25.1, 117.1), "appear to be swapped", id="swapped"),
        pytest.param(box(2.3, 48.8, 2.4, 48.9), "has a vertex outside China", id="outside-china"),
        pytest.param(
            _nan_polygon(),
            "has a coordinate that is NaN or infinite",
            id="nan-coordinate",
        ),
    ],
)
def test_check_polygon_refuses(geom, fragment):
    for repair in (False, True):
        with pytest.raises(GeometryError) as info:
            check_polygon(geom, field="boundary", repair=repair)
        assert fragment in str(info.value)
        assert info.value.field == "boundary"


@pytest.mark.parametrize(
    ("geom", "fragment", "location"),
    [
        pytest.param(BOWTIE, "the outline crosses itself (shapely: Self-intersection)", (117.05, 25.05), id="bowtie"),
        pytest.param(
            Polygon(SQUARE, [[(117.2, 25.02), (117.25, 25.02), (117.25, 25.05)]]),
            "a hole lies outside its outer ring",
            (117.2, 25.02),
            id="hole-outside-shell",
        ),
        pytest.param(
            MultiPolygon([Polygon(SQUARE), box(117.05, 25.05, 117.15, 25.15)]),
            "polygon is not valid",
            None,
            id="overlapping-parts",
        ),
    ],
)
def test_check_polygon_reports_invalidity_and_where(geom, fragment, location):
    with pytest.raises(GeometryError) as info:
        check_polygon(geom, field="boundary")
    err = info.value
    assert fragment in str(err)
    assert err.field == "boundary"
    if location is None:
        assert err.location is not None  # shapely always names a point for these
    else:
        assert err.location == pytest.approx(location)
        assert f"at lon {location[0]:.6f}, lat {location[1]:.6f}" in str(err)


def test_check_polygon_repairs_bowtie_into_two_triangles():
    result, note = check_polygon(BOWTIE, field="boundary", repair=True)
    assert isinstance(result, MultiPolygon)
    assert result.is_valid
    assert len(result.geoms) == 2
    assert result.area == pytest.approx(0.005)  # two triangles of 0.1 x 0.05 / 2 degrees each
    assert note.startswith("boundary was repaired")
    assert "the outline crosses itself" in note
    assert "at lon 117.050000, lat 25.050000" in note
    assert "shapely.make_valid rebuilt it as 2 polygon(s)" in note
    assert "m2" in note


def test_check_polygon_repair_drops_parts_without_area():
    # A square with a zero-width spike: make_valid returns the square plus a line.
    spiked = Polygon([(117.0, 25.0), (117.1, 25.0), (117.1, 25.1), (117.2, 25.1), (117.1, 25.1), (117.0, 25.1)])
    assert shapely.get_type_id(shapely.make_valid(spiked)) == 7  # GeometryCollection
    result, note = check_polygon(spiked, repair=True)
    assert result.is_valid and len(result.geoms) == 1
    assert result.area == pytest.approx(0.01)
    assert "1 part(s) with no area (lines or points) were dropped" in note


def test_check_polygon_repair_of_zero_area_polygon_fails():
    flat = Polygon([(117.0, 25.0), (117.1, 25.0), (117.0, 25.0), (117.1, 25.0)])
    with pytest.raises(GeometryError, match="cannot be repaired because nothing with area is left"):
        check_polygon(flat, repair=True)


def test_check_polygon_repair_leaves_valid_input_alone():
    result, note = check_polygon(Polygon(SQUARE), repair=True)
    assert note is None
    assert result.equals(Polygon(SQUARE))


# --- check_linestring -------------------------------------------------------

CROSSING = LineString([(117.0, 25.0), (117.2, 25.2), (117.2, 25.0), (117.0, 25.2)])


@pytest.mark.parametrize(
    "geom",
    [
        pytest.param(LineString([(117.0, 25.0), (117.01, 25.01), (117.02, 25.0)]), id="simple"),
        pytest.param(LinearRing(SQUARE), id="closed-ring"),
        pytest.param(LineString(SQUARE + [SQUARE[0]]), id="closed-line"),
        pytest.param(
            MultiLineString([[(117.0, 25.0), (117.1, 25.1)], [(117.1, 25.1), (117.2, 25.0)]]),
            id="parts-meeting-at-ends",
        ),
    ],
)
def test_check_linestring_accepts_simple_lines(geom):
    result, note = check_linestring(geom)
    assert note is None
    assert isinstance(result, MultiLineString)
    assert result.equals(geom)


@pytest.mark.parametrize(
    ("geom", "fragment"),
    [
        pytest.param(Polygon(SQUARE), "expected a LineString or MultiLineString, got a Polygon", id="polygon"),
        pytest.param(MultiPoint([(117.0, 25.0)]), "got a MultiPoint", id="multipoint"),
        pytest.param([(117.0, 25.0), (117.1, 25.1)], "got a list", id="list"),
        pytest.param(LineString(), "LineString is empty", id="empty"),
        pytest.param(
            LineString([(20503000.0, 2776000.0), (20504000.0, 2777000.0)]),
            "coordinates look projected (metres), not lon/lat",
            id="projected",
        ),
        pytest.param(LineString([(25.0, 117.0), (25.1, 117.1)]), "appear to be swapped", id="swapped"),
        pytest.param(LineString([(2.3, 48.8), (2.4, 48.9)]), "has a vertex outside China", id="outside-china"),
    ],
)
def test_check_linestring_refuses(geom, fragment):
    with pytest.raises(GeometryError) as info:
        check_linestring(geom, field="road")
    assert fragment in str(info.value)
    assert info.value.field == "road"


@pytest.mark.parametrize(
    ("geom", "location"),
    [
        pytest.param(CROSSING, (117.1, 25.1), id="crossing"),
        pytest.param(
            MultiLineString([[(117.0, 25.0), (117.1, 25.1)], [(117.0, 25.1), (117.1, 25.0)]]),
            (117.05, 25.05),
            id="parts-crossing",
        ),
        pytest.param(
            LineString([(117.0, 25.0), (117.1, 25.0), (117.1, 25.1), (117.05, 25.0)]),
            (117.05, 25.0),
            id="touching-own-segment",
        ),
        pytest.param(
            LineString([(117.0, 25.0), (117.1, 25.0), (117.05, 25.0), (117.2, 25.0)]),
            (117.05, 25.0),
            id="doubling-back",
        ),
    ],
)
def test_check_linestring_refuses_non_simple_with_location(geom, location):
    with pytest.raises(GeometryError) as info:
        check_linestring(geom, field="road")
    assert "line crosses or touches itself" in str(info.value)
    assert info.value.location == pytest.approx(location)


def test_check_linestring_repair_splits_at_crossing():
    result, note = check_linestring(CROSSING, field="road", repair=True)
    assert isinstance(result, MultiLineString)
    assert len(result.geoms) == 3
    assert result.length == pytest.approx(CROSSING.length)
    assert note == (
        "road was repaired: it crossed or touched itself at lon 117.100000, lat 25.100000, "
        "so shapely.node split it there into 3 piece(s)"
    )
    # Each piece is simple on its own.
    assert all(piece.is_simple for piece in result.geoms)


def test_check_linestring_invalid_part():
    degenerate = LineString([(117.0, 25.0), (117.0, 25.0)])
    with pytest.raises(GeometryError, match="a part has too few distinct points") as info:
        check_linestring(degenerate)
    assert info.value.location == (117.0, 25.0)
    with pytest.raises(GeometryError, match="cannot be repaired because no part has length"):
        check_linestring(degenerate, repair=True)


def test_check_linestring_repair_drops_degenerate_part():
    lines = MultiLineString([[(117.0, 25.0), (117.1, 25.1)], [(117.2, 25.0), (117.2, 25.0)]])
    result, note = check_linestring(lines, repair=True)
    assert len(result.geoms) == 1
    assert note == "geometry was repaired: dropped 1 part(s) with zero length"


def test_checks_and_crs_import_neither_flask_nor_sqlalchemy():
    # In this process the suite's conftest has already imported Flask, so look
    # from a fresh interpreter.
    code = (
        "import sys, geodata, geodata.crs, geodata.checks; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy')))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Contract tests of registry.spatial: the same small dataset and the same expected ids on both stores."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from geodata.crs import to_metric
from registry.models import Facility, FacilityZone, Tomb
from registry.spatial import GeoPackageBackend, PostGISBackend, for_store

# A query box with exactly representable (dyadic) edges, so "on the edge" is exact on both stores.
QB = (117.0, 25.0, 117.125, 25.125)

# name: (x, y, county_code, status). Positions are chosen around QB and two ~1 km apart points.
FACILITIES = {
    "inside": (117.0625, 25.0625, "350802", "active"),
    "on_east_edge": (117.125, 25.0625, "350802", "active"),
    "on_corner": (117.0, 25.0, "350802", "active"),
    # 2**-20 degrees (about 0.1 m) east of QB: inside the index's float32 bounds, outside the box.
    "near_miss": (117.125 + 2**-20, 25.0625, "350802", "active"),
    "retired": (117.03125, 25.03125, "350802", "retired"),
    "far": (116.5, 25.5, "350802", "active"),
    # Two facilities 0.01 degrees of longitude apart (about 1007 m at 25.25N) in different counties.
    "xinluo_side": (116.75, 25.25, "350802", "active"),
    "zhangping_side": (116.76, 25.25, "350881", "active"),
}

DONUT = Polygon(
    [(117.75, 25.5), (118.0, 25.5), (118.0, 25.75), (117.75, 25.75)],
    [[(117.8125, 25.5625), (117.9375, 25.5625), (117.9375, 25.6875), (117.8125, 25.6875)]],
)
# name: (polygon, status)
ZONES = {
    "square": (box(117.5, 25.5, 117.625, 25.625), "active"),
    # The hypotenuse runs from (117.75, 25.0) to (117.5, 25.25); (117.625, 25.125) lies exactly on it.
    "triangle": (Polygon([(117.5, 25.0), (117.75, 25.0), (117.5, 25.25)]), "active"),
    "donut": (DONUT, "active"),
    "retired_zone": (box(117.5, 25.5, 117.625, 25.625), "retired"),
}

# Inserted in this order, so ids grow down the list: the twins and the tie pair differ only by id.
TOMBS = {
    "north_2km": (117.0, 25.52, "active"),
    "east_twin_a": (117.01, 25.5, "active"),
    "tie_first": (117.0, 25.5, "active"),
    "tie_second": (117.0, 25.5, "active"),
    "retired_near": (117.0, 25.501, "retired"),
    "east_twin_b": (117.01, 25.5, "active"),
}
# Expected metric distances from (117.0, 25.5) in EPSG:4498 (central meridian 117E, scale 1 there):
# 0.01 deg of longitude is N cos(phi) dlambda = 6382100 * 0.902585 * 1.745329e-4 = 1005.4 m;
# 0.02 deg of latitude is the meridian arc M dphi = 6347200 * 3.490659e-4 = 2215.6 m.
EAST_M = 1005.4
NORTH_M = 2215.6


class Loaded:
    """A store holding the dataset above, its backend and the ids the rows were given."""

    def __init__(self, store, ids):
        self.store = store
        self.spatial = for_store(store)
        self.ids = ids

    def of(self, *names: str) -> list[int]:
        """The sorted ids of the named rows: the form every answer takes."""
        return sorted(self.ids[name] for name in names)

    def ask(self, method: str, *args, **kwargs):
        with self.store.session() as session:
            return getattr(self.spatial, method)(session, *args, **kwargs)


@pytest.fixture
def data(any_store):
    ids = {}
    with any_store.write_session() as session:
        facilities = {}
        for i, (name, (x, y, county, status)) in enumerate(FACILITIES.items()):
            facilities[name] = Facility(
                code=f"T-{i:03d}", name=name, category="monument", county_code=county,
                status=status, geom=Point(x, y),
            )
            session.add(facilities[name])
        session.flush()
        zones = {}
        for name, (polygon, status) in ZONES.items():
            zones[name] = FacilityZone(
                facility_id=facilities["far"].id, kind="protection_range", status=status,
                geom=MultiPolygon([polygon]),
            )
            session.add(zones[name])
            session.flush()
        tombs = {}
        for name, (x, y, status) in TOMBS.items():
            tombs[name] = Tomb(geom=Point(x, y), status=status)
            session.add(tombs[name])
            # One flush per tomb: the ids must follow the order of TOMBS for the tie-break checks.
            session.flush()
        session.commit()
        for group in (facilities, zones, tombs):
            ids.update({name: row.id for name, row in group.items()})
    return Loaded(any_store, ids)


def test_backend_matches_the_store(any_store):
    expected = GeoPackageBackend if any_store.kind == "geopackage" else PostGISBackend
    assert isinstance(for_store(any_store), expected)


def test_for_store_refuses_an_unknown_kind():
    class Other:
        kind = "oracle"

    with pytest.raises(ValueError, match=r"store kind 'oracle' has no spatial backend; kinds are: geopackage, postgis"):
        for_store(Other())


def test_box_includes_points_on_its_edge_and_drops_the_index_near_miss(data):
    assert data.ask("by_box", "facilities", *QB) == data.of("inside", "on_east_edge", "on_corner")
    # The index alone cannot tell the near miss apart (float32 bounds) and knows nothing of status.
    raw = data.ask("box_ids_raw", "facilities", *QB)
    assert raw == data.of("inside", "on_east_edge", "on_corner", "near_miss", "retired")


def test_box_with_retired_rows(data):
    assert data.ask("by_box", "facilities", *QB, include_retired=True) == data.of(
        "inside", "on_east_edge", "on_corner", "retired"
    )


def test_degenerate_box_is_a_point_or_a_segment(data):
    assert data.ask("by_box", "facilities", 117.0, 25.0, 117.0, 25.0) == data.of("on_corner")
    # The segment x = 117.125, 25..25.125 is QB's east edge.
    assert data.ask("by_box", "facilities", 117.125, 25.0, 117.125, 25.125) == data.of("on_east_edge")
    # The segment y = 25.5625, x 117.6..117.7 crosses the square's east edge.
    assert data.ask("by_box", "facility_zones", 117.6, 25.5625, 117.7, 25.5625) == data.of("square")


def test_empty_answers(data):
    assert data.ask("by_box", "facilities", 100.0, 30.0, 100.5, 30.5) == []
    # Inside the donut's hole: the index offers the donut (its bounds cover the box), the exact test refuses it.
    assert data.ask("by_box", "facility_zones", 117.84375, 25.59375, 117.90625, 25.65625) == []
    assert data.ask("intersecting", "tombs", Point(100.0, 30.0)) == []
    assert data.ask("intersecting", "facilities", Point()) == []
    assert data.ask("within_distance", "tombs", Point(100.0, 30.0), 1000.0) == []
    assert data.ask("within_distance", "tombs", Point(), 1000.0) == []
    assert data.ask("nearest", "tombs", Point(117.0, 25.5), 0) == []
    assert data.ask("nearest", "heritage_sites", Point(117.0, 25.0), 3) == []


def test_box_on_polygons_is_boundary_inclusive(data):
    # Touches the square at its corner (117.625, 25.625) and the donut along its west edge x = 117.75.
    assert data.ask("by_box", "facility_zones", 117.625, 25.625, 117.75, 25.75) == data.of("square", "donut")


def test_point_on_a_polygon_edge_intersects(data):
    assert data.ask("intersecting", "facility_zones", Point(117.625, 25.5625)) == data.of("square")
    assert data.ask("intersecting", "facility_zones", Point(117.625, 25.5625), include_retired=True) == data.of(
        "square", "retired_zone"
    )
    # Exactly on the triangle's sloping edge.
    assert data.ask("intersecting", "facility_zones", Point(117.625, 25.125)) == data.of("triangle")


def test_holes_are_outside(data):
    assert data.ask("intersecting", "facility_zones", Point(117.875, 25.625)) == []
    assert data.ask("intersecting", "facility_zones", Point(117.78125, 25.625)) == data.of("donut")
    # The hole's edge belongs to the polygon's boundary.
    assert data.ask("intersecting", "facility_zones", Point(117.8125, 25.625)) == data.of("donut")
    inside_hole = LineString([(117.84375, 25.59375), (117.90625, 25.65625)])
    assert data.ask("intersecting", "facility_zones", inside_hole) == []


def test_polygon_query_on_points(data):
    # x + y <= 142.125: on_corner is a vertex, inside lies on the hypotenuse, on_east_edge is beyond it.
    triangle = Polygon([(117.0, 25.0), (117.125, 25.0), (117.0, 25.125)])
    assert data.ask("intersecting", "facilities", triangle) == data.of("inside", "on_corner")
    assert data.ask("intersecting", "facilities", triangle, include_retired=True) == data.of(
        "inside", "on_corner", "retired"
    )


def test_distance_across_a_county_line(data):
    here = Point(116.75, 25.25)
    assert data.ask("within_distance", "facilities", here, 1500.0) == data.of("xinluo_side", "zhangping_side")
    assert data.ask("within_distance", "facilities", here, 500.0) == data.of("xinluo_side")
    # From the midpoint both are about 503.5 m away.
    middle = Point(116.755, 25.25)
    assert data.ask("within_distance", "facilities", middle, 500.0) == []
    assert data.ask("within_distance", "facilities", middle, 510.0) == data.of("xinluo_side", "zhangping_side")
    assert data.ask("within_distance", "facilities", here, 0.0) == data.of("xinluo_side")


def test_distance_to_a_polygon(data):
    # The donut's hole is 0.0625 deg (about 6.3 km) wide: from its centre every ring edge is > 6 km away.
    centre = Point(117.875, 25.625)
    assert data.ask("within_distance", "facility_zones", centre, 6000.0) == []
    assert data.ask("within_distance", "facility_zones", centre, 7000.0) == data.of("donut")
    hole = Polygon([(117.84375, 25.59375), (117.90625, 25.59375), (117.90625, 25.65625), (117.84375, 25.65625)])
    # From a square inside the hole the ring is about 3.1 km away on every side.
    assert data.ask("within_distance", "facility_zones", hole, 3000.0) == []
    assert data.ask("within_distance", "facility_zones", hole, 3300.0) == data.of("donut")


def test_nearest_orders_by_distance_then_id(data):
    # Insertion order gave east_twin_a a smaller id than the tie pair: distance must win over id.
    assert data.ids["east_twin_a"] < data.ids["tie_first"] < data.ids["tie_second"] < data.ids["east_twin_b"]
    got = data.ask("nearest", "tombs", Point(117.0, 25.5), 4)
    assert [row_id for row_id, _ in got] == [
        data.ids["tie_first"], data.ids["tie_second"], data.ids["east_twin_a"], data.ids["east_twin_b"]
    ]
    distances = [d for _, d in got]
    assert distances[:2] == [0.0, 0.0]
    assert distances[2] == distances[3]
    assert distances[2] == pytest.approx(EAST_M, abs=0.5)


def test_nearest_returns_fewer_when_the_layer_is_small(data):
    got = data.ask("nearest", "tombs", Point(117.0, 25.5), 10)
    assert [row_id for row_id, _ in got] == [
        data.ids["tie_first"], data.ids["tie_second"], data.ids["east_twin_a"], data.ids["east_twin_b"],
        data.ids["north_2km"],
    ]
    assert got[-1][1] == pytest.approx(NORTH_M, abs=1.0)
    # From far away the window has to grow many times before it holds anything. From the south-west,
    # the westernmost southern tombs (the tie pair) are nearest.
    far = data.ask("nearest", "tombs", Point(110.0, 20.0), 2)
    assert [row_id for row_id, _ in far] == data.of("tie_first", "tie_second")
    assert far[0][1] == far[1][1] > 500_000


def test_nearest_with_retired(data):
    got = data.ask("nearest", "tombs", Point(117.0, 25.5), 3, include_retired=True)
    assert [row_id for row_id, _ in got] == data.of("tie_first", "tie_second", "retired_near")
    assert got[2][1] == pytest.approx(110.8, abs=0.5)  # 0.001 deg of latitude


def test_update_moves_the_row_in_the_index(data):
    with data.store.write_session() as session:
        row = session.get(Facility, data.ids["inside"])
        row.geom = Point(116.25, 25.75)
        session.commit()
    assert data.ask("by_box", "facilities", *QB) == data.of("on_east_edge", "on_corner")
    assert data.ask("by_box", "facilities", 116.2, 25.7, 116.3, 25.8) == data.of("inside")
    assert data.ask("intersecting", "facilities", Point(117.0625, 25.0625)) == []
    assert data.ask("nearest", "facilities", Point(116.25, 25.75), 1)[0] == (data.ids["inside"], 0.0)


def test_queries_see_the_sessions_own_unflushed_rows(data):
    with data.store.write_session() as session:
        session.add(Facility(code="T-new", name="new", category="monument", county_code="350802",
                             geom=Point(117.09375, 25.09375)))
        found = data.spatial.by_box(session, "facilities", *QB)
        new_id = session.query(Facility.id).filter_by(code="T-new").scalar()
        session.rollback()
    assert found == sorted(data.of("inside", "on_east_edge", "on_corner") + [new_id])


def test_bad_arguments_are_named(data):
    with pytest.raises(ValueError, match=r"minx 117\.2 is greater than maxx 117\.1"):
        data.ask("by_box", "facilities", 117.2, 25.0, 117.1, 25.1)
    with pytest.raises(ValueError, match=r"miny 25\.2 is greater than maxy 25\.1"):
        data.ask("by_box", "facilities", 117.0, 25.2, 117.1, 25.1)
    with pytest.raises(ValueError, match=r"miny 117\.0 is outside -90\.\.90"):
        data.ask("by_box", "facilities", 25.0, 117.0, 25.1, 117.1)
    with pytest.raises(ValueError, match=r"maxx 181\.0 is outside -180\.\.180"):
        data.ask("box_ids_raw", "facilities", 117.0, 25.0, 181.0, 25.1)
    with pytest.raises(ValueError, match=r"minx nan is not a finite number"):
        data.ask("by_box", "facilities", math.nan, 25.0, 117.1, 25.1)
    with pytest.raises(ValueError, match=r"maxy '25' is not a number"):
        data.ask("by_box", "facilities", 117.0, 25.0, 117.1, "25")
    with pytest.raises(ValueError, match=r"metres -1\.0 must be >= 0"):
        data.ask("within_distance", "facilities", Point(117.0, 25.0), -1.0)
    with pytest.raises(ValueError, match=r"k -1 must be >= 0"):
        data.ask("nearest", "facilities", Point(117.0, 25.0), -1)
    with pytest.raises(ValueError, match=r"k 1\.5 is not an integer"):
        data.ask("nearest", "facilities", Point(117.0, 25.0), 1.5)
    with pytest.raises(ValueError, match=r"has coordinates that are not finite"):
        data.ask("within_distance", "facilities", LineString([(117.0, 25.0), (math.inf, 25.0)]), 10.0)
    with pytest.raises(ValueError, match=r"geom 'POINT \(25 117\)'|geom bounds"):
        data.ask("intersecting", "facilities", Point(25.0, 117.0))
    bowtie = Polygon([(117.0, 25.0), (117.1, 25.1), (117.1, 25.0), (117.0, 25.1)])
    with pytest.raises(ValueError, match=r"is not a valid geometry: Self-intersection"):
        data.ask("intersecting", "facilities", bowtie)
    with pytest.raises(ValueError, match=r"geom \(117\.0, 25\.0\) is not a shapely geometry"):
        data.ask("intersecting", "facilities", (117.0, 25.0))
    with pytest.raises(ValueError, match=r"point is empty"):
        data.ask("nearest", "facilities", Point(), 1)


def test_unknown_layer_is_named(data):
    with pytest.raises(ValueError) as err:
        data.ask("by_box", "graves", *QB)
    message = str(err.value)
    assert message.startswith("unknown layer 'graves'; layers are: ")
    named = set(message.split("layers are: ")[1].split(", "))
    assert {"facilities", "facility_zones", "heritage_sites", "inspections", "plan_zones", "relocations",
            "tombs"} <= named and "users" not in named
    with pytest.raises(ValueError, match=r"unknown layer 'users'"):
        data.ask("nearest", "users", Point(117.0, 25.0), 1)


X_ODD = 117.12500005


def _point_blob_with_envelope(x: float, y: float, big_endian: bool) -> bytes:
    """A point blob laid out as some other writers do: with an XY envelope, optionally big-endian."""
    order = ">" if big_endian else "<"
    flags = 0x02 | (0 if big_endian else 0x01)
    header = b"GP" + bytes([0, flags]) + struct.pack(f"{order}i", 4326) + struct.pack(f"{order}4d", x, x, y, y)
    return header + shapely.to_wkb(Point(x, y), byte_order=0 if big_endian else 1, flavor="iso")


@pytest.mark.parametrize("big_endian", [False, True])
def test_geopackage_reads_point_blobs_written_by_other_tools(store, big_endian):
    with store.write_session() as session:
        session.add(Facility(code="T-odd", name="odd", category="monument", county_code="350802",
                             geom=Point(116.0, 25.0)))
        session.commit()
        row_id = session.query(Facility.id).filter_by(code="T-odd").scalar()
    with store.write_session() as session:
        # As QGIS or GDAL might rewrite it: the R*Tree triggers index the new blob.
        session.connection().exec_driver_sql(
            "UPDATE facilities SET geom = ? WHERE id = ?",
            (_point_blob_with_envelope(X_ODD, 25.0625, big_endian), row_id),
        )
        session.commit()
    spatial = for_store(store)
    with store.session() as session:
        # X_ODD is 5e-8 deg east of QB; its float32 index bounds cross both QB's edge and the
        # slightly wider box's edge, so both answers come from the exact test of the odd blob.
        assert spatial.by_box(session, "facilities", *QB) == []
        assert spatial.by_box(session, "facilities", 117.0, 25.0, 117.1250001, 25.125) == [row_id]
        assert spatial.by_box(session, "facilities", X_ODD, 25.0, X_ODD, 25.125) == [row_id]
        assert spatial.intersecting(session, "facilities", Point(X_ODD, 25.0625)) == [row_id]
        assert spatial.within_distance(session, "facilities", Point(117.125, 25.07), 1000.0) == [row_id]
        assert spatial.nearest(session, "facilities", Point(X_ODD, 25.0625), 1) == [(row_id, 0.0)]


# --- the same answers as a brute-force oracle, on a random dataset ---------------------------------

def _random_dataset(seed: int = 20240601):
    rng = np.random.default_rng(seed)
    points = [Point(x, y) for x, y in zip(rng.uniform(116.9, 117.1, 300), rng.uniform(25.0, 25.2, 300), strict=True)]
    # Round a few onto a grid so that boxes with the same grid edges touch them exactly.
    points += [Point(117.0 + i / 64, 25.0 + j / 64) for i in range(-4, 5) for j in range(0, 12, 3)]
    zones = []
    for x, y, r in zip(rng.uniform(116.9, 117.1, 40), rng.uniform(25.0, 25.2, 40), rng.uniform(0.002, 0.02, 40),
                       strict=True):
        zones.append(Point(x, y).buffer(r, quad_segs=4))
    retired_points = set(rng.choice(len(points), 30, replace=False).tolist())
    retired_zones = set(rng.choice(len(zones), 4, replace=False).tolist())
    return points, zones, retired_points, retired_zones


def _oracle_within(geoms, live, query, metres):
    query_m, epsg = to_metric(query)
    return [i for i, g in geoms.items() if live[i] and to_metric(g, epsg)[0].distance(query_m) <= metres]


def _oracle_nearest(geoms, live, query, k):
    query_m, epsg = to_metric(query)
    ranked = sorted((to_metric(g, epsg)[0].distance(query_m), i) for i, g in geoms.items() if live[i])
    return [(i, d) for d, i in ranked[:k]]


def test_random_queries_agree_with_brute_force(any_store):
    points, zones, retired_points, retired_zones = _random_dataset()
    with any_store.write_session() as session:
        rows = [Facility(code=f"R-{i}", name=f"r{i}", category="monument", county_code="350802",
                         status="retired" if i in retired_points else "active", geom=p)
                for i, p in enumerate(points)]
        session.add_all(rows)
        session.flush()
        zone_rows = [FacilityZone(facility_id=rows[0].id, kind="footprint", geom=MultiPolygon([z]),
                                  status="retired" if i in retired_zones else "active")
                     for i, z in enumerate(zones)]
        session.add_all(zone_rows)
        session.commit()
        layers = {
            "facilities": ({r.id: p for r, p in zip(rows, points, strict=True)},
                           {r.id: r.status != "retired" for r in rows}),
            "facility_zones": ({r.id: z for r, z in zip(zone_rows, zones, strict=True)},
                               {r.id: r.status != "retired" for r in zone_rows}),
        }
    spatial = for_store(any_store)
    rng = np.random.default_rng(7)
    with any_store.session() as session:
        for layer, (geoms, live) in layers.items():
            for _ in range(15):
                x0, y0 = rng.uniform(116.9, 117.1), rng.uniform(25.0, 25.2)
                x1, y1 = x0 + rng.uniform(0, 0.05), y0 + rng.uniform(0, 0.05)
                for b in ((x0, y0, x1, y1), (117.0 - 1 / 64, 25.0, 117.0 + 1 / 32, 25.0 + 6 / 64)):
                    want = sorted(i for i, g in geoms.items() if live[i] and g.intersects(box(*b)))
                    assert spatial.by_box(session, layer, *b) == want, (layer, b)
                    every = sorted(i for i, g in geoms.items() if g.intersects(box(*b)))
                    assert spatial.by_box(session, layer, *b, include_retired=True) == every, (layer, b)
                query = Point(x0, y0).buffer(rng.uniform(0.001, 0.03), quad_segs=3)
                want = sorted(i for i, g in geoms.items() if live[i] and g.intersects(query))
                assert spatial.intersecting(session, layer, query) == want, (layer, query.wkt)
                metres = float(rng.uniform(50, 3000))
                assert spatial.within_distance(session, layer, Point(x1, y1), metres) == _oracle_within(
                    geoms, live, Point(x1, y1), metres
                ), (layer, x1, y1, metres)
                k = int(rng.integers(1, 12))
                got = spatial.nearest(session, layer, Point(x1, y0), k)
                want = _oracle_nearest(geoms, live, Point(x1, y0), k)
                assert [i for i, _ in got] == [i for i, _ in want], (layer, x1, y0, k)
                assert np.allclose([d for _, d in got], [d for _, d in want], rtol=0, atol=1e-6)
        # Zones far outside the data: the nearest search grows until it reaches them.
        got = spatial.nearest(session, "facility_zones", Point(118.5, 26.5), 2)
        want = _oracle_nearest(*layers["facility_zones"], Point(118.5, 26.5), 2)
        assert [i for i, _ in got] == [i for i, _ in want]

"""The demo's sketched county outlines: drawn on a map without a base map, marked approximate, judged by nothing."""

from __future__ import annotations

from shapely.geometry import Point, shape
from shapely.ops import unary_union
from sqlalchemy import select

from registry import demo as demo_data
from registry.models import Division, Facility
from registry.services import divisions
from registry.services.corrections.fields import check_position
from registry.services.demo import load_demo

COUNTIES = {"350802", "350803", "350821", "350823", "350824", "350825", "350881",
            "350404", "350421", "350423", "350424"}
GUTIAN = (116.818, 25.225)  # a real site of the demo, in 上杭县 and far from its seat


def seats_extent():
    seats = [(r["seat_lon"], r["seat_lat"]) for r in demo_data.demo_divisions() if r["level"] == "county"]
    return (min(x for x, _ in seats), min(y for _, y in seats), max(x for x, _ in seats), max(y for _, y in seats))


def test_after_demo_load_the_map_outlines_the_counties_and_no_check_judges_by_them(any_app):
    store = any_app.extensions["registry_store"]
    load_demo(store)
    client = any_app.test_client()
    features = client.get("/api/boundaries/county.geojson").get_json()["features"]
    assert {f["properties"]["code"] for f in features} == COUNTIES
    assert all(f["properties"]["approximate"] is True for f in features)
    with store.session() as session:
        stored = session.execute(select(Division.boundary, Division.boundary_approximate)
                                 .where(Division.level == "county")).all()
    assert {(b.geom_type, flag) for b, flag in stored} == {("MultiPolygon", True)} and len(stored) == 11
    outlines = {f["properties"]["code"]: shape(f["geometry"]) for f in features}
    assert outlines["350823"].covers(Point(*GUTIAN))
    # The sketches hold every demo facility, so the markers sit inside the outlines.
    around = unary_union(list(outlines.values())).buffer(0.01)
    with store.session() as session:
        assert all(around.covers(geom) for geom in session.scalars(select(Facility.geom)))

    # Nothing judges by them: no point is located, the extent and first view are the seats' as before.
    known = divisions.current(store)
    assert known.locate(*GUTIAN) is None
    assert all(known.locate(lon, lat) is None for _name, lon, lat in known.counties().values())
    assert all(boundary is None for *_seat, boundary in known.ledger_counties().values())
    x0, y0, x1, y1 = seats_extent()
    assert known.extent() == (x0, y0, x1, y1)
    assert divisions.first_view(store) == ((round((y0 + y1) / 2, 4), round((x0 + x1) / 2, 4)), 9)
    # A correction's position is checked against the seats' extent, not a sketch: a point in another
    # county's outline is still taken for a record of 长汀县.
    with store.session() as session:
        assert check_position(session, *GUTIAN, "350821") == GUTIAN

"""The visit route page on both stores: the order shown, the day's due list, county rights and refused input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from geodata.crs import wgs84_to_gcj02
from registry.models import AuditEvent, Facility
from tests.factories import CHANGTING, as_user, backdate, facility, people

# Four places on one parallel, about 1 km apart, created out of order: B, D, A, C (west to east A B C D).
LINE = {"A": 116.40, "B": 116.41, "C": 116.42, "D": 116.43}
LAT = 25.05


@pytest.fixture
def world(any_app, any_store):
    people(any_store)
    made = {key: facility(any_store, lonlat=(LINE[key], LAT), name=f"线上纪念碑{key}") for key in "BDAC"}
    far = facility(any_store, county=CHANGTING, lonlat=(116.36, 25.84), name="长汀的纪念碑")
    return any_app, any_store, {k: f.id for k, f in made.items()}, far.id


def _names(page: str) -> list[str]:
    """The facility names of the ordered list, in the order the page shows them."""
    route = page.split('class="visit-list"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'class="visit-stop__name">([^<]+)<', route)


def _legs(page: str) -> list[float]:
    return [float(v) for v in re.findall(r'data-leg-km="([\d.]+)"', page)]


def _total(page: str) -> float:
    return float(re.search(r'data-total-km="([\d.]+)"', page).group(1))


def _writes(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.not_in(("forbidden", "login"))))


def _forbidden(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "forbidden"))


def _later() -> str:
    """A day by which every new facility is due (the station cadence is 91 days from registration)."""
    return (datetime.now(UTC) + timedelta(days=120)).date().isoformat()


def test_the_chosen_facilities_come_in_a_short_order_with_legs_and_total(world):
    app, _store, ids, _far = world
    query = "&".join(f"facility={ids[k]}" for k in "BDAC")
    response = as_user(app, "mgr").get(f"/manage/visits?chosen=1&{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert _names(page) in (["线上纪念碑A", "线上纪念碑B", "线上纪念碑C", "线上纪念碑D"],
                            ["线上纪念碑D", "线上纪念碑C", "线上纪念碑B", "线上纪念碑A"])
    assert _legs(page)[1:] == [1.0, 1.0, 1.0]
    assert _total(page) == pytest.approx(3.0, abs=0.1) and "直线总距离 3.0 公里" in page
    # The map draws the same order: its script holds the stops numbered 1 to 4.
    assert page.count('"number": ') == 4 and "VisitRouteStops" in page


def test_a_typed_start_goes_first_and_the_way_back_is_counted(world):
    app, _store, ids, _far = world
    query = "&".join(f"facility={ids[k]}" for k in "BDAC")
    page = as_user(app, "mgr").get(f"/manage/visits?chosen=1&{query}&start_lon=116.44&start_lat={LAT}"
                                   "&back=on").get_data(as_text=True)
    assert _names(page) == ["线上纪念碑D", "线上纪念碑C", "线上纪念碑B", "线上纪念碑A"]
    assert _legs(page) == [1.0, 1.0, 1.0, 1.0]
    assert "距出发点 1.0 公里" in page and "返回出发点 4.0 公里" in page
    assert _total(page) == pytest.approx(8.0, abs=0.15)


def test_a_start_typed_in_gcj02_is_converted_before_ordering(world):
    app, _store, ids, _far = world
    lon, lat = wgs84_to_gcj02(116.44, LAT)  # as a phone's map app would give the point
    page = as_user(app, "mgr").get(f"/manage/visits?chosen=1&facility={ids['A']}&facility={ids['D']}"
                                   f"&start_lon={lon:.7f}&start_lat={lat:.7f}&start_crs=GCJ-02").get_data(as_text=True)
    assert "出发点：116.44000, 25.05000" in page
    assert _names(page) == ["线上纪念碑D", "线上纪念碑A"] and _legs(page) == [1.0, 3.0]


def test_a_start_facility_and_an_added_code(world):
    app, store, ids, _far = world
    extra = facility(store, lonlat=(116.45, LAT), name="另加的纪念碑")
    page = as_user(app, "mgr").get(f"/manage/visits?chosen=1&facility={ids['A']}&facility={ids['C']}"
                                   f"&add={extra.code}&start_facility={ids['B']}").get_data(as_text=True)
    # From B: west to A first (1 km), then east past B to C and on (6 km), not C, the extra one, A (9 km).
    assert _names(page) == ["线上纪念碑A", "线上纪念碑C", "另加的纪念碑"]
    assert "出发点：线上纪念碑B" in page


def test_by_default_the_route_holds_the_facilities_due_that_day(world):
    app, store, ids, _far = world
    backdate(store, ids["A"], 120)  # overdue today; the others were registered today
    client = as_user(app, "mgr")
    today = client.get("/manage/visits").get_data(as_text=True)
    assert _names(today) == ["线上纪念碑A"]
    # Later every one of them is due: all four, in order; the other county's is never offered.
    later = client.get(f"/manage/visits?day={_later()}").get_data(as_text=True)
    assert sorted(_names(later)) == ["线上纪念碑A", "线上纪念碑B", "线上纪念碑C", "线上纪念碑D"]
    assert "长汀的纪念碑" not in later
    # Unticking every box is a route of nothing, not the default again.
    assert "没有选择设施" in client.get(f"/manage/visits?chosen=1&day={_later()}").get_data(as_text=True)
    # The due list links to the page.
    assert "/manage/visits" in client.get("/manage").get_data(as_text=True)


def test_a_facility_of_another_county_is_refused_by_name_and_audited(world):
    app, store, ids, far = world
    before_writes, before_refused = _writes(store), _forbidden(store)
    response = as_user(app, "mgr").get(f"/manage/visits?chosen=1&facility={ids['A']}&facility={far}")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "长汀的纪念碑" in page and "facility" in page and 'class="visit-list"' not in page
    assert _writes(store) == before_writes and _forbidden(store) == before_refused + 1
    start = as_user(app, "mgr").get(f"/manage/visits?chosen=1&facility={ids['A']}&start_facility={far}")
    assert start.status_code == 403 and "长汀的纪念碑" in start.get_data(as_text=True)
    typed = as_user(app, "mgr").get(f"/manage/visits?add={CHANGTING}-T")
    assert typed.status_code == 400  # a code that is no facility at all
    with store.session() as s:
        code = s.get(Facility, far).code
    added = as_user(app, "mgr").get(f"/manage/visits?add={code}")
    assert added.status_code == 403 and "长汀的纪念碑" in added.get_data(as_text=True)
    assert 'data-field="add"' in added.get_data(as_text=True)
    other_county = as_user(app, "mgr").get(f"/manage/visits?county={CHANGTING}")
    assert other_county.status_code == 403


def test_administrators_plan_across_counties_and_other_roles_are_refused(world):
    app, _store, ids, far = world
    page = as_user(app, "admin1").get(f"/manage/visits?chosen=1&facility={ids['A']}&facility={far}")
    assert page.status_code == 200 and sorted(_names(page.get_data(as_text=True))) == ["线上纪念碑A", "长汀的纪念碑"]
    assert "长汀的纪念碑" in as_user(app, "other").get(f"/manage/visits?day={_later()}").get_data(as_text=True)
    for role in ("reviewer1", "planner1"):
        assert as_user(app, role).get("/manage/visits").status_code == 403
    anonymous = as_user(app, None).get("/manage/visits")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.parametrize(("query", "status", "field", "words"), [
    ("chosen=1&facility=999999", 400, "facility", "facility 999999 is not an active facility"),
    ("chosen=1&facility=abc", 400, "facility", "'abc' is not a facility number"),
    ("add=NO-SUCH-CODE", 400, "add", "no active facility has the code 'NO-SUCH-CODE'"),
    ("day=2026-13-45", 400, "day", "day '2026-13-45' is not a date"),
    ("county=999999", 400, "county", "999999"),
    ("start_lon=abc&start_lat=25.05", 400, "start", "longitude"),
    ("start_lon=116.4&start_lat=95", 400, "start", "latitude"),
    ("start_lon=116.4", 400, "start", "latitude"),
    ("start_lon=116.4&start_lat=25.05&start_crs=EPSG:3857", 400, "start_crs", "EPSG:3857"),
    ("start_facility=999999", 400, "start_facility", "facility 999999"),
    ("start_facility={A}&start_lon=116.4&start_lat=25.05", 400, "start", "not both"),
    ("back=on", 400, "back", "needs a start point"),
])
def test_bad_input_names_the_field_and_changes_nothing(world, query, status, field, words):
    app, store, ids, _far = world
    before = _writes(store)
    response = as_user(app, "mgr").get("/manage/visits?" + query.format(**ids))
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert f'data-field="{field}"' in page and words.replace("'", "&#39;") in page
    assert 'class="visit-list"' not in page
    assert _writes(store) == before

"""The demo's second city, on both stores: its county manager works through the due list and imports a ledger;
its city manager sees all its counties and none of Longyan's."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from registry import demo as demo_data
from registry.demo.places import SANMING as SANMING_COUNTIES
from registry.models import Facility, Relocation, User
from registry.services import Actor
from registry.services.demo import load_demo
from registry.services.manage.due import STATUSES, Cadence, statuses
from registry.services.relocations.reconciliation import reconcile
from registry.services.users import as_actor, create_demo_users
from tests.factories import form

QINGLIU = "350423"
SANMING = "350400"
PASSWORD = "demo-manager-pass"
# The demo's "today": its inspections end there, so the due list of the demo is read as of that day.
DEMO_NOW = datetime(demo_data.TODAY.year, demo_data.TODAY.month, demo_data.TODAY.day, 12, tzinfo=UTC)


@pytest.fixture
def demo_app(any_app):
    store = any_app.extensions["registry_store"]
    load_demo(store)
    create_demo_users(store, Actor.system("test"))
    return any_app


def sign_in(app, username):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def actor_of(store, username):
    with store.session() as s:
        return as_actor(s.scalar(select(User).where(User.username == username)), s)


def facilities_by_county(store) -> dict[str, dict[int, str]]:
    with store.session() as s:
        rows = s.execute(select(Facility.county_code, Facility.id, Facility.name)).all()
    out: dict[str, dict[int, str]] = {}
    for county, fid, name in rows:
        out.setdefault(county, {})[fid] = name
    return out


def test_a_county_manager_of_the_second_city_works_through_the_due_list_and_a_ledger_import(demo_app):
    store = demo_app.extensions["registry_store"]
    mine = facilities_by_county(store)[QINGLIU]
    others = {name for county, named in facilities_by_county(store).items() if county != QINGLIU
              for name in named.values()}
    actor = actor_of(store, "manager3")
    assert actor.counties == (QINGLIU,)

    # The due list as of the demo's day: the county's demo facilities, with at least one overdue.
    due = statuses(store, actor, Cadence(), now=DEMO_NOW)
    assert {d.id for d in due} == set(mine)
    overdue = [d for d in due if d.status == "overdue"]
    assert overdue and [d.status for d in due] == sorted((d.status for d in due), key=STATUSES.index)
    client = sign_in(demo_app, "manager3")
    page = client.get("/manage").get_data(as_text=True)
    assert all(name in page for name in mine.values())
    assert not any(name in page for name in others)

    # Work through it: inspect the first overdue facility from the form; it is overdue no longer.
    target = overdue[0]
    data = form(key="second-city-0001", tier="county")
    response = client.post(f"/manage/facilities/{target.id}/inspect", data=data, content_type="multipart/form-data",
                           headers={"Accept": "application/json"})
    assert response.status_code == 201, response.get_data(as_text=True)
    after = {d.id: d for d in statuses(store, actor, Cadence())}
    assert after[target.id].status != "overdue" and after[target.id].last_inspected.date() == datetime.now(UTC).date()

    # A ledger of the county: previewed, committed, and the relocations are the county's.
    ledger = ("编号,县区,原址,经度,纬度,迁入地,家属同意,安葬日期\n"
              "QL-901,清流县,嵩溪镇某村,116.80,26.20,清流县烈士陵园（示例）,是,2022-05-01\n"
              "QL-902,清流,林畲镇某村,116.85,26.15,清流县烈士陵园（示例）,是,2022-05-02\n").encode()
    with store.session() as s:
        before = s.scalar(select(func.count(Relocation.id)))
    preview = client.post("/relocations/import/preview", content_type="multipart/form-data", data={
        "file": (io.BytesIO(ledger), "清流台账.csv"), "crs": "EPSG:4326"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-errors="0"' in html and 'data-new="2"' in html, html
    token = re.search(r'name="token" value="([0-9a-f]{64})"', html).group(1)
    commit = client.post("/relocations/import/commit", data={"token": token, "filename": "清流台账.csv",
                                                             "crs": "EPSG:4326", "mapping": ""})
    assert commit.status_code == 302
    assert 'data-added="2"' in client.get(commit.headers["Location"]).get_data(as_text=True)
    with store.session() as s:
        assert s.scalar(select(func.count(Relocation.id))) == before + 2
        new = s.execute(select(Relocation.code, Relocation.origin_county_code)
                        .where(Relocation.code.in_(("QL-901", "QL-902")))).all()
    assert sorted(new) == [("QL-901", QINGLIU), ("QL-902", QINGLIU)]
    listed = client.get("/relocations").get_data(as_text=True)
    assert "QL-901" in listed and "350803-R" not in listed

    # Another county of the same city is not theirs: its page and its ledger rows are refused.
    other = next(iter(facilities_by_county(store)["350424"]))
    assert client.get(f"/manage/facilities/{other}").status_code == 403
    assert client.get("/manage?county=350424").status_code == 403


def test_a_city_manager_sees_every_county_of_the_second_city_and_none_of_longyan(demo_app):
    store = demo_app.extensions["registry_store"]
    by_county = facilities_by_county(store)
    sanming = set(SANMING_COUNTIES)
    city_names = {name for county in sanming for name in by_county[county].values()}
    longyan_names = {name for county, named in by_county.items() if county not in sanming for name in named.values()}
    actor = actor_of(store, "citymanager")
    assert set(actor.counties) == sanming

    due = statuses(store, actor, Cadence(), now=DEMO_NOW)
    assert {d.county_code for d in due} == sanming
    assert len(due) == demo_data.generate().by_city[SANMING]["facilities"]
    client = sign_in(demo_app, "citymanager")
    page = client.get("/manage").get_data(as_text=True)
    assert all(name in page for name in city_names)
    assert not any(name in page for name in longyan_names)
    ledgers = client.get("/manage/ledgers").get_data(as_text=True)
    assert all(SANMING_COUNTIES[c][0] in ledgers for c in sanming) and "上杭县" not in ledgers

    # Reports: the reconciliation and the journeys are the city's alone.
    result = reconcile(store, actor=actor)
    assert {line.county for line in result.counties} == sanming
    assert result.total.relocated == demo_data.SECOND_CITY_RELOCATIONS
    html = client.get("/relocations/reconciliation").get_data(as_text=True)
    assert f'data-total="relocated">{demo_data.SECOND_CITY_RELOCATIONS}<' in html and "上杭县" not in html
    assert '<option value="350400" selected>' in html  # their city's report, by default
    journeys = client.get("/relocations/journeys.geojson").get_json()
    assert journeys["journeys"] == demo_data.SECOND_CITY_RELOCATIONS

    # Longyan's records stay closed to them.
    gutian = next(fid for fid, name in by_county["350823"].items() if name == "古田会议会址")
    assert client.get(f"/manage/facilities/{gutian}").status_code == 403
    assert client.get("/manage?county=350823").status_code == 403
    assert client.get("/relocations/reconciliation?county=350823").status_code == 403

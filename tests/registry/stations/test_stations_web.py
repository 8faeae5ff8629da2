"""The managers' stations: lists and pages by county rights, the edit with its audit event, and each bad input
refused naming the field with nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, ServiceStation
from tests.factories import CHANGTING, SHANGHANG


def _station(store, county: str, level: str = "village", offset: int = 0) -> ServiceStation:
    with store.session() as s:
        return s.scalars(select(ServiceStation).where(ServiceStation.county_code == county,
                                                      ServiceStation.level == level)
                         .order_by(ServiceStation.id).offset(offset).limit(1)).one()


def _events(store, station_id: int) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "service_stations", AuditEvent.entity_id == station_id))


def test_a_manager_lists_only_their_county(demo, signed_in):
    _app, store, _people = demo
    page = signed_in("mgr").get("/manage/stations")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    with store.session() as s:
        own = s.scalar(select(func.count()).select_from(ServiceStation).where(ServiceStation.county_code == SHANGHANG))
    assert f'data-total="{own}"' in text
    assert "上杭县" in text and "长汀县退役军人服务中心" not in text
    # Filters: a level, a demonstration status and a gap of the 五有 narrow the list.
    centre = signed_in("mgr").get("/manage/stations?level=county").get_data(as_text=True)
    assert 'data-total="1"' in centre and "上杭县退役军人服务中心" in centre
    gaps = signed_in("mgr").get("/manage/stations?gap=has_funds").get_data(as_text=True)
    with store.session() as s:
        lacking = s.scalar(select(func.count()).select_from(ServiceStation).where(
            ServiceStation.county_code == SHANGHANG, ServiceStation.has_funds.is_(False)))
    assert lacking and f'data-total="{lacking}"' in gaps
    assert signed_in("mgr").get("/manage/stations?level=hamlet").status_code == 400


def test_another_county_is_forbidden_on_read_and_write(demo, signed_in):
    _app, store, _people = demo
    theirs = _station(store, CHANGTING)
    manager = signed_in("mgr")
    assert manager.get(f"/manage/stations?county={CHANGTING}").status_code == 403
    assert manager.get(f"/manage/stations/{theirs.id}").status_code == 403
    assert manager.get(f"/manage/stations/{theirs.id}/edit").status_code == 403
    refused = manager.post(f"/manage/stations/{theirs.id}/edit",
                           data={"version": theirs.version, "phone": "13900000000"})
    assert refused.status_code == 403 and "长汀县" in refused.get_data(as_text=True)
    with store.session() as s:
        assert s.get(ServiceStation, theirs.id).phone == theirs.phone
    assert _events(store, theirs.id) == 0
    # Their own manager and a reviewer read it; a reviewer may not edit it; a planner reads none.
    assert signed_in("other").get(f"/manage/stations/{theirs.id}").status_code == 200
    assert signed_in("reviewer1").get(f"/manage/stations/{theirs.id}").status_code == 200
    assert signed_in("reviewer1").get(f"/manage/stations/{theirs.id}/edit").status_code == 403
    assert signed_in("planner1").get("/manage/stations").status_code == 403


def test_the_county_manager_edits_the_checklist_hours_and_phone(demo, signed_in):
    _app, store, _people = demo
    station = _station(store, SHANGHANG, offset=1)
    form = {"version": station.version, "has_body": "on", "has_posts": "on", "has_staff": "on",
            "opening_hours": "周二、周四 9:00—11:30", "phone": "0597 3856 123"}
    done = signed_in("mgr").post(f"/manage/stations/{station.id}/edit", data=form)
    assert done.status_code == 302
    page = signed_in("mgr").get(f"/manage/stations/{station.id}").get_data(as_text=True)
    assert "周二、周四 9:00—11:30" in page and "05973856123" in page
    assert 'data-have="has_funds" data-present="no"' in page and 'data-have="has_body" data-present="yes"' in page
    with store.session() as s:
        saved = s.get(ServiceStation, station.id)
        assert saved.version == station.version + 1 and not saved.has_funds and not saved.has_provisions
        # The edit changed facts, not the point: the facts' provenance says so, the position's is the demo's.
        assert (saved.facts_source, saved.position_source) == ("staff_edit", station.position_source)
        assert saved.position_source == "map_digitising"  # the demo's stations are approximate points
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "service_stations",
                                                   AuditEvent.entity_id == station.id)).one()
    assert (event.action, event.actor_name) == ("update", "mgr")
    assert event.before["phone"] == station.phone and event.after["phone"] == "05973856123"
    assert event.after["county_code"] == SHANGHANG
    history = signed_in("mgr").get(f"/history/service_stations/{station.id}")
    assert history.status_code == 200 and "05973856123" in history.get_data(as_text=True)


@pytest.mark.parametrize(("change", "field", "status", "words"), [
    ({"phone": "call 0597"}, "phone", 400, "is not a phone number"),
    ({"phone": "0597-12"}, "phone", 400, "is not a phone number"),
    ({"opening_hours": "周一" * 101}, "opening_hours", 400, "at most 200"),
    ({"version": 0}, "version", 409, "version"),
])
def test_bad_input_names_the_field_and_changes_nothing(demo, signed_in, change, field, status, words):
    _app, store, _people = demo
    station = _station(store, SHANGHANG, offset=2)
    form = {"version": station.version, "has_body": "on", "opening_hours": "新时间", "phone": "13912345678"}
    form.update(change)
    refused = signed_in("mgr").post(f"/manage/stations/{station.id}/edit", data=form)
    text = refused.get_data(as_text=True)
    assert refused.status_code == status
    assert f'data-field="{field}"' in text and words in text
    with store.session() as s:
        after = s.get(ServiceStation, station.id)
        assert (after.version, after.phone, after.opening_hours, after.has_posts) == (
            station.version, station.phone, station.opening_hours, station.has_posts)
    assert _events(store, station.id) == 0

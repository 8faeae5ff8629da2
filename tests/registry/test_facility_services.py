"""Facility writes on both stores: each with its audit event, stale edits refused, nothing ever deleted."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Facility, FacilityName
from registry.services import Conflict, Forbidden, InvalidInput
from registry.services.facilities import create_facility, rename_facility, retire_facility, update_facility
from tests.factories import ADMIN, SHANGHANG_MANAGER


def gutian(**extra):
    values = {"code": "350823-F9001", "name": "古田会议会址", "category": "memorial_hall", "level": "national",
              "county_code": "350823", "lon": 116.818, "lat": 25.225}
    values.update(extra)
    return values


def counts(store):
    with store.session() as s:
        return (s.scalar(select(func.count(Facility.id))), s.scalar(select(func.count(AuditEvent.id))))


def test_create_writes_record_name_history_and_audit(any_store):
    facility = create_facility(any_store, ADMIN, gutian())
    with any_store.session() as s:
        stored = s.get(Facility, facility.id)
        assert stored.name == "古田会议会址" and stored.version == 1
        assert (stored.geom.x, stored.geom.y) == (116.818, 25.225)
        assert s.scalars(select(FacilityName.name).where(FacilityName.facility_id == facility.id)).all() == [
            "古田会议会址"]
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "facilities")).one()
        assert event.action == "create" and event.actor_name == "tester" and event.before is None
        assert event.after["name"] == "古田会议会址" and event.after["geom"] == "POINT (116.818 25.225)"


def test_update_records_before_and_after(any_store):
    facility = create_facility(any_store, ADMIN, gutian())
    update_facility(any_store, ADMIN, facility.id, 1, {"caretaker": "张某（示例）", "sign_present": True})
    with any_store.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
        assert event.before["caretaker"] is None and event.after["caretaker"] == "张某（示例）"
        assert event.before["version"] == 1 and event.after["version"] == 2


def test_a_stale_edit_is_refused_and_changes_nothing(any_store):
    facility = create_facility(any_store, ADMIN, gutian())
    update_facility(any_store, ADMIN, facility.id, 1, {"caretaker": "first"})
    before = counts(any_store)
    with pytest.raises(Conflict, match="version 2 but your edit was made on version 1"):
        update_facility(any_store, ADMIN, facility.id, 1, {"caretaker": "second"})
    assert counts(any_store) == before
    with any_store.session() as s:
        assert s.get(Facility, facility.id).caretaker == "first"


def test_rename_keeps_the_history_of_names(any_store):
    facility = create_facility(any_store, ADMIN, gutian())
    rename_facility(any_store, ADMIN, facility.id, 1, "古田会议旧址", "闽政〔2022〕1号", "福建省人民政府",
                    date(2022, 5, 1))
    with any_store.session() as s:
        names = s.execute(select(FacilityName.name, FacilityName.valid_to, FacilityName.approval_number)
                          .where(FacilityName.facility_id == facility.id).order_by(FacilityName.id)).all()
        assert [n[0] for n in names] == ["古田会议会址", "古田会议旧址"]
        assert names[0][1] == date(2022, 5, 1) and names[1][2] == "闽政〔2022〕1号"
        assert s.get(Facility, facility.id).name == "古田会议旧址"


def test_retire_is_a_state_not_a_deleted_row(any_store):
    facility = create_facility(any_store, ADMIN, gutian())
    retire_facility(any_store, ADMIN, facility.id, 1, "merged into the county cemetery")
    with any_store.session() as s:
        stored = s.get(Facility, facility.id)
        assert stored.status == "retired" and stored.retired_reason == "merged into the county cemetery"


@pytest.mark.parametrize("changes, field, message", [
    ({"lon": 200}, "position", "longitude 200"),
    ({"lon": 25.225, "lat": 116.818}, "position", "swapped"),
    ({"lon": 2.35, "lat": 48.85}, "position", "outside China"),
    ({"category": "castle"}, "category", "category 'castle' is not one of"),
    ({"level": "world"}, "level", "level 'world'"),
    ({"county_code": "110101"}, "county_code", "not a known county"),
    ({"std_road": "paved"}, "std_road", "must be one of present"),
    ({"name": ""}, "name", "name is required"),
    ({"colour": "red"}, "colour", "unknown fields: colour"),
])
def test_bad_input_names_the_field_and_writes_nothing(store, changes, field, message):
    before = counts(store)
    with pytest.raises(InvalidInput) as info:
        create_facility(store, ADMIN, gutian(**changes))
    assert info.value.field == field
    assert message in info.value.message
    assert counts(store) == before


def test_rename_needs_an_approval_number(store):
    facility = create_facility(store, ADMIN, gutian())
    with pytest.raises(InvalidInput, match="approval number"):
        rename_facility(store, ADMIN, facility.id, 1, "新名", "", "县政府", date(2022, 1, 1))


def test_a_manager_writes_only_in_their_counties(store):
    facility = create_facility(store, ADMIN, gutian(county_code="350821", code="350821-F1"))
    before = counts(store)
    with pytest.raises(Forbidden, match="may not edit facilities in county 350821"):
        update_facility(store, SHANGHANG_MANAGER, facility.id, 1, {"caretaker": "x"})
    assert counts(store) == before
    mine = create_facility(store, SHANGHANG_MANAGER, gutian(code="350823-F2"))
    assert mine.county_code == "350823"


def test_a_duplicate_code_is_refused(store):
    create_facility(store, ADMIN, gutian())
    with pytest.raises(Conflict, match="already used"):
        create_facility(store, ADMIN, gutian(name="another"))

"""`load`, the one way services fetch a record by id or answer 404 "no <thing> <id>", on both stores."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Facility, MaintenanceTask
from registry.services import NotFound
from registry.services.base import load
from registry.services.facilities import create_facility, retire_facility
from registry.services.manage.inspections import facility_for_form
from registry.services.manage.tasks import create_task, get_task
from registry.services.plan.plans import get_plan
from tests.factories import ADMIN


def gutian(store) -> Facility:
    return create_facility(store, ADMIN, {
        "code": "350823-F9001", "name": "古田会议会址", "category": "memorial_hall", "level": "national",
        "county_code": "350823", "lon": 116.818, "lat": 25.225})


def written(store) -> tuple[int, int]:
    with store.session() as s:
        return s.scalar(select(func.count(MaintenanceTask.id))), s.scalar(select(func.count(AuditEvent.id)))


def test_load_returns_the_stored_record(any_store):
    facility = gutian(any_store)
    with any_store.session() as s:
        found = load(s, Facility, facility.id, "facility")
        assert (found.id, found.name, found.county_code) == (facility.id, "古田会议会址", "350823")


def test_a_missing_record_is_not_found_with_the_noun_and_the_id(any_store):
    with any_store.session() as s:
        with pytest.raises(NotFound) as caught:
            load(s, Facility, 424242, "facility")
    assert caught.value.message == "no facility 424242"
    assert str(caught.value) == "no facility 424242"
    assert caught.value.status == 404


def test_a_retired_record_is_missing_only_where_the_caller_hides_it(any_store):
    facility = gutian(any_store)
    retire_facility(any_store, ADMIN, facility.id, 1, "merged into another site")
    with any_store.session() as s:
        assert load(s, Facility, facility.id, "facility").status == "retired"
        with pytest.raises(NotFound, match=rf"^no facility {facility.id}$"):
            load(s, Facility, facility.id, "facility", hide_retired=True)
        with pytest.raises(NotFound, match=rf"^no active facility {facility.id}$"):
            load(s, Facility, facility.id, "active facility", active_only=True)


def test_services_keep_their_messages(any_store):
    facility = gutian(any_store)
    with pytest.raises(NotFound, match=r"^no work order 777$"):
        get_task(any_store, ADMIN, 777)
    with pytest.raises(NotFound, match=r"^no plan 778$"):
        get_plan(any_store, 778)
    with pytest.raises(NotFound, match=r"^no facility 779$"):
        facility_for_form(any_store, ADMIN, 779)
    retire_facility(any_store, ADMIN, facility.id, 1, "merged into another site")
    before = written(any_store)
    with pytest.raises(NotFound, match=rf"^no active facility {facility.id}$"):
        create_task(any_store, ADMIN, facility.id, {"title": "repair the steps"})
    assert written(any_store) == before

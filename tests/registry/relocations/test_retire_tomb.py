"""Staff retire a tomb that is not the martyr's grave, from the reconciliation's list of martyrs with two graves."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Tomb
from registry.services import Actor, Conflict, Forbidden
from registry.services import relocations as service
from registry.services.users import create_demo_users
from tests.factories import DESTINATIONS, demo_login, new_martyr, new_tomb, rebury

PAGE = "/relocations/reconciliation"


@pytest.fixture
def graves(any_app, any_store, dests):
    """李明 lies in the Changting cemetery (county 350821) and was reburied in Shanghang's (350823) by G1."""
    create_demo_users(any_store, Actor.system("test"))
    martyr = new_martyr(any_store, "李明")
    left = new_tomb(any_store, dests["CT-CEM"], martyr, plot=("乙区", "1排", "5号"))
    moved = rebury(any_store, dests, "G1", martyr, "12号").tomb_id
    return {"martyr": martyr, "left": left, "moved": moved}


def state(store, tomb_id):
    """What a refusal must leave alone: the tomb's status and version, and the audit events about it."""
    with store.session() as s:
        tomb = s.get(Tomb, tomb_id)
        events = s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.entity_type == "tombs",
                                                                  AuditEvent.entity_id == tomb_id))
        return tomb.status, tomb.version, events


def version_of(store, tomb_id):
    with store.session() as s:
        return s.get(Tomb, tomb_id).version


def section(response):
    html = response.get_data(as_text=True)
    return html[html.index('id="multi-graves"'):]


def retire(client, tomb_id, version, reason):
    return client.post(f"/relocations/tombs/{tomb_id}/retire", data={"version": version, "reason": reason})


def test_the_page_offers_a_form_per_tomb_to_those_who_may_retire(any_app, any_store, graves):
    html = section(demo_login(any_app, "manager2").get(PAGE))
    for tomb_id in (graves["left"], graves["moved"]):
        form = re.search(rf'<form method="post" action="/relocations/tombs/{tomb_id}/retire#multi-graves".*?</form>',
                         html, re.S)
        assert form, f"no retire form for tomb {tomb_id}"
        assert f'name="version" value="{version_of(any_store, tomb_id)}"' in form.group(0)
        assert re.search(r'<label>注销原因 <input name="reason" required', form.group(0))
        assert "注销此墓位</button>" in form.group(0)
    # A reviewer reads the list but retires nothing: no forms.
    assert "注销此墓位" not in section(demo_login(any_app, "reviewer").get(PAGE))


def test_retiring_by_the_form_takes_the_martyr_off_the_list(any_app, any_store, graves):
    client = demo_login(any_app, "manager2")  # Changting is one of manager2's counties
    left = graves["left"]
    response = retire(client, left, version_of(any_store, left), "  重复登记，烈士已迁葬上杭县烈士陵园  ")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{PAGE}#multi-graves")
    html = client.get(PAGE).get_data(as_text=True)
    assert f"墓位 {left} 已注销。" in html
    assert re.search(r'data-total="multi-graves">0<', html) and "data-martyr=" not in html
    with any_store.session() as s:
        tomb = s.get(Tomb, left)
        assert tomb.status == "retired"  # kept, not deleted
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "tombs", AuditEvent.entity_id == left,
                                                   AuditEvent.action == "retire")).one()
        assert (event.actor_name, event.note) == ("manager2", "重复登记，烈士已迁葬上杭县烈士陵园")
        assert (event.before["status"], event.after["status"]) == ("active", "retired")
        assert s.get(Tomb, graves["moved"]).status == "active"


def test_a_missing_reason_is_refused_naming_it(any_app, any_store, graves):
    client = demo_login(any_app, "admin")
    left = graves["left"]
    before = state(any_store, left)
    response = retire(client, left, version_of(any_store, left), "   ")
    assert response.status_code == 400
    html = section(response)
    assert 'data-field="reason"' in html and "a reason is required to retire a tomb" in html
    assert html.count("data-tomb=") == 2  # the list is still shown, both tombs on it
    assert state(any_store, left) == before


def test_a_stale_version_is_refused(any_app, any_store, graves):
    client = demo_login(any_app, "admin")
    left = graves["left"]
    before = state(any_store, left)
    response = retire(client, left, before[1] - 1, "重复登记")
    assert response.status_code == 409
    html = section(response)
    assert 'data-field="version"' in html and f"is at version {before[1]}" in html
    assert 'value="重复登记"' in html  # the reason typed is kept in that tomb's form
    assert state(any_store, left) == before


def test_another_countys_manager_is_refused_and_the_attempt_audited(any_app, any_store, graves):
    client = demo_login(any_app, "manager")  # Shanghang only; the tomb is in Changting
    left = graves["left"]
    before = state(any_store, left)
    response = retire(client, left, before[1], "重复登记")
    assert response.status_code == 403
    # Refused by the rights table before the view runs, naming the county.
    assert "may not change a record of 长汀县 (350821)" in response.get_data(as_text=True)
    assert "managers work only in their own counties" in response.get_data(as_text=True)
    assert state(any_store, left) == before
    with any_store.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "forbidden")).one()
    assert event.actor_name == "manager" and f"/relocations/tombs/{left}/retire" in event.note


def test_an_already_retired_tomb_is_a_conflict(any_app, any_store, graves):
    client = demo_login(any_app, "admin")
    left = graves["left"]
    old = version_of(any_store, left)
    assert retire(client, left, old, "重复登记").status_code == 302
    after = state(any_store, left)
    response = retire(client, left, version_of(any_store, left), "再次注销")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'data-field="status"' in html and f"tomb {left} is already retired" in html
    assert state(any_store, left) == after


def test_a_tomb_a_live_relocation_ends_at_is_refused_naming_it(any_app, any_store, graves):
    client = demo_login(any_app, "admin")
    moved = graves["moved"]
    before = state(any_store, moved)
    response = retire(client, moved, before[1], "重复登记")
    assert response.status_code == 409
    html = section(response)
    assert 'data-field="tomb"' in html and "relocation G1 ends" in html and "cancel or move that relocation" in html
    assert state(any_store, moved) == before


def test_a_tomb_at_no_facility_is_for_admins_only(any_store, dests):
    martyr = new_martyr(any_store, "张某")
    scattered = new_tomb(any_store, None, martyr)
    version = version_of(any_store, scattered)
    manager = Actor(name="m", roles=("manager",), counties=tuple(code for _, _, _, code, _, _ in DESTINATIONS))
    with pytest.raises(Forbidden, match="only an administrator"):
        service.retire_tomb(any_store, manager, scattered, version, "重复登记")
    assert state(any_store, scattered)[0] == "active"
    tomb = service.retire_tomb(any_store, Actor(name="a", roles=("admin",)), scattered, version, "重复登记")
    assert tomb.status == "retired" and state(any_store, scattered)[0] == "retired"
    with pytest.raises(Conflict, match="already retired"):
        service.retire_tomb(any_store, Actor(name="a", roles=("admin",)), scattered, version + 1, "重复登记")

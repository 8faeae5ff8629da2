"""Offline inspections on the server: the sync endpoint's JSON answers, the changed-facility flag, the worker."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from registry.models import Attachment, AuditEvent, Facility, Inspection
from registry.services.facilities import retire_facility, update_facility
from tests.conftest import make_app
from tests.factories import SYSTEM, as_user, backdate, facility, form, jpeg, people


@pytest.fixture
def app(any_folder_app):
    """The app over a fresh registry of each store kind, photos under the test's own folder."""
    return any_folder_app


def sync(client, facility_id, values, photos=()):
    data = dict(values)
    data["photos"] = [(io.BytesIO(body), name) for name, body in photos]
    return client.post(f"/manage/offline/facilities/{facility_id}/inspections", data=data,
                       content_type="multipart/form-data", headers={"Accept": "application/json"})


def count(store, model=Inspection):
    with store.session() as s:
        return s.scalar(select(func.count(model.id)))


def test_an_inspection_of_a_facility_changed_meanwhile_is_kept_and_flagged(app, store):
    actors = people(store)
    site = facility(store)
    seen = site.version
    client = as_user(app, "mgr")
    form_page = client.get(f"/manage/facilities/{site.id}/inspect").get_data(as_text=True)
    assert f'name="facility_version" value="{seen}"' in form_page
    # While the phone is offline, a colleague edits the facility.
    update_facility(store, actors["mgr2"], site.id, seen, {"caretaker": "王五"})

    answer = sync(client, site.id, form(key="queued-0001-changed", facility_version=str(seen)),
                  [("a.jpg", jpeg()), ("b.jpg", jpeg(colour=(10, 90, 10)))])
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["facility_changed"] is True and body["replayed"] is False
    assert count(store) == 1 and count(store, Attachment) == 2

    page = client.get(body["url"]).get_data(as_text=True)
    assert 'id="facility-changed"' in page and "王五" not in page
    queue = client.get("/manage/offline").get_data(as_text=True)
    assert f'data-inspection="{body["id"]}"' in queue
    with store.session() as s:
        note = s.scalar(select(AuditEvent.note).where(AuditEvent.entity_type == "inspections"))
    assert "facility changed since the form was opened" in note

    # The same queued key again (a second sync): the first inspection, nothing added.
    again = sync(client, site.id, form(key="queued-0001-changed", facility_version=str(seen)),
                 [("a.jpg", jpeg()), ("b.jpg", jpeg(colour=(10, 90, 10)))])
    assert again.status_code == 200 and again.get_json()["id"] == body["id"] and again.get_json()["replayed"]
    assert count(store) == 1 and count(store, Attachment) == 2


def test_an_inspection_of_an_unchanged_facility_is_not_flagged_and_the_plain_form_works(app, store):
    people(store)
    site = facility(store)
    client = as_user(app, "mgr")
    answer = sync(client, site.id, form(key="queued-0002-same", facility_version=str(site.version)))
    assert answer.status_code == 201 and answer.get_json()["facility_changed"] is False
    assert 'id="facility-changed"' not in client.get(answer.get_json()["url"]).get_data(as_text=True)
    assert 'id="flagged-none"' in client.get("/manage/offline").get_data(as_text=True)

    # Without JavaScript: the form posts and the browser follows the redirect, flag or not.
    with store.session() as s:
        opened = s.get(Facility, site.id).version
    update_facility(store, SYSTEM, site.id, opened, {"caretaker": "李四"})
    plain = client.post(f"/manage/facilities/{site.id}/inspect",
                        data=form(key="plain-form-0003", facility_version=str(opened)))
    assert plain.status_code == 303
    assert 'id="facility-changed"' in client.get(plain.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("case", ["retired", "other_county", "bad_photo", "bad_version", "no_condition"])
def test_refusals_answer_json_with_the_reason_and_the_field(app, store, case):
    actors = people(store)
    site = facility(store)
    client = as_user(app, "mgr")
    values, photos = form(key=f"refused-{case}"), [("a.jpg", jpeg())]
    expected = {"retired": (404, "facility"), "other_county": (403, "facility"), "bad_photo": (400, "photos"),
                "bad_version": (400, "facility_version"), "no_condition": (400, "condition")}[case]
    if case == "retired":
        retire_facility(store, actors["mgr2"], site.id, site.version, "迁入烈士陵园")
    elif case == "other_county":
        client = as_user(app, "other")  # a manager of 长汀县: 上杭县 is not (or no longer) theirs
    elif case == "bad_photo":
        photos = [("notes.jpg", b"not really a photo")]
    elif case == "bad_version":
        values["facility_version"] = "soon"
    else:
        del values["condition"]
    answer = sync(client, site.id, values, photos)
    body = answer.get_json()
    assert (answer.status_code, body["field"]) == expected, body
    assert body["message"] and body["retry"] is False
    if case == "bad_photo":
        assert "notes.jpg" in body["message"]
    if case == "retired":
        assert "已注销" in body["message"] and f"no active facility {site.id}" in body["message"]
    if case == "other_county":
        assert "已不由您管理" in body["message"]
    assert count(store) == 0 and count(store, Attachment) == 0


def test_a_sync_without_a_session_or_a_token_is_kept_for_retry(tmp_path, store_url):
    application = make_app(store_url, WTF_CSRF_ENABLED=True)
    application.instance_path = str(tmp_path / "instance")
    store = application.extensions["registry_store"]
    try:
        people(store)
        site = facility(store)
        anonymous = application.test_client()
        # Signed out: the queue asks who is signed in first, and is sent to sign in (its items stay queued).
        assert "/login" in anonymous.get("/manage/offline/session.json").headers["Location"]
        refused = sync(anonymous, site.id, form())
        assert refused.status_code == 400 and refused.get_json()["field"] == "csrf_token"
        client = application.test_client()
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"',
                          login_page)
        assert client.post("/login", data={"username": "mgr", "password": "mgr-password",
                                           "csrf_token": token.group(1) or token.group(2)}).status_code == 302
        stale = sync(client, site.id, form(key="no-token-0004"))
        assert stale.status_code == 400 and stale.get_json()["field"] == "csrf_token"
        info = client.get("/manage/offline/session.json").get_json()
        fresh = client.post(f"/manage/offline/facilities/{site.id}/inspections", data=form(key="no-token-0004"),
                            headers={"Accept": "application/json", "X-CSRFToken": info["csrf_token"]})
        assert fresh.status_code == 201
        assert count(store) == 1
    finally:
        store.dispose()


def test_the_phone_keeps_the_due_forms_of_its_own_counties(app, store):
    people(store)
    due = facility(store)
    backdate(store, due.id, 400)
    elsewhere = facility(store, county="350821")
    backdate(store, elsewhere.id, 400)
    listing = as_user(app, "mgr").get("/manage/offline/pages.json").get_json()
    assert f"/manage/facilities/{due.id}/inspect" in listing["urls"]
    assert f"/manage/facilities/{elsewhere.id}/inspect" not in listing["urls"]
    assert "/manage" in listing["urls"] and "/static/js/offline-store.js" in listing["urls"]
    # The archive (caretakers' phone numbers) is not kept on the phone.
    assert not any(url == f"/manage/facilities/{due.id}" for url in listing["urls"])
    assert as_user(app, "reviewer1").get("/manage/offline/pages.json").status_code == 403


def test_the_worker_and_the_manifest_are_served_from_the_managers_area(app, store):
    client = app.test_client()
    worker = client.get("/manage/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/manage"
    manifest = client.get("/manage/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json()
    assert body["scope"] == "/manage" and body["start_url"] == "/manage"
    assert all(icon["src"].startswith("/static/") for icon in body["icons"])
    icon = client.get(body["icons"][0]["src"])
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    icon.close()

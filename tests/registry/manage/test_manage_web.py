"""The managers' pages: every route for every role, forms, uploads, retries, stale tabs and downloads."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select

from registry.models import AuditEvent, Facility, Inspection
from registry.services.manage.inspections import submit_inspection
from registry.services.manage.tasks import create_task
from tests.factories import as_user, backdate, facility, form, jpeg, multipart, people, pixel_bomb


@pytest.fixture
def app(folder_app):
    """The app over a fresh registry, its instance folder (where photos go) in the test's own folder."""
    return folder_app


@pytest.fixture
def site(app, store):
    """A facility of 上杭县 with an inspection, a photo and a work order; everyone who might look at it."""
    actors = people(store)
    place = facility(store)
    folder = f"{app.instance_path}/attachments"
    inspection = submit_inspection(store, actors["mgr"], place.id, form(problems="碑座开裂"),
                                   [("p.jpg", jpeg(exif_time="2026:04:01 09:30:00", gps=(116.818, 25.225)))],
                                   attachments_dir=folder).inspection
    task = create_task(store, actors["mgr"], place.id, {"title": "修补碑座"}, inspection_id=inspection.id)
    with store.session() as s:
        from registry.models import Attachment

        photo = s.scalar(select(Attachment.id))
    return {"facility": place.id, "inspection": inspection.id, "task": task.id, "photo": photo, "actors": actors}


READ_EVERYWHERE = {"mgr", "mgr2", "reviewer1", "admin1"}
WRITE_HERE = {"mgr", "mgr2", "admin1"}
ROUTES = [
    ("/manage", {"mgr", "mgr2", "other", "reviewer1", "admin1"}),
    ("/manage/map", {"mgr", "mgr2", "other", "reviewer1", "admin1"}),
    ("/manage/map.geojson", {"mgr", "mgr2", "other", "reviewer1", "admin1"}),
    ("/manage/tasks", {"mgr", "mgr2", "other", "reviewer1", "admin1"}),
    ("/manage/ledgers", {"mgr", "mgr2", "other", "reviewer1", "admin1"}),
    ("/manage/ledgers/350823.xlsx", READ_EVERYWHERE),
    ("/manage/facilities/{facility}", READ_EVERYWHERE),
    ("/manage/facilities/{facility}/archive.pdf", READ_EVERYWHERE),
    ("/manage/facilities/{facility}/inspect", WRITE_HERE),
    ("/manage/facilities/{facility}/edit", WRITE_HERE),
    ("/manage/facilities/{facility}/distance?lon=116.818&lat=25.226", WRITE_HERE),
    ("/manage/inspections/{inspection}", READ_EVERYWHERE),
    ("/manage/tasks/{task}", READ_EVERYWHERE),
    ("/manage/photos/{photo}/thumb", READ_EVERYWHERE),
    ("/manage/photos/{photo}/display", READ_EVERYWHERE),
    ("/manage/photos/{photo}/original", READ_EVERYWHERE),
    ("/manage/moderation", {"mgr", "mgr2", "other", "admin1"}),
]
ROLES = [None, "mgr", "mgr2", "other", "planner1", "reviewer1", "admin1"]


@pytest.mark.parametrize("role", ROLES)
def test_every_read_route_for_every_role(app, store, site, role):
    client = as_user(app, role)
    for template, allowed in ROUTES:
        url = template.format(**site)
        response = client.get(url)
        response.close()
        if role is None:
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        elif role in allowed:
            assert response.status_code == 200, (url, role, response.status_code)
        else:
            assert response.status_code == 403, (url, role, response.status_code)


POSTS = [
    ("/manage/facilities/{facility}/inspect", lambda: form(key="post-key-999999"), WRITE_HERE),
    ("/manage/facilities/{facility}/tasks", lambda: {"title": "新任务"}, WRITE_HERE),
    ("/manage/facilities/{facility}/edit", lambda: {"version": "1", "caretaker": "张"}, WRITE_HERE),
    ("/manage/tasks/{task}/start", lambda: {"version": "1"}, WRITE_HERE),
    ("/manage/tasks/{task}/edit", lambda: {"version": "1", "title": "改"}, WRITE_HERE),
    ("/manage/tasks/{task}/complete", lambda: {"version": "2"}, WRITE_HERE),
    ("/manage/tasks/{task}/verify", lambda: {"version": "2"}, READ_EVERYWHERE),
    ("/manage/tasks/{task}/send-back", lambda: {"version": "2", "note": "重做"}, READ_EVERYWHERE),
    ("/manage/tasks/{task}/cancel", lambda: {"version": "2", "reason": "重复"}, WRITE_HERE),
]


@pytest.mark.parametrize("role", ROLES)
def test_every_write_route_for_every_role(app, store, site, role):
    client = as_user(app, role)
    for template, values, allowed in POSTS:
        url = template.format(**site)
        response = client.post(url, data=values())
        if role is None:
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        elif role in allowed:
            # Allowed through the door; the work order's state or version may still refuse the step.
            assert response.status_code in (303, 400, 409), (url, role, response.status_code)
        else:
            assert response.status_code == 403, (url, role, response.status_code)


def test_a_refusal_outside_the_county_leaves_an_audit_event(app, store, site):
    client = as_user(app, "other")
    response = client.get(f"/manage/facilities/{site['facility']}")
    assert response.status_code == 403
    assert "上杭县" in response.get_data(as_text=True)
    with store.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "forbidden")
                          .order_by(AuditEvent.id.desc())).first()
    assert event.actor_name == "other" and f"/manage/facilities/{site['facility']}" in event.note


def test_the_list_shows_status_and_only_my_counties(app, store, site):
    overdue = facility(store, name="逾期的纪念碑")
    backdate(store, overdue.id, 120)
    facility(store, county="350821", lonlat=(116.36, 25.84), name="长汀的纪念碑")
    page = as_user(app, "mgr").get("/manage").get_data(as_text=True)
    assert "逾期的纪念碑" in page and "长汀的纪念碑" not in page
    assert 'data-status="overdue"' in page and 'data-status="problem_open"' in page
    filtered = as_user(app, "mgr").get("/manage?status=overdue").get_data(as_text=True)
    assert "逾期的纪念碑" in filtered and "测试纪念碑" not in filtered
    assert as_user(app, "mgr").get("/manage?status=bogus").status_code == 400


def _post_inspection(client, facility_id, photos, **extra):
    data = form(**extra)
    data["photos"] = [(io.BytesIO(content), name) for name, content in photos]
    return multipart(client, f"/manage/facilities/{facility_id}/inspect", data, {"Accept": "application/json"})


def test_submitting_twice_keeps_one_inspection(app, store, site):
    client = as_user(app, "mgr")
    first = _post_inspection(client, site["facility"], [("a.jpg", jpeg())], key="twice-key-0001",
                             lon="116.8182", lat="25.2252")
    second = _post_inspection(client, site["facility"], [("a.jpg", jpeg())], key="twice-key-0001",
                              lon="116.8182", lat="25.2252")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json["id"] == second.json["id"] and second.json["replayed"] is True
    assert first.json["on_site"] is True
    with store.session() as s:
        assert s.scalar(select(func.count(Inspection.id)).where(Inspection.idempotency_key == "twice-key-0001")) == 1
    page = client.get(second.json["url"] + "?replayed=1").get_data(as_text=True)
    assert "重复提交没有产生新记录" in page


def test_a_plain_form_post_redirects_to_the_inspection(app, store, site):
    client = as_user(app, "mgr")
    data = form(key="plain-key-0001")
    data["photos"] = [(io.BytesIO(jpeg()), "a.jpg")]
    response = client.post(f"/manage/facilities/{site['facility']}/inspect", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 303 and "/manage/inspections/" in response.headers["Location"]


def _fifty_mb():
    return jpeg()[:-2] + b"\0" * (50 * 1024 * 1024) + b"\xff\xd9"


@pytest.mark.parametrize("photos, extra, field, words", [
    ([("readme.txt", b"plain text")], {}, "photos", "readme.txt is not a photo"),
    ([("huge.jpg", "50MB")], {}, "photos", "at most 15 MB"),
    ([("bomb.png", "BOMB")], {}, "photos", "bomb.png"),
    ([], {"inspected_at": "FUTURE"}, "inspected_at", "in the future"),
    ([], {"lon": "106.5", "lat": "29.5"}, "position", "km from"),
])
def test_bad_inputs_on_the_form_name_the_field_and_keep_the_input(app, store, site, photos, extra, field, words):
    client = as_user(app, "mgr")
    if extra.get("inspected_at") == "FUTURE":
        extra = {"inspected_at": (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")}
    uploads = [(n, _fifty_mb() if c == "50MB" else pixel_bomb() if c == "BOMB" else c) for n, c in photos]
    data = form(key="bad-key-000001", problems="我写的问题描述", **extra)
    data["photos"] = [(io.BytesIO(content), name) for name, content in uploads]
    with store.session() as s:
        before = s.scalar(select(func.count(Inspection.id)))
    response = multipart(client, f"/manage/facilities/{site['facility']}/inspect", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert words in page and f"<code>{field}</code>" in page
    assert "我写的问题描述" in page and "bad-key-000001" in page  # nothing the user typed is lost
    with store.session() as s:
        assert s.scalar(select(func.count(Inspection.id))) == before
    as_json = _post_inspection(client, site["facility"], uploads and [(uploads[0][0], uploads[0][1])] or [],
                               key="bad-key-000002", **extra)
    assert as_json.status_code == 400 and as_json.json["field"] == field


def test_two_managers_saving_the_same_facility(app, store, site):
    first, second = as_user(app, "mgr"), as_user(app, "mgr2")
    url = f"/manage/facilities/{site['facility']}/edit"
    assert "version" in first.get(url).get_data(as_text=True)
    with store.session() as s:
        version = s.get(Facility, site["facility"]).version
    ok = first.post(url, data={"version": version, "caretaker": "张三", "caretaker_phone": "0597-1"})
    assert ok.status_code == 303
    late = second.post(url, data={"version": version, "caretaker": "李四", "caretaker_phone": "0597-2"})
    page = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "someone saved a change after you opened it" in page
    assert 'value="李四"' in page and "张三" in page  # their own input kept, the other change shown


def test_a_stale_work_order_tab_is_refused_and_keeps_the_input(app, store, site):
    client = as_user(app, "mgr")
    url = f"/manage/tasks/{site['task']}"
    assert client.post(url + "/edit", data={"version": "1", "title": "第一个标签页"}).status_code == 303
    stale = client.post(url + "/edit", data={"version": "1", "title": "第二个标签页的标题"})
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "第二个标签页的标题" in page and "version" in page


def test_the_work_order_flow_through_the_pages(app, store, site):
    mgr, mgr2 = as_user(app, "mgr"), as_user(app, "mgr2")
    url = f"/manage/tasks/{site['task']}"
    assert mgr.post(url + "/start", data={"version": "1"}).status_code == 303
    done = mgr.post(url + "/complete", data={"version": "2", "cost_actual": "800",
                                             "photos": [(io.BytesIO(jpeg()), "after.jpg")]},
                    content_type="multipart/form-data")
    assert done.status_code == 303
    assert "完工须由另一人验收" in mgr.get(url).get_data(as_text=True)
    assert mgr.post(url + "/verify", data={"version": "3"}).status_code == 403
    assert mgr2.post(url + "/verify", data={"version": "3"}).status_code == 303
    assert 'data-state="verified"' in mgr.get(url).get_data(as_text=True)


def test_the_planner_cannot_verify_but_the_reviewer_can(app, store, site):
    mgr = as_user(app, "mgr")
    url = f"/manage/tasks/{site['task']}"
    mgr.post(url + "/start", data={"version": "1"})
    mgr.post(url + "/complete", data={"version": "2", "photos": [(io.BytesIO(jpeg()), "a.jpg")]},
             content_type="multipart/form-data")
    assert as_user(app, "planner1").post(url + "/verify", data={"version": "3"}).status_code == 403
    assert as_user(app, "reviewer1").post(url + "/start", data={"version": "3"}).status_code == 403
    assert as_user(app, "reviewer1").post(url + "/verify", data={"version": "3"}).status_code == 303


def test_photos_for_display_have_no_exif(app, store, site):
    client = as_user(app, "mgr")
    for variant in ("thumb", "display"):
        with client.get(f"/manage/photos/{site['photo']}/{variant}") as response:
            assert not Image.open(io.BytesIO(response.data)).getexif()
    with client.get(f"/manage/photos/{site['photo']}/original") as response:
        assert Image.open(io.BytesIO(response.data)).getexif()
    page = client.get(f"/manage/inspections/{site['inspection']}").get_data(as_text=True)
    assert "2026-04-01 09:30" in page and "116.81800, 25.22500" in page
    assert client.get(f"/manage/photos/{site['photo']}/exif").status_code == 404


def test_the_ledger_download(app, store, site):
    response = as_user(app, "mgr").get("/manage/ledgers/350823.xlsx?township=古田镇")
    assert response.status_code == 200 and "filename*=UTF-8''" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.cell(3, 3).value == "设施名称"
    assert as_user(app, "mgr").get("/manage/ledgers/999999.xlsx").status_code == 400


def test_the_map_page_and_its_data(app, store, site):
    client = as_user(app, "mgr")
    page = client.get("/manage/map?county=350823").get_data(as_text=True)
    assert "/manage/map.geojson?county=350823" in page and "https://cdn" not in page
    data = client.get("/manage/map.geojson?bbox=116,25,117.5,26").json
    [feature] = data["features"]
    assert feature["properties"]["status"] == "problem_open" and feature["properties"]["active_tasks"] == 1
    assert client.get("/manage/map.geojson?bbox=1,2,3").status_code == 400
    assert client.get("/manage/map.geojson?bbox=100,40,101,41").json["features"] == []


def test_the_archive_page(app, store, site):
    page = as_user(app, "reviewer1").get(f"/manage/facilities/{site['facility']}").get_data(as_text=True)
    expected = ("设施档案", "名称沿革", "巡查记录", "维修任务", "修补碑座", "变更记录", "历次照片对比",
                "data-print")  # the print button (its handler is in static/js/site.js)
    for text in expected:
        assert text in page, text


def test_the_pages_in_english(app, store, site):
    client = as_user(app, "mgr")
    client.get("/lang/en")
    page = client.get("/manage").get_data(as_text=True)
    assert "Problem open" in page and "My facilities" in page and "Filter" in page


def test_public_reports_land_in_the_work_order_queue(app, store, site, tmp_path):
    from registry.models import ProblemReport
    from registry.services.public.reports import Photo, submit_report

    made = submit_report(store, site["facility"], "围栏被风吹倒了，请尽快修理", photo=Photo("r.jpg", jpeg()),
                         client="visitor", idempotency_key="report-key-000001", instance_path=app.instance_path)
    reference = made["reference"] if isinstance(made, dict) else made
    page = as_user(app, "mgr").get("/manage/tasks").get_data(as_text=True)
    assert "围栏被风吹倒了" in page and reference in page
    assert "围栏被风吹倒了" not in as_user(app, "other").get("/manage/tasks").get_data(as_text=True)
    with store.session() as s:
        report = s.scalar(select(ProblemReport))
    with as_user(app, "mgr").get(f"/manage/photos/{report.photo_attachment_id}/original") as photo:
        assert photo.status_code == 200
    response = as_user(app, "mgr").post(f"/manage/facilities/{site['facility']}/tasks",
                                        data={"title": "修围栏", "report_id": report.id,
                                              "report_version": report.version})
    assert response.status_code == 303
    with store.session() as s:
        assert s.get(ProblemReport, report.id).state == "in_progress"
    task_page = as_user(app, "mgr").get(response.headers["Location"]).get_data(as_text=True)
    assert reference in task_page
    assert "围栏被风吹倒了" not in as_user(app, "mgr").get("/manage/tasks").get_data(as_text=True).split(
        "公众报告的问题")[1]


def test_a_public_report_can_be_declined(app, store, site):
    from registry.models import ProblemReport
    from registry.services.public.reports import submit_report

    submit_report(store, site["facility"], "这里有人乱丢垃圾", client="visitor", idempotency_key="report-key-000002",
                  instance_path=app.instance_path)
    with store.session() as s:
        report = s.scalar(select(ProblemReport))
    assert as_user(app, "other").post(f"/manage/reports/{report.id}/reject",
                                      data={"version": report.version}).status_code == 403
    assert as_user(app, "planner1").post(f"/manage/reports/{report.id}/reject",
                                         data={"version": report.version}).status_code == 403
    response = as_user(app, "mgr").post(f"/manage/reports/{report.id}/reject",
                                        data={"version": report.version, "public_note": "已转交环卫部门"})
    assert response.status_code == 303
    with store.session() as s:
        stored = s.get(ProblemReport, report.id)
        assert stored.state == "rejected" and stored.public_note == "已转交环卫部门"


def test_managers_moderate_messages_of_their_counties(app, store, site):
    from registry.models import Tribute
    from registry.services.public.tribute import leave_message

    leave_message(store, "facility", site["facility"], "先烈精神永垂不朽", "一位游客", client="c1",
                  idempotency_key="tribute-key-0001")
    with store.session() as s:
        tribute = s.scalar(select(Tribute))
    assert "先烈精神永垂不朽" in as_user(app, "mgr").get("/manage/moderation").get_data(as_text=True)
    assert "先烈精神永垂不朽" not in as_user(app, "other").get("/manage/moderation").get_data(as_text=True)
    refused = as_user(app, "other").post(f"/manage/moderation/{tribute.id}",
                                         data={"version": tribute.version, "decision": "approve"})
    assert refused.status_code == 403
    stale = as_user(app, "mgr").post(f"/manage/moderation/{tribute.id}",
                                     data={"version": tribute.version + 5, "decision": "approve"})
    assert stale.status_code == 409
    ok = as_user(app, "mgr").post(f"/manage/moderation/{tribute.id}",
                                  data={"version": tribute.version, "decision": "approve"})
    assert ok.status_code == 303
    with store.session() as s:
        stored = s.get(Tribute, tribute.id)
        assert stored.moderation == "approved" and stored.moderated_by == "mgr"
    assert "先烈精神永垂不朽" not in as_user(app, "mgr").get("/manage/moderation").get_data(as_text=True)

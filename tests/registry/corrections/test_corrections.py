"""Public corrections on both stores: proposed with a reference, refused with the field named, reviewed by the
target county's staff, accepted through the record with its provenance and audit, declined with a reason."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Correction, Facility, Tomb
from registry.services import Actor
from registry.services.facilities import update_facility
from tests.factories import XSS_NAME, as_user, jpeg, multipart

NOT_A_PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
REF = re.compile(r"JZ-\d{4}-[2-9A-HJ-NP-Z]{8}")


def propose(client, target_type, target_id, key="corr-key-0001", **form):
    data = {"key": key, **form}
    return multipart(client, f"/corrections/new/{target_type}/{target_id}", data)


def corrections(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Correction))


def reference_of(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return REF.search(response.headers["Location"]).group(0)


def correction_id(store, reference) -> tuple[int, int]:
    with store.session() as s:
        c = s.scalar(select(Correction).where(Correction.reference == reference))
        return c.id, c.version


def test_a_visitor_proposes_a_position_and_reads_its_state(world):
    app, store, ids = world
    visitor = app.test_client()
    page = visitor.get(f"/facilities/{ids['national']}").get_data(as_text=True)
    assert f"/corrections/new/facility/{ids['national']}" in page

    answer = propose(visitor, "facility", ids["national"], field="position", lon="117.0400", lat="25.1150",
                     contact="13900001111", photo=(io.BytesIO(jpeg()), "grave.jpg"))
    reference = reference_of(answer)
    status = visitor.get(f"/corrections?reference={reference}&new=1")
    text = status.get_data(as_text=True)
    assert status.status_code == 200 and reference in text and "待审核" in text
    assert "13900001111" not in text


BAD = [
    ("no change", {"field": "address", "value": "虎岭山"}, "更正内容"),
    ("same position", {"field": "position", "lon": "117.035", "lat": "25.11"}, "位置"),
    ("outside the region", {"field": "position", "lon": "121.5", "lat": "31.2"}, "位置"),
    ("not a point", {"field": "position", "lon": "east", "lat": "25.1"}, "位置"),
    ("unknown field", {"field": "name", "value": "新名字"}, "更正项目"),
    ("empty value", {"field": "address", "value": "   "}, "更正内容"),
    ("too long", {"field": "description", "value": "长" * 2001}, "更正内容"),
    ("too long contact", {"field": "address", "value": "新地址", "contact": "1" * 61}, "联系方式"),
]


@pytest.mark.parametrize("case, form, named", BAD, ids=[b[0] for b in BAD])
def test_bad_proposals_are_refused_naming_the_field(world, case, form, named):
    app, store, ids = world
    response = propose(app.test_client(), "facility", ids["national"], **form)
    assert response.status_code == 400, case
    assert f"{named}：" in response.get_data(as_text=True)
    assert corrections(store) == 0


def test_a_photo_that_is_not_one_is_refused(world):
    app, store, ids = world
    response = propose(app.test_client(), "facility", ids["national"], field="address", value="新地址",
                       photo=(io.BytesIO(NOT_A_PHOTO), "x.png"))
    assert response.status_code == 400 and "照片：" in response.get_data(as_text=True)
    assert corrections(store) == 0


def test_a_retired_record_takes_no_correction(world):
    app, store, ids = world
    response = propose(app.test_client(), "facility", ids["retired"], field="address", value="新地址")
    assert response.status_code == 400 and "更正对象：" in response.get_data(as_text=True)
    assert app.test_client().get(f"/corrections/new/facility/{ids['retired']}").status_code == 404
    assert propose(app.test_client(), "facility", 999999, field="address", value="新地址").status_code == 404
    assert corrections(store) == 0


def test_proposals_are_rate_limited(world):
    app, store, ids = world
    visitor = app.test_client()
    codes = [propose(visitor, "facility", ids["national"], key=f"corr-key-{n:04d}", field="address",
                     value=f"新地址{n}").status_code for n in range(4)]
    assert codes == [303, 303, 303, 429]
    assert corrections(store) == 3


def test_a_reviewer_of_the_county_accepts_a_position(world):
    app, store, ids = world
    reference = reference_of(propose(app.test_client(), "facility", ids["national"], field="position",
                                     lon="117.0400", lat="25.1150"))
    cid, version = correction_id(store, reference)
    reviewer = as_user(app, "rev_a")
    detail = reviewer.get(f"/manage/corrections/{cid}").get_data(as_text=True)
    assert "117.035000, 25.110000" in detail and "117.040000, 25.115000" in detail
    assert reference in reviewer.get("/manage/corrections").get_data(as_text=True)

    before = app.test_client().get(f"/facilities/{ids['national']}")
    assert reviewer.post(f"/manage/corrections/{cid}/accept", data={"version": version}).status_code == 303

    with store.session() as s:
        f = s.get(Facility, ids["national"])
        assert (round(f.geom.x, 6), round(f.geom.y, 6)) == (117.04, 25.115)
        assert (f.position_source, f.position_source_ref) == ("public_correction", reference)
        notes = s.scalars(select(AuditEvent.note).where(AuditEvent.action == "correction_accept")).all()
        assert notes and reference in notes[0]
    page = app.test_client().get(f"/facilities/{ids['national']}", headers={"If-None-Match": before.headers["ETag"]})
    text = page.get_data(as_text=True)
    assert page.status_code == 200  # the accepted correction moved the ETag
    assert "117.040000, 25.115000" in text and f"位置根据公众更正 {reference} 经审核修改" in text
    english = app.test_client().get(f"/facilities/{ids['national']}?lang=en")
    assert f"Position corrected from public proposal {reference}" in english.get_data(as_text=True)
    status = app.test_client().get(f"/corrections?reference={reference}").get_data(as_text=True)
    assert "已采纳" in status


def test_a_martyrs_tomb_position_and_facts(world):
    app, store, ids = world
    martyr = ids["martyrs"][0]
    assert f"/corrections/new/martyr/{martyr}" in app.test_client().get(f"/martyrs/{martyr}").get_data(as_text=True)
    moved = reference_of(propose(app.test_client(), "martyr", martyr, key="corr-key-tomb", field="tomb_position",
                                 lon="117.0352", lat="25.1102"))
    unit = reference_of(propose(app.test_client(), "martyr", martyr, key="corr-key-unit", field="unit",
                                value="红四军第二纵队"))
    manager = as_user(app, "mgr_a")
    for reference in (moved, unit):
        cid, version = correction_id(store, reference)
        assert manager.post(f"/manage/corrections/{cid}/accept", data={"version": version}).status_code == 303
    with store.session() as s:
        tomb = s.get(Tomb, ids["tombs"][0])
        assert (round(tomb.geom.x, 4), tomb.position_source_ref) == (117.0352, moved)
    page = app.test_client().get(f"/martyrs/{martyr}").get_data(as_text=True)
    assert "红四军第二纵队" in page and f"位置根据公众更正 {moved}" in page and f"信息根据公众更正 {unit}" in page


def test_declining_needs_a_reason_that_the_visitor_reads(world):
    app, store, ids = world
    reference = reference_of(propose(app.test_client(), "facility", ids["national"], field="visiting_info",
                                     value="每日 9:00-16:00 开放", contact="家属王某 13900002222"))
    cid, version = correction_id(store, reference)
    manager = as_user(app, "mgr_a")
    refused = manager.post(f"/manage/corrections/{cid}/decline", data={"version": version, "reason": "  "})
    assert refused.status_code == 400 and "理由：" in refused.get_data(as_text=True)
    assert "13900002222" in manager.get(f"/manage/corrections/{cid}").get_data(as_text=True)
    assert "13900002222" not in as_user(app, "rev_a").get(f"/manage/corrections/{cid}").get_data(as_text=True)
    assert manager.post(f"/manage/corrections/{cid}/decline",
                        data={"version": version, "reason": "开放时间以管理处公告为准"}).status_code == 303
    status = app.test_client().get(f"/corrections?reference={reference}").get_data(as_text=True)
    assert "未采纳" in status and "开放时间以管理处公告为准" in status and "13900002222" not in status


def test_a_stale_correction_is_refused_with_409(world):
    app, store, ids = world
    reference = reference_of(propose(app.test_client(), "facility", ids["national"], field="address",
                                     value="虎岭山南麓"))
    with store.session() as s:
        version = s.get(Facility, ids["national"]).version
    update_facility(store, Actor.system("test"), ids["national"], version, {"address": "虎岭山北"})
    cid, cversion = correction_id(store, reference)
    response = as_user(app, "rev_a").post(f"/manage/corrections/{cid}/accept", data={"version": cversion})
    assert response.status_code == 409 and "stale" in response.get_data(as_text=True)
    with store.session() as s:
        assert s.get(Facility, ids["national"]).address == "虎岭山北"
        assert s.get(Correction, cid).state == "pending"


def test_other_counties_staff_are_refused(world):
    app, store, ids = world
    reference = reference_of(propose(app.test_client(), "facility", ids["national"], field="address",
                                     value="虎岭山南麓"))
    cid, version = correction_id(store, reference)
    for name in ("mgr_b", "rev_b"):
        client = as_user(app, name)
        assert client.get(f"/manage/corrections/{cid}").status_code == 403, name
        assert client.post(f"/manage/corrections/{cid}/accept", data={"version": version}).status_code == 403, name
        assert reference not in client.get("/manage/corrections").get_data(as_text=True), name
    assert as_user(app, "rev_city").get(f"/manage/corrections/{cid}").status_code == 200
    assert "(hidden)" not in as_user(app, "rev_city").get(f"/manage/corrections/{cid}").get_data(as_text=True)
    with store.session() as s:
        assert s.get(Correction, cid).state == "pending"


def test_proposed_markup_reaches_the_reviewer_as_text(world):
    app, store, ids = world
    reference = reference_of(propose(app.test_client(), "facility", ids["national"], field="description",
                                     value=XSS_NAME))
    cid, _version = correction_id(store, reference)
    detail = as_user(app, "rev_a").get(f"/manage/corrections/{cid}").get_data(as_text=True)
    assert "<script>window.__pwned" not in detail and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in detail


def test_a_retried_proposal_is_filed_once(world):
    app, store, ids = world
    visitor = app.test_client()
    first = reference_of(propose(visitor, "facility", ids["national"], key="corr-key-same", field="address",
                                 value="虎岭山南麓"))
    again = reference_of(propose(visitor, "facility", ids["national"], key="corr-key-same", field="address",
                                 value="虎岭山南麓"))
    assert first == again and corrections(store) == 1

"""Online tribute and problem reports on both stores: counted, idempotent, rate-limited, moderated, escaped."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry.models import Attachment, AuditEvent, ProblemReport, Tribute
from registry.services import Actor, Conflict, Forbidden, InvalidInput, NotFound
from registry.services.public.reports import Photo, lookup_report, set_report_state, submit_report
from registry.services.public.tribute import (
    RateLimited,
    lay_flower,
    leave_message,
    moderate_tribute,
    pending_tributes,
    tribute_summary,
)
from tests.factories import XSS_NAME, jpeg, pixel_bomb

MANAGER = Actor(name="mgr", id=7, roles=("manager",), counties=("350802",))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def count(store, model, *where):
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_flowers_count_and_a_retry_never_duplicates(seeded):
    _app, store, ids = seeded
    martyr = ids["martyrs"][0]

    first = lay_flower(store, "martyr", martyr, client="c1", idempotency_key="key-aaaa-1")
    again = lay_flower(store, "martyr", martyr, client="c1", idempotency_key="key-aaaa-1")
    other = lay_flower(store, "martyr", martyr, client="c2", idempotency_key="key-bbbb-1")

    assert first.created and not again.created and first.tribute_id == again.tribute_id
    assert other.flowers == 2 and tribute_summary(store, "martyr", martyr)["flowers"] == 2
    assert count(store, Tribute) == 2
    assert count(store, AuditEvent, AuditEvent.action == "tribute_flower") == 2


def test_messages_wait_for_approval_then_show(seeded):
    _app, store, ids = seeded
    facility = ids["national"]
    result = leave_message(store, "facility", facility, "  永垂不朽  ", "后人", client="c1",
                           idempotency_key="msg-key-01")

    assert result.moderation == "pending"
    assert tribute_summary(store, "facility", facility)["messages"] == []
    pending = pending_tributes(store, MANAGER)
    assert [(p["message"], p["author_name"]) for p in pending] == [("永垂不朽", "后人")]

    moderate_tribute(store, MANAGER, result.tribute_id, pending[0]["version"], "approve")

    assert [m["message"] for m in tribute_summary(store, "facility", facility)["messages"]] == ["永垂不朽"]
    with pytest.raises(Conflict):  # a decision made on the version before the approval
        moderate_tribute(store, MANAGER, result.tribute_id, pending[0]["version"], "reject")


def test_rejected_messages_never_show(seeded):
    _app, store, ids = seeded
    result = leave_message(store, "martyr", ids["unknown"], "广告内容", client="c1", idempotency_key="msg-key-02")
    moderate_tribute(store, MANAGER, result.tribute_id, 1, "reject")

    assert tribute_summary(store, "martyr", ids["unknown"])["messages"] == []


@pytest.mark.parametrize(
    ("actor", "decision", "error"),
    [
        (Actor(name="anonymous"), "approve", Forbidden),
        (Actor(name="planner", roles=("planner",)), "approve", Forbidden),
        (MANAGER, "maybe", InvalidInput),
    ],
)
def test_moderation_refusals(seeded, actor, decision, error):
    _app, store, ids = seeded
    result = leave_message(store, "martyr", ids["unknown"], "缅怀先烈", client="c1", idempotency_key="msg-key-03")

    with pytest.raises(error):
        moderate_tribute(store, actor, result.tribute_id, 1, decision)


@pytest.mark.parametrize(
    ("target", "message", "author", "key", "field"),
    [
        (("martyr", "self"), "", None, "key-ok-001", "message"),
        (("martyr", "self"), "x", None, "key-ok-002", "message"),
        (("martyr", "self"), "长" * 301, None, "key-ok-003", "message"),
        (("martyr", "self"), "缅怀先烈", "名" * 31, "key-ok-004", "author_name"),
        (("martyr", "self"), "缅怀先烈", None, "short", "idempotency_key"),
        (("martyr", "self"), "缅怀先烈", None, "bad key with spaces", "idempotency_key"),
        (("hero", "self"), "缅怀先烈", None, "key-ok-005", "target_type"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_written(seeded, target, message, author, key, field):
    _app, store, ids = seeded
    with pytest.raises(InvalidInput) as raised:
        leave_message(store, target[0], ids["martyrs"][0], message, author, client="c1", idempotency_key=key)

    assert raised.value.field == field
    assert count(store, Tribute) == 0


def test_tribute_for_unknown_target_is_not_found(seeded):
    _app, store, _ids = seeded
    from registry.services import NotFound

    with pytest.raises(NotFound):
        lay_flower(store, "martyr", 999999, client="c1", idempotency_key="key-nf-001")
    with pytest.raises(NotFound):
        lay_flower(store, "facility", _ids["retired"], client="c1", idempotency_key="key-nf-002")


def test_rate_limit_per_client(seeded):
    _app, store, ids = seeded
    for i in range(5):
        lay_flower(store, "martyr", ids["martyrs"][0], client="busy", idempotency_key=f"burst-key-{i}")

    with pytest.raises(RateLimited):
        lay_flower(store, "martyr", ids["martyrs"][0], client="busy", idempotency_key="burst-key-5")
    # another visitor is not held back, and the refused one wrote nothing
    lay_flower(store, "martyr", ids["martyrs"][0], client="calm", idempotency_key="calm-key-0")
    assert count(store, Tribute) == 6


def test_tribute_through_the_page_without_an_account(seeded):
    app, _store, ids = seeded
    client = app.test_client()
    page = f"/martyrs/{ids['martyrs'][0]}"

    response = client.post(f"/tribute/martyr/{ids['martyrs'][0]}", data={"kind": "flower", "key": "page-key-01"})
    assert response.status_code == 303 and response.headers["Location"].startswith(page)
    client.post(f"/tribute/martyr/{ids['martyrs'][0]}", data={"kind": "flower", "key": "page-key-01"})  # retry
    html = client.get(page).get_data(as_text=True)
    assert "献花成功" in html and "已有 1 人献花" in html

    response = client.post(f"/tribute/martyr/{ids['martyrs'][0]}",
                           data={"kind": "message", "key": "page-key-02", "message": XSS_NAME})
    assert "审核后显示" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_approved_message_with_markup_shows_as_text(seeded):
    app, store, ids = seeded
    result = leave_message(store, "facility", ids["pavilion"], XSS_NAME, "<b>我</b>", client="c1",
                           idempotency_key="xss-key-01")
    moderate_tribute(store, MANAGER, result.tribute_id, 1, "approve")

    html = app.test_client().get(f"/facilities/{ids['pavilion']}").get_data(as_text=True)
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned=1" in html
    assert "<b>我" not in html and "&lt;b&gt;我" in html


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"kind": "message", "key": "form-key-01", "message": "x"}, "留言须为 2 至 300 个字"),
        ({"kind": "message", "key": "form-key-02", "message": "好" * 301}, "留言须为 2 至 300 个字"),
        ({"kind": "flower", "key": ""}, "表单已过期"),
        ({"kind": "candle", "key": "form-key-03"}, "candle"),
    ],
)
def test_bad_tribute_forms_show_a_message(seeded, data, words):
    app, store, ids = seeded
    response = app.test_client().post(f"/tribute/martyr/{ids['martyrs'][0]}", data=data)

    assert response.status_code == 400
    assert words in response.get_data(as_text=True)
    assert count(store, Tribute) == 0


def test_rate_limited_form_says_so(seeded):
    app, _store, ids = seeded
    client = app.test_client()
    for i in range(5):
        client.post(f"/tribute/facility/{ids['national']}", data={"kind": "flower", "key": f"rate-key-{i}"})

    response = client.post(f"/tribute/facility/{ids['national']}", data={"kind": "flower", "key": "rate-key-9"})

    assert response.status_code == 429 and "提交过于频繁" in response.get_data(as_text=True)


def test_report_a_problem_and_look_it_up(seeded, tmp_path):
    app, store, ids = seeded
    photo = jpeg(2400, 1800, exif_time="2026:04:04 09:30:00", gps=(116.8, 25.1))
    answer = submit_report(store, ids["national"], "墓碑倾斜，需要扶正", "13800000000", Photo("p.jpg", photo),
                           client="c1", idempotency_key="report-key-1", instance_path=tmp_path)
    retry = submit_report(store, ids["national"], "墓碑倾斜，需要扶正", None, None, client="c1",
                          idempotency_key="report-key-1", instance_path=tmp_path)

    assert re.fullmatch(r"WT-\d{8}-[2-9A-Z]{6}", answer["reference"]) and retry["reference"] == answer["reference"]
    assert count(store, ProblemReport) == 1 and count(store, Attachment) == 1
    with store.session() as session:
        kept = Image.open(io.BytesIO((Path(tmp_path) / session.scalars(select(Attachment)).one().storage_path)
                                     .read_bytes()))
    # The visitor's position and clock stay out of what is kept; the picture is resized for viewing.
    assert not kept.getexif() and max(kept.size) <= 1600
    found = lookup_report(store, answer["reference"].lower())
    assert found["state"] == "received" and found["facility_name"] == "示例烈士陵园（示例）"

    with store.session() as session:
        report = session.scalars(select(ProblemReport)).one()
    set_report_state(store, MANAGER, report.id, report.version, "resolved", "已扶正")
    html = app.test_client().get(f"/reports?reference={answer['reference']}").get_data(as_text=True)
    assert "已处理" in html and "已扶正" in html and "13800000000" not in html


@pytest.mark.parametrize(
    ("text", "contact", "photo", "field"),
    [
        ("坏", None, None, "text"),
        ("坏" * 1001, None, None, "text"),
        ("墓碑倾斜需要扶正", "x" * 61, None, "contact"),
        ("墓碑倾斜需要扶正", None, Photo("a.gif", b"GIF89a" + b"\x00" * 10), "photo"),
        ("墓碑倾斜需要扶正", None, Photo("big.png", PNG + b"\x00" * (5 * 1024 * 1024)), "photo"),
        ("墓碑倾斜需要扶正", None, Photo("fake.png", PNG), "photo"),
        # Made when the test runs, not when the suite is collected: the bomb takes a moment to draw.
        ("墓碑倾斜需要扶正", None, lambda: Photo("bomb.png", pixel_bomb()), "photo"),
        ("墓碑倾斜需要扶正", None, lambda: Photo("cut.jpg", jpeg(800, 600)[:2000]), "photo"),
    ],
)
def test_bad_reports_are_refused(seeded, tmp_path, text, contact, photo, field):
    _app, store, ids = seeded
    photo = photo() if callable(photo) else photo
    with pytest.raises(InvalidInput) as raised:
        submit_report(store, ids["national"], text, contact, photo, client="c1", idempotency_key="bad-report-1",
                      instance_path=tmp_path)

    assert raised.value.field == field and count(store, ProblemReport) == 0 and count(store, Attachment) == 0
    assert not list(Path(tmp_path).rglob("*.jpg"))


def test_report_form_gives_a_reference_and_unknown_references_are_404(seeded):
    app, _store, ids = seeded
    client = app.test_client()

    response = client.post(f"/facilities/{ids['monument']}/report",
                           data={"text": XSS_NAME, "key": "form-report-1"})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "您的受理编号是 WT-" in html and "已受理" in html

    missing = client.get("/reports?reference=WT-20000101-AAAAAA")
    assert missing.status_code == 404 and "没有找到受理编号" in missing.get_data(as_text=True)
    bad = client.post(f"/facilities/{ids['monument']}/report", data={"text": "短", "key": "form-report-2"})
    assert bad.status_code == 400 and "请用 5 至 1000 个字描述问题" in bad.get_data(as_text=True)


def test_a_peak_of_concurrent_flowers_keeps_every_one(seeded):
    from concurrent.futures import ThreadPoolExecutor

    _app, store, ids = seeded
    martyr = ids["martyrs"][2]

    def lay(i):
        # every visitor twice: the retry must not count
        for _attempt in range(2):
            lay_flower(store, "martyr", martyr, client=f"visitor-{i}", idempotency_key=f"peak-key-{i:04d}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lay, range(40)))

    assert tribute_summary(store, "martyr", martyr)["flowers"] == 40
    assert count(store, Tribute, Tribute.target_id == martyr) == 40


def test_a_flower_writes_its_row_count_token_and_audit_event_together(seeded):
    from registry.models import RateBucket, TributeCount

    _app, store, ids = seeded
    martyr = ids["martyrs"][1]
    result = lay_flower(store, "martyr", martyr, client="one-visitor", idempotency_key="audit-key-01")

    with store.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "tribute_flower"))
        tribute = session.get(Tribute, result.tribute_id)
        counted = session.scalar(select(TributeCount.flowers).where(TributeCount.target_type == "martyr",
                                                                    TributeCount.target_id == martyr))
        bucket = session.get(RateBucket, "tribute:one-visitor")
    assert (event.actor_name, event.entity_type, event.entity_id) == ("public", "tributes", result.tribute_id)
    assert event.after["idempotency_key"] == "audit-key-01" and event.after["id"] == result.tribute_id
    assert event.after["kind"] == "flower" and event.after["moderation"] == "approved"
    # the stored time, to the millisecond a GeoPackage keeps
    assert event.after["created_at"][:23] == tribute.created_at.isoformat()[:23]
    assert (tribute.kind, tribute.moderation, tribute.version, tribute.client_hash) == (
        "flower", "approved", 1, "one-visitor")
    assert counted == result.flowers == 1
    assert bucket.tokens == pytest.approx(4.0, abs=0.01)  # a burst of 5, one taken


def test_a_retry_answers_with_the_first_flower_and_spends_no_token(seeded):
    from registry.models import RateBucket

    _app, store, ids = seeded
    martyr = ids["martyrs"][0]
    first = lay_flower(store, "martyr", martyr, client="tapper", idempotency_key="retry-key-01")
    for _ in range(6):  # more retries than the bucket holds: none is refused, none counts
        again = lay_flower(store, "martyr", martyr, client="tapper", idempotency_key="retry-key-01")
        assert (again.tribute_id, again.created, again.flowers) == (first.tribute_id, False, 1)

    with store.session() as session:
        assert session.get(RateBucket, "tribute:tapper").tokens == pytest.approx(4.0, abs=0.01)
    assert count(store, AuditEvent, AuditEvent.action == "tribute_flower") == 1


def test_a_refused_flower_writes_nothing_at_all(seeded):
    from registry.models import RateBucket

    _app, store, ids = seeded
    martyr = ids["martyrs"][0]
    for i in range(5):
        lay_flower(store, "martyr", martyr, client="eager", idempotency_key=f"eager-key-{i}")

    with pytest.raises(RateLimited) as raised:
        lay_flower(store, "martyr", martyr, client="eager", idempotency_key="eager-key-5")

    assert "please wait" in raised.value.message
    assert tribute_summary(store, "martyr", martyr)["flowers"] == 5
    assert count(store, Tribute, Tribute.idempotency_key == "eager-key-5") == 0
    assert count(store, AuditEvent, AuditEvent.action == "tribute_flower") == 5
    with store.session() as session:
        assert session.get(RateBucket, "tribute:eager").tokens < 1.0
    # a flower refused for an unknown target writes nothing either, not even a bucket
    with pytest.raises(NotFound):
        lay_flower(store, "martyr", 999999, client="lost", idempotency_key="lost-key-01")
    with store.session() as session:
        assert session.get(RateBucket, "tribute:lost") is None


def test_the_same_key_sent_at_once_from_many_threads_makes_one_flower(seeded):
    from concurrent.futures import ThreadPoolExecutor

    _app, store, ids = seeded
    martyr = ids["martyrs"][1]

    def tap(i):
        return lay_flower(store, "martyr", martyr, client=f"family-{i % 3}", idempotency_key="same-moment-01")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(tap, range(12)))

    assert len({r.tribute_id for r in results}) == 1 and sum(r.created for r in results) == 1
    assert tribute_summary(store, "martyr", martyr)["flowers"] == 1
    assert count(store, Tribute, Tribute.target_id == martyr) == 1
    assert count(store, AuditEvent, AuditEvent.action == "tribute_flower") == 1


def test_a_message_is_audited_but_lays_no_flower(seeded):
    _app, store, ids = seeded
    lay_flower(store, "facility", ids["national"], client="c1", idempotency_key="mix-key-01")
    result = leave_message(store, "facility", ids["national"], "缅怀先烈", client="c2", idempotency_key="mix-key-02")

    assert (result.moderation, result.flowers) == ("pending", 1)
    assert count(store, AuditEvent, AuditEvent.action == "tribute_message") == 1
    assert tribute_summary(store, "facility", ids["national"])["flowers"] == 1

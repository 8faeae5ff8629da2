"""Inspections from the field on both stores: distance and on-site flag, photos, idempotent retries, bad input."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry.files.images import check_image
from registry.models import Attachment, AuditEvent, Facility, Inspection
from registry.services import Forbidden, InvalidInput
from registry.services.manage.inspections import FieldRules, submit_inspection
from tests.factories import CHANGTING, facility, form, jpeg, people, pixel_bomb, png


def counts(store):
    with store.session() as s:
        return (s.scalar(select(func.count(Inspection.id))), s.scalar(select(func.count(Attachment.id))))


def files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def field(any_store, tmp_path):
    actors = people(any_store)
    site = facility(any_store)
    return any_store, actors, site, tmp_path / "attachments"


def test_an_inspection_on_site_with_photos(field):
    store, actors, site, folder = field
    photo = jpeg(exif_time="2026:04:01 09:30:00", gps=(116.818, 25.225))
    result = submit_inspection(store, actors["mgr"], site.id, form(lon="116.8181", lat="25.2251",
                                                                   problems="碑文风化"),
                               [("front.jpg", photo), ("side.png", png())], attachments_dir=folder)
    assert not result.replayed
    with store.session() as s:
        stored = s.get(Inspection, result.inspection.id)
        assert stored.on_site is True and 0 < stored.distance_m < 20
        assert stored.inspector_name == "mgr" and stored.problems == "碑文风化"
        photos = s.scalars(select(Attachment).where(Attachment.entity_type == "inspections")).all()
        assert sorted(p.filename for p in photos) == ["front.jpg", "side.png"]
        assert {p.content_type for p in photos} == {"image/jpeg", "image/png"}
        front = next(p for p in photos if p.filename == "front.jpg")
        assert front.taken_at == datetime(2026, 4, 1, 1, 30, tzinfo=UTC)  # EXIF Beijing time read as UTC
        assert front.public is False
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "inspections")).all()
        assert events == ["create"]
    # The files are on disk under the attachments folder, the thumbnails and display copies without EXIF.
    names = files(folder)
    assert len(names) == 6 and any(n.endswith("-thumb.jpg") for n in names)
    thumb = next(p for p in folder.rglob(f"{front.sha256}-display.jpg"))
    shown = check_image(thumb.read_bytes())
    assert shown.taken_at is None and shown.lon is None
    assert not Image.open(io.BytesIO(thumb.read_bytes())).getexif()


def test_a_position_beyond_the_limit_is_marked_not_on_site(field):
    store, actors, site, folder = field
    # About 1.1 km north of the facility: a real visit nearby, but not at the site.
    result = submit_inspection(store, actors["mgr"], site.id, form(lon="116.818", lat="25.235"), [],
                               attachments_dir=folder)
    assert result.inspection.on_site is False and 1000 < result.inspection.distance_m < 1200
    wide = FieldRules(on_site_m=2000)
    again = submit_inspection(store, actors["mgr"], site.id, form(key="key-0002-abcdef", lon="116.818",
                                                                  lat="25.235"), [], attachments_dir=folder,
                              rules=wide)
    assert again.inspection.on_site is True


def test_without_a_position_the_inspection_has_no_fix(field):
    store, actors, site, folder = field
    result = submit_inspection(store, actors["mgr"], site.id, form(), [], attachments_dir=folder)
    assert result.inspection.on_site is None and result.inspection.geom is None


def test_a_retry_with_the_same_key_keeps_one_inspection(field):
    store, actors, site, folder = field
    photo = jpeg()
    first = submit_inspection(store, actors["mgr"], site.id, form(), [("a.jpg", photo)], attachments_dir=folder)
    second = submit_inspection(store, actors["mgr"], site.id, form(), [("a.jpg", photo)], attachments_dir=folder)
    assert second.replayed and second.inspection.id == first.inspection.id
    assert counts(store) == (1, 1)
    assert len(files(folder)) == 3


def test_simultaneous_retries_keep_one_inspection(field):
    store, actors, site, folder = field
    results, errors = [], []

    def submit():
        try:
            results.append(submit_inspection(store, actors["mgr"], site.id, form(key="race-key-123456"),
                                             [("a.jpg", jpeg())], attachments_dir=folder))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.inspection.id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False, True, True, True]
    assert counts(store) == (1, 1)


def test_the_newest_inspection_sets_the_facility_checklist(field):
    store, actors, site, folder = field
    submit_inspection(store, actors["mgr"], site.id, form(std_road="missing"), [], attachments_dir=folder)
    # An older inspection typed in later does not overwrite what the newest one confirmed.
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    submit_inspection(store, actors["mgr"], site.id, form(key="key-older-000", std_road="present",
                                                          inspected_at=old), [], attachments_dir=folder)
    with store.session() as s:
        assert s.get(Facility, site.id).std_road == "missing"


def _fifty_megabytes():
    return jpeg()[:-2] + b"\0" * (50 * 1024 * 1024) + b"\xff\xd9"


BAD = [
    pytest.param({}, [("notes.jpg", b"this is a text file, not a photo")], "photos", "not a photo", id="not-an-image"),
    pytest.param({}, [("big.jpg", "FIFTY_MB")], "photos", "at most 15 MB", id="50-MB-photo"),
    pytest.param({}, [("bomb.png", "BOMB")], "photos", "pixels", id="pixel-bomb"),
    pytest.param({}, [("ok.jpg", "JPEG"), ("x.gif", "GIF")], "photos", "GIF", id="gif-after-a-good-photo"),
    pytest.param({}, [("half.jpg", "HALF")], "photos", "damaged or truncated", id="truncated-photo"),
    pytest.param({"inspected_at": "FUTURE"}, [("ok.jpg", "JPEG")], "inspected_at", "in the future", id="future-date"),
    pytest.param({"inspected_at": "yesterday"}, [], "inspected_at", "not a date", id="not-a-date"),
    pytest.param({"lon": "106.5", "lat": "29.5"}, [("ok.jpg", "JPEG")], "position", "km from", id="1000-km-away"),
    pytest.param({"lon": "116.8"}, [], "position", "both", id="half-a-position"),
    pytest.param({"lon": "25.225", "lat": "116.818"}, [], "position", "", id="swapped-axes"),
    pytest.param({"condition": "splendid"}, [], "condition", "condition must be", id="unknown-condition"),
    pytest.param({"std_road": None}, [], "std_road", "一条通行道路", id="checklist-item-missing"),
    pytest.param({"tier": "province"}, [], "tier", "tier", id="unknown-tier"),
    pytest.param({"idempotency_key": "x"}, [], "idempotency_key", "idempotency_key", id="no-key"),
    pytest.param({"problems": "问" * 5000}, [], "problems", "at most", id="problems-too-long"),
]


def _payload(kind):
    if kind == "FIFTY_MB":
        return _fifty_megabytes()
    if kind == "BOMB":
        return pixel_bomb()
    if kind == "JPEG":
        return jpeg()
    if kind == "HALF":
        whole = jpeg(1200, 900, colour=(90, 140, 200))
        return whole[: len(whole) // 2]
    if kind == "GIF":
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, "GIF")
        return out.getvalue()
    return kind


@pytest.mark.parametrize("extra, photos, field_name, message", BAD)
def test_bad_input_is_refused_with_the_field_and_writes_nothing(field, extra, photos, field_name, message):
    store, actors, site, folder = field
    extra = dict(extra)
    if extra.get("inspected_at") == "FUTURE":
        extra["inspected_at"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    uploads = [(name, _payload(kind)) for name, kind in photos]
    before = counts(store)
    with pytest.raises(InvalidInput) as caught:
        submit_inspection(store, actors["mgr"], site.id, form(**extra), uploads, attachments_dir=folder)
    assert caught.value.field == field_name
    assert message in caught.value.message
    assert counts(store) == before
    assert files(folder) == []


def test_a_manager_of_another_county_is_refused(field):
    store, actors, site, folder = field
    with pytest.raises(Forbidden, match="上杭县"):
        submit_inspection(store, actors["other"], site.id, form(), [], attachments_dir=folder)
    with pytest.raises(Forbidden):
        submit_inspection(store, actors["planner1"], site.id, form(), [], attachments_dir=folder)
    assert counts(store) == (0, 0)


def test_a_key_reused_for_another_facility_is_a_conflict(field):
    store, actors, site, folder = field
    other = facility(store)
    submit_inspection(store, actors["mgr"], site.id, form(), [], attachments_dir=folder)
    from registry.services import Conflict

    with pytest.raises(Conflict, match="already used"):
        submit_inspection(store, actors["mgr"], other.id, form(), [], attachments_dir=folder)


def test_a_changting_manager_inspects_in_changting(field):
    store, actors, _site, folder = field
    site = facility(store, county=CHANGTING, lonlat=(116.36, 25.84))
    assert submit_inspection(store, actors["other"], site.id, form(), [], attachments_dir=folder).inspection.id


def test_a_heic_photo_from_an_iphone_is_accepted(field):
    pytest.importorskip("pillow_heif", reason="HEIC needs pillow-heif")
    store, actors, site, folder = field
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, format="HEIF")
    result = submit_inspection(store, actors["mgr"], site.id, form(), [("IMG_0001.HEIC", out.getvalue())],
                               attachments_dir=folder)
    with store.session() as s:
        photo = s.scalars(select(Attachment).where(Attachment.entity_id == result.inspection.id)).one()
    assert photo.content_type == "image/heic"
    assert any(p.name.endswith(".heic") for p in folder.rglob("*")) and any(
        p.name.endswith("-display.jpg") for p in folder.rglob("*"))

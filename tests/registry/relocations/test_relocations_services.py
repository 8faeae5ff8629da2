"""Relocation records on both stores: steps in order, acceptance rules, audit, versions, scans and the public story."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry.models import Attachment, AuditEvent, Martyr, Relocation
from registry.services import Actor, Conflict, Forbidden, InvalidInput, unit_of_work
from registry.services import relocations as service
from tests.factories import ADMIN, SHANGHANG_MANAGER

PLANNER = Actor(name="planner", roles=("planner",))

STEPS = {"surveyed_on": date(2021, 3, 1), "consent_on": date(2021, 3, 20), "approved_on": date(2021, 4, 10),
         "exhumed_on": date(2021, 5, 2), "reburied_on": date(2021, 5, 3), "accepted_on": date(2021, 6, 20)}


def base(dests, **extra):
    values = {"code": "350823-T0001", "origin_place": "上杭县蛟洋镇文地村后山", "origin_county_code": "350823",
              "origin_township": "蛟洋镇", "origin_village": "文地村", "origin_lon": 116.61, "origin_lat": 25.15,
              "origin_point_method": "gps", "dest_facility_id": dests["SH-COL"], "dest_plot_area": "A区",
              "dest_plot_row": "1排", "dest_plot_number": "3号", "family_consent": True, "consent_by": "张某",
              "consent_relation": "侄子", "approval_number": "杭民〔2021〕5号", "approval_body": "上杭县人民政府",
              "batch": "2021-上杭-第1批", "project": "上杭县零散烈士墓集中迁移项目", "funding_source": "provincial",
              "funding_amount": 3000.0, "effects": ["搪瓷碗"]}
    values.update(extra)
    return values


def count(store, model):
    with store.session() as s:
        return s.scalar(select(func.count(model.id)))


def test_create_with_all_steps_draws_the_journey_and_audits(any_store, dests):
    relocation = service.create_relocation(any_store, ADMIN, base(dests, **STEPS))
    with any_store.session() as s:
        stored = s.get(Relocation, relocation.id)
        assert stored.stage == "accepted" and stored.version == 1
        assert list(stored.geom.coords) == [(116.61, 25.15), (116.65, 25.17)]
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "relocations")).one()
        assert event.action == "create" and event.after["code"] == "350823-T0001"


def test_steps_recorded_one_by_one_move_the_stage(any_store, dests):
    r = service.create_relocation(any_store, ADMIN, base(dests, family_consent=False, consent_by=None))
    assert r.stage == "planned"
    r = service.update_relocation(any_store, ADMIN, r.id, r.version, {"surveyed_on": STEPS["surveyed_on"]})
    assert r.stage == "in_progress"
    for step in ("consent_on", "approved_on", "exhumed_on", "reburied_on", "accepted_on"):
        extra = {"family_consent": True} if step == "consent_on" else {}
        r = service.update_relocation(any_store, ADMIN, r.id, r.version, {step: STEPS[step], **extra})
    assert r.stage == "accepted" and r.version == 7
    with any_store.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity_id == r.id,
                                                    AuditEvent.entity_type == "relocations")
                           .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create"] + ["update"] * 6
    assert events[-1].before["accepted_on"] is None and events[-1].after["accepted_on"] == "2021-06-20"


@pytest.mark.parametrize("change, field, message", [
    ({"exhumed_on": date(2021, 4, 1)}, "exhumed_on", "cannot be before Approval"),
    ({"consent_on": date(2021, 2, 1)}, "consent_on", "cannot be before Survey"),
    ({"accepted_on": date(2021, 5, 1)}, "accepted_on", "cannot be before Reburial"),
    ({"family_consent": False, "consent_on": None}, "accepted_on", "needs the family's consent"),
    ({"approval_number": ""}, "accepted_on", "needs the approval on file"),
    ({"approval_number": None}, "accepted_on", "needs the approval on file"),
    ({"origin_county_code": "110101"}, "origin_county_code", "not a known county"),
    ({"origin_point_method": "guess"}, "origin_point_method", "not one of"),
    ({"funding_source": "lottery"}, "funding_source", "not one of"),
    ({"funding_amount": -5}, "funding_amount", "0 or more"),
    ({"effects": "搪瓷碗"}, "effects", "list of texts"),
    ({"origin_lon": 25.15, "origin_lat": 116.61}, "origin_lon", "swapped"),
    ({"origin_lat": None}, "origin_lon", "needs both"),
    ({"martyr_id": 999999}, "martyr_id", "not on the roll"),
    ({"colour": "red"}, "colour", "unknown fields"),
])
def test_bad_input_is_refused_by_field_and_nothing_is_written(any_store, dests, change, field, message):
    values = base(dests, **STEPS)
    values.update(change)
    before = (count(any_store, Relocation), count(any_store, AuditEvent))
    with pytest.raises(InvalidInput) as caught:
        service.create_relocation(any_store, ADMIN, values)
    assert caught.value.field == field and message in caught.value.message
    assert (count(any_store, Relocation), count(any_store, AuditEvent)) == before


def test_destination_must_be_a_cemetery_or_burial_ground(any_store, dests):
    from registry.services.facilities import create_facility

    hall = create_facility(any_store, ADMIN, {"code": "H1", "name": "纪念馆", "category": "memorial_hall",
                                              "county_code": "350823", "lon": 116.8, "lat": 25.2})
    with pytest.raises(InvalidInput, match="not a cemetery") as caught:
        service.create_relocation(any_store, ADMIN, base(dests, dest_facility_id=hall.id))
    assert caught.value.field == "dest_facility_id"


def test_a_stale_edit_is_refused(any_store, dests):
    r = service.create_relocation(any_store, ADMIN, base(dests))
    service.update_relocation(any_store, ADMIN, r.id, r.version, {"note": "first"})
    with pytest.raises(Conflict, match="version"):
        service.update_relocation(any_store, ADMIN, r.id, r.version, {"note": "second"})


def test_an_out_of_order_edit_changes_nothing(any_store, dests):
    r = service.create_relocation(any_store, ADMIN, base(dests, **STEPS))
    with pytest.raises(InvalidInput, match="cannot be before"):
        service.update_relocation(any_store, ADMIN, r.id, r.version, {"reburied_on": date(2020, 1, 1)})
    with any_store.session() as s:
        assert s.get(Relocation, r.id).reburied_on == STEPS["reburied_on"]


def test_code_is_unique_and_generated_when_absent(any_store, dests):
    service.create_relocation(any_store, ADMIN, base(dests))
    with pytest.raises(Conflict, match="already used"):
        service.create_relocation(any_store, ADMIN, base(dests))
    made = service.create_relocation(any_store, ADMIN, base(dests, code=None))
    assert made.code.startswith("350823-N")


def test_managers_are_scoped_to_their_county(any_store, dests):
    r = service.create_relocation(any_store, SHANGHANG_MANAGER, base(dests))
    # The destination's county decides: a grave of Shanghang moved to Changting's cemetery is Changting's.
    with pytest.raises(Forbidden, match="长汀县"):
        service.create_relocation(any_store, SHANGHANG_MANAGER, base(dests, code="X", dest_facility_id=dests["CT-CEM"]))
    with pytest.raises(Forbidden):
        service.create_relocation(any_store, SHANGHANG_MANAGER, base(dests, code="Y", origin_county_code="350821",
                                                                     dest_facility_id=None))
    # A grave of Changting received by Shanghang's collective burial ground is Shanghang's to record.
    assert service.create_relocation(any_store, SHANGHANG_MANAGER,
                                     base(dests, code="Z", origin_county_code="350821", dest_plot_number="9号")).id
    with pytest.raises(Forbidden):
        service.update_relocation(any_store, PLANNER, r.id, r.version, {"note": "x"})


def test_cancel_keeps_the_record(any_store, dests):
    r = service.create_relocation(any_store, ADMIN, base(dests))
    with pytest.raises(InvalidInput, match="reason"):
        service.cancel_relocation(any_store, ADMIN, r.id, r.version, " ")
    cancelled = service.cancel_relocation(any_store, ADMIN, r.id, r.version, "家属要求原地保护")
    assert cancelled.stage == "cancelled" and count(any_store, Relocation) == 1
    accepted = service.create_relocation(any_store, ADMIN, base(dests, code="A2", **STEPS))
    with pytest.raises(Conflict, match="accepted"):
        service.cancel_relocation(any_store, ADMIN, accepted.id, accepted.version, "x")


def _png() -> bytes:
    """A real (small) PNG: an image scan is checked like a photo, so a bare signature is not enough."""
    out = io.BytesIO()
    Image.new("L", (40, 30)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n%scan\n"
PNG = _png()


def test_scans_attach_to_a_step(any_store, dests, tmp_path):
    r = service.create_relocation(any_store, ADMIN, base(dests, **STEPS))
    att = service.attach_scan(any_store, ADMIN, r.id, "consent_on", "同意书.pdf", PDF, tmp_path)
    service.attach_scan(any_store, ADMIN, r.id, "accepted_on", "验收.png", PNG, tmp_path)
    view = service.get_relocation(any_store, r.id, ADMIN)
    assert [a.filename for a in view.attachments["consent_on"]] == ["同意书.pdf"]
    assert [a.content_type for a in view.attachments["accepted_on"]] == ["image/png"]
    assert Path(att.storage_path).read_bytes() == PDF


@pytest.mark.parametrize("step, data, field, message", [
    ("buried_on", PDF, "step", "not one of"),
    ("consent_on", b"", "file", "empty"),
    ("consent_on", b"PK\x03\x04 a zip", "file", "not a PDF, PNG or JPEG"),
    ("consent_on", b"%PDF" + b"0" * service.MAX_SCAN_BYTES, "file", "larger than"),
])
def test_bad_scans_are_refused(any_store, dests, tmp_path, step, data, field, message):
    r = service.create_relocation(any_store, ADMIN, base(dests))
    with pytest.raises(InvalidInput, match=message) as caught:
        service.attach_scan(any_store, ADMIN, r.id, step, "x", data, tmp_path)
    assert caught.value.field == field and count(any_store, Attachment) == 0


def test_relocation_story_tells_where_they_first_lay_without_family_details(any_store, dests):
    with unit_of_work(any_store) as s:
        martyr = Martyr(name="测试烈士", version=1)
        s.add(martyr)
    service.create_relocation(any_store, ADMIN, base(dests, martyr_id=martyr.id, **STEPS))
    service.create_relocation(any_store, ADMIN, base(dests, code="C2", martyr_id=martyr.id))
    with any_store.session() as s:
        second = s.scalar(select(Relocation).where(Relocation.code == "C2"))
    service.cancel_relocation(any_store, ADMIN, second.id, second.version, "重复登记")
    story = service.relocation_story(any_store, martyr.id)
    assert len(story) == 1
    entry = story[0]
    assert entry["origin_place"] == "上杭县蛟洋镇文地村后山" and entry["origin_county"] == "上杭县"
    assert entry["destination"] == "蛟洋集中安葬点（测试）" and entry["brought_on"] == date(2021, 5, 3)
    assert entry["plot"] == "A区 1排 3号"
    text = repr(story)
    assert "张某" not in text and "侄子" not in text and "consent" not in text
    assert service.relocation_story(any_store, 999) == []


def test_journeys_geojson_lines_and_destinations_by_filter(any_store, dests):
    service.create_relocation(any_store, ADMIN, base(dests, **STEPS))
    service.create_relocation(any_store, ADMIN, base(dests, code="C2", origin_lon=116.62, origin_lat=25.16))
    service.create_relocation(any_store, ADMIN, base(dests, code="C3", origin_county_code="350821",
                                                     origin_lon=116.30, origin_lat=25.70,
                                                     dest_facility_id=dests["CT-CEM"]))
    data = service.journeys_geojson(any_store, service.parse_filters({}, any_store), actor=ADMIN)
    assert data["journeys"] == 3 and data["destinations"] == 2
    dest = [f for f in data["features"] if f["properties"]["kind"] == "destination"]
    assert sorted(f["properties"]["received"] for f in dest) == [1, 2]
    only = service.journeys_geojson(any_store, service.parse_filters({"county": "350821"}, any_store), actor=ADMIN)
    assert [f["properties"]["code"] for f in only["features"] if f["properties"]["kind"] == "journey"] == ["C3"]
    in_2021 = service.parse_filters({"year": "2021"}, any_store)
    assert service.journeys_geojson(any_store, in_2021, actor=ADMIN)["journeys"] == 1


@pytest.mark.parametrize("args, field", [({"county": "999999"}, "county"), ({"year": "21"}, "year"),
                                         ({"stage": "lost"}, "stage")])
def test_bad_filters_are_named(store, args, field):
    with pytest.raises(InvalidInput) as caught:
        service.parse_filters(args, store)
    assert caught.value.field == field

"""Edits made in QGIS: export a layer, edit it with GDAL, upload, and a second person approves (both stores)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, Facility
from registry.services.base import snapshot
from tests.factories import CHANGTING, SHANGHANG, facility, multipart, people


@pytest.fixture
def world(any_folder_app):
    """Five facilities of 上杭县 and one of 长汀县, the people, and a signed-in client per user."""
    app = any_folder_app
    store = app.extensions["registry_store"]
    people(store)
    ids = [facility(store, lonlat=(116.40 + i / 100, 25.05)).id for i in range(5)]
    other = facility(store, county=CHANGTING, lonlat=(116.36, 25.84), township=None).id
    return app, store, ids, other


def signed_in(app, name):
    client = app.test_client()
    assert client.post("/login", data={"username": name, "password": f"{name}-password"}).status_code == 302
    return client


def export(client, tmp_path: Path, county=SHANGHANG) -> Path:
    response = client.post("/gis/edits/export", data={"county": county, "layer": "facilities"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Disposition"].endswith('.gpkg"')
    path = tmp_path / "export.gpkg"
    path.write_bytes(response.data)
    return path


def gdal_sql(path: Path, *statements: str) -> None:
    for sql in statements:
        subprocess.run(["ogrinfo", "-q", str(path), "-sql", sql], check=True, capture_output=True)


def upload(client, path: Path, name="edited.gpkg"):
    return multipart(client, "/gis/edits/upload", {"file": (io.BytesIO(path.read_bytes()), name)})


def point(lon, lat) -> str:
    return f"AsGPB(ST_GeomFromText('POINT({lon} {lat})', 4326))"


def rows(store) -> dict:
    with store.session() as s:
        return {f.id: snapshot(f) for f in s.scalars(select(Facility))}


def edit_four(path: Path, ids: list) -> None:
    """Change a field of one row, move another, delete a third and add one, as a planner would in QGIS."""
    gdal_sql(path,
             f"UPDATE facilities SET caretaker = '李看护', level = 'provincial' WHERE id = {ids[0]}",
             f"UPDATE facilities SET geom = {point(116.4115, 25.0512)} WHERE id = {ids[1]}",
             f"DELETE FROM facilities WHERE id = {ids[2]}",
             "INSERT INTO facilities (geom, code, name, category, level, county_code, sign_present, "
             f"land_title_registered, position_approximate) VALUES ({point(116.45, 25.06)}, 'QG-NEW-1', "
             "'新发现纪念碑', 'monument', 'county', '350823', 0, 0, 0)")


def test_round_trip_applies_exactly_the_changed_rows(world, tmp_path):
    app, store, ids, other = world
    mgr, mgr2 = signed_in(app, "mgr"), signed_in(app, "mgr2")
    path = export(mgr, tmp_path)
    edit_four(path, ids)
    before = rows(store)

    response = upload(mgr, path)
    assert response.status_code == 303, response.get_data(as_text=True)
    batch_url = response.headers["Location"]
    page = mgr.get(batch_url).get_data(as_text=True)
    assert page.count('class="edit"') == 4
    assert f'data-kind="change" data-target="{ids[0]}"' in page and "caretaker: — → 李看护" in page
    assert "level: county → provincial" in page
    assert f'data-kind="change" data-target="{ids[1]}"' in page and "位置移动" in page
    assert f'data-kind="retire" data-target="{ids[2]}"' in page and 'data-kind="add"' in page
    assert rows(store) == before, "nothing applies before approval"

    # The uploader may not approve their own batch.
    assert mgr.post(f"{batch_url}/decide", data={"decision": "approve"}).status_code == 403
    assert rows(store) == before

    assert mgr2.post(f"{batch_url}/decide", data={"decision": "approve"}).status_code == 303
    after = rows(store)
    assert after[ids[0]]["caretaker"] == "李看护" and after[ids[0]]["level"] == "provincial"
    assert after[ids[0]]["facts_source"] == "qgis_edit"
    with store.session() as s:
        moved = s.get(Facility, ids[1])
        assert (round(moved.geom.x, 6), round(moved.geom.y, 6)) == (116.4115, 25.0512)
        assert moved.position_source == "qgis_edit" and len(moved.position_source_ref) == 64
        added = s.scalars(select(Facility).where(Facility.code == "QG-NEW-1")).one()
        assert added.county_code == SHANGHANG and added.name == "新发现纪念碑"
        notes = s.scalars(select(AuditEvent.note).where(AuditEvent.entity_type == "facilities",
                                                         AuditEvent.actor_name == "mgr2")).all()
        assert len(notes) == 4 and all("QGIS edit batch" in note for note in notes)
    assert after[ids[2]]["status"] == "retired"
    for ident in (ids[3], ids[4], other):
        assert after[ident] == before[ident], f"facility {ident} changed"
    assert set(after) - set(before) == {added.id}
    assert 'data-state="closed"' in mgr2.get(batch_url).get_data(as_text=True)


def test_approve_one_row_and_decline_another(world, tmp_path):
    app, store, ids, _other = world
    planner, mgr = signed_in(app, "planner1"), signed_in(app, "mgr")
    path = export(planner, tmp_path)
    gdal_sql(path, f"UPDATE facilities SET caretaker = '甲' WHERE id = {ids[0]}",
             f"UPDATE facilities SET caretaker = '乙' WHERE id = {ids[3]}")
    batch_url = upload(planner, path).headers["Location"]
    page = mgr.get(batch_url).get_data(as_text=True)
    first, second = (int(part.split('"')[0]) for part in page.split('id="edit-')[1:3])
    assert mgr.post(f"{batch_url}/decide", data={"decision": "approve", "edit_id": first}).status_code == 303
    assert mgr.post(f"{batch_url}/decide", data={"decision": "decline", "edit_id": second}).status_code == 303
    after = rows(store)
    assert after[ids[0]]["caretaker"] == "甲" and after[ids[3]]["caretaker"] != "乙"


def test_a_row_changed_since_the_export_is_a_conflict(world, tmp_path):
    app, store, ids, _other = world
    from registry.services.facilities import update_facility
    from tests.factories import SYSTEM

    mgr, mgr2 = signed_in(app, "mgr"), signed_in(app, "mgr2")
    path = export(mgr, tmp_path)
    gdal_sql(path, f"UPDATE facilities SET caretaker = '旧文件' WHERE id = {ids[0]}",
             f"UPDATE facilities SET caretaker = '照常' WHERE id = {ids[1]}")
    update_facility(store, SYSTEM, ids[0], 1, {"caretaker": "登记库里改过"})
    batch_url = upload(mgr, path).headers["Location"]
    page = mgr2.get(batch_url).get_data(as_text=True)
    assert f'data-target="{ids[0]}" data-state="conflict"' in page and "请重新导出" in page
    assert mgr2.post(f"{batch_url}/decide", data={"decision": "approve"}).status_code == 303
    after = rows(store)
    assert after[ids[0]]["caretaker"] == "登记库里改过" and after[ids[1]]["caretaker"] == "照常"


def test_a_row_changed_after_the_upload_turns_into_a_conflict_at_approval(world, tmp_path):
    app, store, ids, _other = world
    from registry.services.facilities import update_facility
    from tests.factories import SYSTEM

    mgr, mgr2 = signed_in(app, "mgr"), signed_in(app, "mgr2")
    path = export(mgr, tmp_path)
    gdal_sql(path, f"UPDATE facilities SET caretaker = '文件' WHERE id = {ids[0]}")
    batch_url = upload(mgr, path).headers["Location"]
    update_facility(store, SYSTEM, ids[0], 1, {"caretaker": "之后改的"})
    mgr2.post(f"{batch_url}/decide", data={"decision": "approve"})
    assert rows(store)[ids[0]]["caretaker"] == "之后改的"
    assert 'data-state="conflict"' in mgr2.get(batch_url).get_data(as_text=True)


def test_rights_by_county(world, tmp_path):
    app, _store, _ids, _other = world
    other, reviewer, mgr = signed_in(app, "other"), signed_in(app, "reviewer1"), signed_in(app, "mgr")
    assert other.post("/gis/edits/export", data={"county": SHANGHANG}).status_code == 403
    assert reviewer.post("/gis/edits/export", data={"county": SHANGHANG}).status_code == 403
    path = export(mgr, tmp_path)
    batch_url = upload(mgr, path).headers["Location"]
    assert other.get(batch_url).status_code == 403
    assert other.post(f"{batch_url}/decide", data={"decision": "approve"}).status_code == 403
    assert upload(other, export(mgr, tmp_path)).status_code == 403

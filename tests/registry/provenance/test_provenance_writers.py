"""Every writer stamps where a record's position and facts come from, in its own unit of work, on both stores."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import geopandas as gpd
import pytest
from shapely.geometry import Point
from sqlalchemy import select

from geodata.exports import export
from registry.models import Facility, Martyr, Tomb
from registry.services import relocations as relocation_service
from registry.services.facilities import rename_facility, update_facility
from registry.services.gis.imports import import_features
from registry.services.manage.inspections import submit_inspection
from registry.services.provenance import describe, stamp
from registry.services.relocations import ledger as ledger_import
from registry.solar_terms import BEIJING
from tests.factories import (
    ADMIN,
    DESTINATIONS,
    FIXED_MAPPING,
    IMPORTER,
    facility,
    form,
    login,
    make_destinations,
    people,
    write_messy_ledger,
)


@pytest.fixture
def dests(any_store):
    return make_destinations(any_store)


def _get(store, model, ident):
    with store.session() as s:
        return s.get(model, ident)


def _set_position(store, facility_id, source, day):
    with store.write_session() as s:
        stamp(s.get(Facility, facility_id), "position", source, checked_on=day)
        s.commit()


def test_staff_edits_stamp_the_part_they_change(any_store):
    site = facility(any_store)
    made = _get(any_store, Facility, site.id)
    assert (made.position_source, made.facts_source) == ("staff_edit", "staff_edit")
    _set_position(any_store, site.id, "survey_gps", date(2026, 4, 5))

    version = _get(any_store, Facility, site.id).version
    update_facility(any_store, ADMIN, site.id, version, {"description": "新的简介"})
    edited = _get(any_store, Facility, site.id)
    # A change of facts leaves the surveyed position as it was.
    assert edited.facts_source == "staff_edit"
    assert (edited.position_source, edited.position_checked_on) == ("survey_gps", date(2026, 4, 5))
    assert describe(edited, "position", english=True) == "Position checked on site with GPS on 2026-04-05"

    update_facility(any_store, ADMIN, site.id, edited.version, {"lon": 116.82, "lat": 25.23})
    moved = _get(any_store, Facility, site.id)
    assert moved.position_source == "staff_edit" and moved.position_checked_on > date(2026, 4, 5)

    rename_facility(any_store, ADMIN, site.id, moved.version, "改名纪念碑", "龙政〔2026〕1号", "龙岩市人民政府",
                    date(2026, 5, 1))
    renamed = _get(any_store, Facility, site.id)
    assert (renamed.facts_source, renamed.facts_source_ref, renamed.facts_checked_on) == (
        "staff_edit", "approval 龙政〔2026〕1号", date(2026, 5, 1))


def test_the_ledger_import_stamps_the_files_hash(any_store, dests, tmp_path):
    path = write_messy_ledger(tmp_path / "m.xlsx", with_errors=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ledger_import.run_import(any_store, IMPORTER, path, "m.xlsx", mapping=FIXED_MAPPING)
    with any_store.session() as s:
        tombs = s.scalars(select(Tomb).where(Tomb.facility_id.in_(dests.values()))).all()
        martyrs = s.scalars(select(Martyr)).all()
    assert tombs and martyrs
    assert {(t.position_source, t.position_source_ref, t.facts_source, t.facts_source_ref) for t in tombs} == {
        ("ledger_import", digest, "ledger_import", digest)}
    assert {(m.facts_source, m.facts_source_ref) for m in martyrs} == {("ledger_import", digest)}
    assert describe(tombs[0], "position", english=True).startswith(
        f"Position from a ledger import (file {digest[:12]}) on ")


def test_the_gis_import_stamps_the_files_hash(any_store):
    frame = gpd.GeoDataFrame({"code": ["G1"], "name": ["才溪乡调查纪念馆"], "category": ["memorial_hall"],
                              "county_code": ["350823"]}, geometry=[Point(116.45, 25.0)], crs=4326)
    data = export(frame, "gpkg", "facilities")
    assert import_features(any_store, ADMIN, "facilities", data, "gpkg", dry_run=False).created == 1
    with any_store.session() as s:
        made = s.scalars(select(Facility).where(Facility.code == "G1")).one()
    digest = hashlib.sha256(data).hexdigest()
    assert (made.position_source, made.position_source_ref) == ("gis_import", digest)
    assert (made.facts_source, made.facts_source_ref) == ("gis_import", digest)


def test_an_inspection_on_site_confirms_the_position_not_the_facts(any_store, tmp_path):
    actors = people(any_store)
    site = facility(any_store)
    _set_position(any_store, site.id, "survey_gps", date(2020, 1, 1))
    facts_before = _get(any_store, Facility, site.id).facts_checked_on
    # Far from the point (about 1 km): logged, but not on site, so nothing is confirmed.
    submit_inspection(any_store, actors["mgr"], site.id, form(key="key-far-000001", lon="116.818", lat="25.235"),
                      [], attachments_dir=tmp_path)
    assert _get(any_store, Facility, site.id).position_checked_on == date(2020, 1, 1)
    submit_inspection(any_store, actors["mgr"], site.id, form(key="key-near-00001", lon="116.8181", lat="25.2251"),
                      [], attachments_dir=tmp_path)
    checked = _get(any_store, Facility, site.id)
    assert checked.position_source == "survey_gps"
    assert checked.position_checked_on == datetime.now(UTC).astimezone(BEIJING).date()
    assert checked.facts_checked_on == facts_before


def test_a_relocation_tomb_takes_the_provenance_of_where_its_point_came_from(any_store, dests):
    cemetery = dests[DESTINATIONS[0][0]]
    _set_position(any_store, cemetery, "survey_gps", date(2025, 9, 9))
    values = {"origin_place": "上杭县某村后山", "origin_county_code": "350823", "dest_facility_id": cemetery,
              "dest_plot_area": "B区", "dest_plot_row": "3排"}
    at_facility = relocation_service.create_relocation(any_store, ADMIN, {**values, "code": "P-1",
                                                                          "dest_plot_number": "1号"})
    at_plot = relocation_service.create_relocation(any_store, ADMIN, {
        **values, "code": "P-2", "dest_plot_number": "2号", "dest_lon": 116.4201, "dest_lat": 25.0451})
    first = _get(any_store, Tomb, at_facility.tomb_id)
    # Placed at the cemetery's own point: as well known as the cemetery's point is.
    assert (first.position_source, first.position_checked_on) == ("survey_gps", date(2025, 9, 9))
    assert (first.facts_source, first.facts_source_ref) == ("staff_edit", "relocation P-1")
    second = _get(any_store, Tomb, at_plot.tomb_id)
    assert (second.position_source, second.position_source_ref) == ("staff_edit", "relocation P-2")


def test_the_managers_archive_says_where_position_and_facts_come_from(any_app):
    store = any_app.extensions["registry_store"]
    people(store)
    site = facility(store)
    _set_position(store, site.id, "survey_gps", date(2026, 4, 5))
    client = login(any_app.test_client(), "mgr")
    page = client.get(f"/manage/facilities/{site.id}").get_data(as_text=True)
    assert "位置经实地GPS测定，最近核实于2026-04-05" in page
    assert "信息由工作人员录入" in page
    page = client.get(f"/manage/facilities/{site.id}?lang=en").get_data(as_text=True)
    assert "Position checked on site with GPS on 2026-04-05" in page

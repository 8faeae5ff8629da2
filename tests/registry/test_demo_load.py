"""Loading the demo into either store: what lands in the tables, the audit event, and refusing to mix with real data."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select, text

from registry import demo as demo_data
from registry.models import FEATURE_TABLES, AuditEvent, Facility, Relocation, Tomb
from registry.services import Conflict, InvalidInput
from registry.services.demo import MODELS, load_demo
from registry.services.facilities import create_facility
from tests.factories import ADMIN


def table_counts(store) -> dict[str, int]:
    with store.session() as s:
        return {table: s.scalar(select(func.count()).select_from(model.__table__)) for table, model in MODELS.items()}


def audit_count(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(AuditEvent.id)))


def test_demo_rows_fit_the_tables():
    data = demo_data.generate(scale=300)
    for table, rows in data.chunks():
        columns = set(MODELS[table].__table__.c.keys())
        assert set(rows[0]) <= columns, (table, set(rows[0]) - columns)


def test_the_demo_loads_and_a_second_load_is_refused(any_store):
    calls = []
    counts = load_demo(any_store, progress=lambda table, done, total: calls.append((table, done, total)))

    assert counts == table_counts(any_store) == demo_data.generate().counts
    # Longyan's figures, and the second city's few records beside them.
    assert counts["relocations"] == 4377 + demo_data.SECOND_CITY_RELOCATIONS
    assert counts["tombs"] == 6850 + demo_data.SECOND_CITY_TOMBS
    assert counts["martyrs"] == 7500 + demo_data.SECOND_CITY_MARTYRS
    # Progress arrives table by table, in write order, and ends at each table's total.
    assert [t for t in dict.fromkeys(t for t, _, _ in calls)] == [t for t in demo_data.TABLES if counts[t]]
    finals = {table: (done, total) for table, done, total in calls}
    assert all(done == total == counts[table] for table, (done, total) in finals.items())

    with any_store.session() as s:
        for table, model in MODELS.items():
            if "is_demo" in model.__table__.c:
                assert s.scalar(select(func.count()).select_from(model.__table__)
                                .where(model.__table__.c.is_demo.is_(False))) == 0, table
        event = s.scalars(select(AuditEvent)).one()
        assert (event.action, event.actor_name, event.entity_type) == ("demo_load", "demo loader", "registry")
        assert f"relocations {counts['relocations']}" in event.note and "seed 2022" in event.note
        gutian = s.scalars(select(Facility).where(Facility.name == "古田会议会址")).one()
        assert gutian.version == 1 and gutian.is_demo and gutian.position_approximate
        assert (gutian.geom.x, gutian.geom.y) == (116.818, 25.225)
        relocation = s.get(Relocation, 1)
        tomb = s.get(Tomb, relocation.tomb_id)
        assert tomb.state == "relocated" and tomb.facility_id == relocation.dest_facility_id
        assert relocation.geom.coords[-1] == s.get(Facility, relocation.dest_facility_id).geom.coords[0]
        assert relocation.created_at is not None and relocation.version == 1
        # Provenance is loaded as generated: per source, the same counts; dates as dates.
        loaded = dict(s.execute(select(Tomb.position_source, func.count()).group_by(Tomb.position_source)).all())
        made: dict = {}
        for chunk in demo_data.generate().rows("tombs"):
            for row in chunk:
                made[row["position_source"]] = made.get(row["position_source"], 0) + 1
        assert loaded == made and set(made) == {"ledger_import", "survey_gps", "map_digitising"}
        assert tomb.facts_source == "ledger_import" and tomb.facts_checked_on.year == 2022

    with pytest.raises(Conflict, match=r"already holds \d+ facilities.*never mix with real"):
        load_demo(any_store)
    assert table_counts(any_store) == counts
    assert audit_count(any_store) == 1

    # The next real record gets a fresh id after the demo's explicit ones.
    created = create_facility(any_store, ADMIN, {
        "code": "350823-F9999", "name": "新建纪念碑", "category": "monument", "county_code": "350823",
        "lon": 116.5, "lat": 25.1})
    assert created.id == counts["facilities"] + 1


def test_geopackage_extents_cover_the_demo(store):
    load_demo(store)
    con = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        extents = {row[0]: row[1:] for row in con.execute(
            "SELECT table_name, min_x, min_y, max_x, max_y FROM gpkg_contents")}
        indexed = con.execute("SELECT count(*) FROM rtree_tombs_geom").fetchone()[0]
    finally:
        con.close()
    assert indexed == 6850 + demo_data.SECOND_CITY_TOMBS
    written = [model.__tablename__ for model, _i, _d in FEATURE_TABLES if model.__tablename__ in MODELS]
    assert set(written) == {"facilities", "facility_zones", "heritage_sites", "tombs", "relocations", "inspections",
                            "service_stations"}
    for table in written:
        min_x, min_y, max_x, max_y = extents[table]
        # Longyan (24.4-26.1 N) and the second city to its north (to 26.6 N).
        assert 115.8 <= min_x < max_x <= 117.8 and 24.4 <= min_y < max_y <= 26.6, table


@pytest.mark.parametrize("store_kind", ["postgis"])
def test_postgis_geometries_carry_srid_4326(any_store):
    load_demo(any_store, scale=500)
    with any_store.engine.connect() as conn:
        for table in ("tombs", "relocations", "facility_zones", "inspections"):
            srids = conn.execute(text(f"SELECT DISTINCT ST_SRID(geom) FROM {table} WHERE geom IS NOT NULL")).all()
            assert srids == [(4326,)], table
        invalid = conn.execute(text("SELECT count(*) FROM facility_zones WHERE NOT ST_IsValid(geom)")).scalar()
        assert invalid == 0


class Interrupted(Exception):
    pass


def test_a_load_that_fails_halfway_leaves_nothing(any_store):
    def progress(table, done, total):
        if table == "relocations":
            raise Interrupted

    with pytest.raises(Interrupted):
        load_demo(any_store, scale=1000, progress=progress)
    assert set(table_counts(any_store).values()) == {0} and audit_count(any_store) == 0
    load_demo(any_store, scale=1000)  # and the registry still takes the demo afterwards


def test_a_registry_with_real_facilities_is_refused(any_store):
    create_facility(any_store, ADMIN, {
        "code": "350823-F0001", "name": "古田会议会址", "category": "memorial_hall", "level": "national",
        "county_code": "350823", "lon": 116.818, "lat": 25.225})
    before, events = table_counts(any_store), audit_count(any_store)
    with pytest.raises(Conflict, match="already holds 1 facilities") as refused:
        load_demo(any_store)
    assert "new, empty registry" in refused.value.message
    assert table_counts(any_store) == before and audit_count(any_store) == events


def test_a_scale_set_loads(any_store):
    counts = load_demo(any_store, scale=2000, seed=11)
    assert counts == table_counts(any_store)
    assert counts["tombs"] == counts["martyrs"] == 2000
    assert counts == {t: n for t, n in demo_data.generate(scale=2000, seed=11).counts.items()}


def test_a_bad_scale_is_a_clear_input_error(store):
    with pytest.raises(InvalidInput, match="scale must be a positive whole number"):
        load_demo(store, scale=0)
    assert audit_count(store) == 0

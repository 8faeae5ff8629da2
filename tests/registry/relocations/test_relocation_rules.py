"""The rules of the move on the record (missing consent or approval, future dates), plots as signed, journeys that end
at the tomb, and restoring a tomb retired by mistake; on both stores."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from shapely.geometry import Point
from sqlalchemy import column, func, insert, select, table, text

from geodata.plots import bare, format_plot, parse_plot
from registry.db import Store, StoreError
from registry.migrate import head_revision, upgrade
from registry.models import AuditEvent, Facility, Relocation, Tomb
from registry.services import Actor, Conflict, Forbidden, InvalidInput, unit_of_work
from registry.services import relocations as service
from registry.services.division_rows import check_rows
from registry.services.divisions import demo_rows
from registry.services.relocations.reconciliation import reconcile, to_xlsx
from registry.services.users import create_demo_users
from tests.conftest import throwaway_database
from tests.factories import ADMIN, demo_login

MOVED = {"surveyed_on": date(2021, 3, 1), "exhumed_on": date(2021, 5, 2), "reburied_on": date(2021, 5, 3)}
PAGE = "/relocations/reconciliation"


def record(store, dests, code, *, county="350823", plot=("B区", "3排", "12号"), **extra):
    values = {"code": code, "origin_place": "某村后山", "origin_county_code": county, "origin_lon": 116.61,
              "origin_lat": 25.15, "dest_facility_id": dests["SH-CEM"], "dest_plot_area": plot[0],
              "dest_plot_row": plot[1], "dest_plot_number": plot[2], **MOVED, **extra}
    return service.create_relocation(store, ADMIN, values)


# --- plots as signed -------------------------------------------------------------------------------------


@pytest.mark.parametrize("given, stored", [
    (("A区", "4排", "20号"), ("A", "4", "20")), (("A", "4", "20"), ("A", "4", "20")),
    ((" Ａ区 ", "第4排", 20.0), ("A", "4", "20")), ((None, "", "7号"), (None, None, "7")),
    (("东区", "12排", "3"), ("东", "12", "3")), (("区", None, "号"), (None, None, None)),
])
def test_a_plot_is_stored_bare_whether_it_carries_its_units_or_not(given, stored):
    assert parse_plot(*given) == stored


@pytest.mark.parametrize("plot, chinese, english", [
    (("A", "4", "20"), "A区 4排 20号", "Area A, row 4, no. 20"),
    (("A区", "4排", "20号"), "A区 4排 20号", "Area A, row 4, no. 20"),
    (("A", "2", "2"), "A区 2排 2号", "Area A, row 2, no. 2"),
    (("A", "22", None), "A区 22排", "Area A, row 22"),
    ((None, None, "5"), "5号", "no. 5"),
    ((None, None, None), "", ""),
])
def test_a_plot_is_shown_one_way(plot, chinese, english):
    assert format_plot(*plot) == chinese
    assert format_plot(*plot, english=True) == english


def test_bare_reads_numbers_from_spreadsheets():
    assert (bare(3.0, "row"), bare(12, "number")) == ("3", "12")


def test_the_grave_page_relocation_page_and_messages_show_the_plot_as_signed(any_app, any_store, dests):
    create_demo_users(any_store, Actor.system("test"))
    from tests.factories import new_martyr

    martyr = new_martyr(any_store, "陈某")
    moved = record(any_store, dests, "P1", martyr_id=martyr, plot=("A区", "4排", "20号"),
                   family_consent=True, approval_number="杭民〔2021〕5号")
    with any_store.session() as s:
        tomb = s.get(Tomb, moved.tomb_id)
        stored = s.get(Relocation, moved.id)
    assert (tomb.plot_area, tomb.plot_row, tomb.plot_number) == ("A", "4", "20")
    assert (stored.dest_plot_area, stored.dest_plot_row, stored.dest_plot_number) == ("A", "4", "20")
    html = any_app.test_client().get(f"/martyrs/{martyr}").get_data(as_text=True)  # the grave page
    assert "A区 4排 20号" in html and "区 区" not in html and "排 排" not in html
    page = demo_login(any_app, "manager").get(f"/relocations/{moved.id}").get_data(as_text=True)
    assert "A区 4排 20号" in page
    english = demo_login(any_app, "manager").get(f"/relocations/{moved.id}?lang=en").get_data(as_text=True)
    assert "Area A, row 4, no. 20" in english
    # A conflict names the plot the same way: row 2 and number 2 cannot be read as row 22.
    other = new_martyr(any_store, "林某")
    with pytest.raises(Conflict) as caught:
        record(any_store, dests, "P2", martyr_id=other, plot=("A", "4", "20"))
    assert "A区 4排 20号" in caught.value.message


# --- rules of the move -----------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on"])
def test_a_step_dated_after_today_is_refused_and_nothing_is_stored(any_store, dests, step):
    later = date.today() + timedelta(days=400)
    with pytest.raises(InvalidInput) as caught:
        record(any_store, dests, "F1", **{**{k: None for k in MOVED}, step: later, "family_consent": True})
    assert caught.value.field == step and "after today" in caught.value.message
    with any_store.session() as s:
        assert s.scalar(select(func.count(Relocation.id))) == 0


def test_missing_consent_or_approval_is_listed_per_county_on_the_page_xlsx_and_record(any_app, any_store, dests):
    create_demo_users(any_store, Actor.system("test"))
    complete = record(any_store, dests, "OK-1", family_consent=True, approval_number="杭民〔2021〕5号")
    no_consent = record(any_store, dests, "SH-NC", approval_number="杭民〔2021〕6号")
    no_approval = record(any_store, dests, "CT-NA", county="350821", family_consent=True)
    planned = record(any_store, dests, "SH-PL", **{k: None for k in MOVED})  # not reburied: not listed
    result = reconcile(any_store)
    listed = {c.county: [(r.code, r.consent, r.approval) for r in c.relocations] for c in result.missing}
    assert listed == {"350823": [("SH-NC", True, False)], "350821": [("CT-NA", False, True)]}
    html = demo_login(any_app, "admin").get(PAGE).get_data(as_text=True)
    section = html[html.index('id="missing-consent-or-approval"'):html.index('id="multi-graves"')]
    assert re.search(r'data-code="SH-NC"><a href="/relocations/\d+">SH-NC</a>：\s*<span data-missing="consent">',
                     section)
    assert 'data-code="CT-NA"' in section and "缺批准文号" in section
    assert "OK-1" not in section and "SH-PL" not in section
    # A county's manager sees their own county's list only.
    own = demo_login(any_app, "manager").get(PAGE).get_data(as_text=True)
    assert 'data-code="SH-NC"' in own and 'data-code="CT-NA"' not in own
    book = load_workbook(io.BytesIO(demo_login(any_app, "admin").get(PAGE + "?format=xlsx").data))
    sheet = book["缺少同意或批准"]
    rows = [tuple(c.value for c in r) for r in sheet.iter_rows()]
    assert rows[0] == ("县（市、区）", "台账编号", "缺家属同意", "缺批准文号")
    assert ("上杭县", "SH-NC", "缺", None) in rows and ("长汀县", "CT-NA", None, "缺") in rows
    english = load_workbook(io.BytesIO(to_xlsx(result, english=True)))["Missing consent or approval"]
    assert [c.value for c in english[1]] == ["County", "Ledger number", "Consent missing", "Approval missing"]
    # Each relocation's page lists what its file lacks.
    client = demo_login(any_app, "admin")
    lacks = client.get(f"/relocations/{no_consent.id}").get_data(as_text=True)
    checklist = re.findall(r'data-lacks="(\w+)"', lacks)
    assert checklist == ["family_consent", "consent_on", "approved_on", "accepted_on"]
    assert re.findall(r'data-lacks="(\w+)"', client.get(f"/relocations/{planned.id}").get_data(as_text=True)) == [
        "family_consent", "approval_number", "surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on",
        "accepted_on"]
    assert "approval_number" not in checklist
    assert 'data-lacks="family_consent"' not in client.get(f"/relocations/{complete.id}").get_data(as_text=True)
    assert 'data-lacks="approval_number"' in client.get(f"/relocations/{no_approval.id}").get_data(as_text=True)


# --- journeys end at the tomb ----------------------------------------------------------------------------


def test_a_journey_ends_at_the_tombs_own_point(any_app, any_store, dests):
    create_demo_users(any_store, Actor.system("test"))
    at_plot = record(any_store, dests, "J1", plot=("A", "1", "1"), dest_lon=116.4211, dest_lat=25.0457)
    at_facility = record(any_store, dests, "J2", plot=("A", "1", "2"))
    data = demo_login(any_app, "admin").get("/relocations/journeys.geojson").get_json()
    ends = {f["properties"]["code"]: f["geometry"]["coordinates"][-1] for f in data["features"]
            if f["properties"]["kind"] == "journey"}
    assert ends["J1"] == [116.4211, 25.0457]
    assert ends["J2"] == [116.42, 25.045]  # the tomb made at the facility's point
    assert {at_plot.id, at_facility.id} == {f["properties"]["id"] for f in data["features"]
                                            if f["properties"]["kind"] == "journey"}
    with any_store.session() as s:  # the stored line (OGC, tiles) ends there too
        assert list(s.get(Relocation, at_plot.id).geom.coords)[-1] == (116.4211, 25.0457)
    # Moving the relocation to another plot with its own point moves the line's end with the tomb.
    moved = service.update_relocation(any_store, ADMIN, at_facility.id, at_facility.version,
                                      {"dest_plot_number": "3", "dest_lon": 116.4215, "dest_lat": 25.0459})
    with any_store.session() as s:
        assert list(s.get(Relocation, moved.id).geom.coords)[-1] == (116.4215, 25.0459)


def test_a_ledger_journey_ends_at_the_plot_point_the_ledger_gives(any_store, dests, tmp_path):
    from registry.services.relocations import ledger as imports

    path = tmp_path / "p.csv"
    path.write_text("编号,县区,原址,经度,纬度,迁入地,迁入地经度,迁入地纬度,墓号\n"
                    "LP1,上杭县,某村,116.5,25.1,上杭县烈士陵园（测试）,116.4212,25.0458,9号\n", encoding="utf-8")
    imports.run_import(any_store, ADMIN, path, "p.csv")
    with any_store.session() as s:
        relocation = s.scalars(select(Relocation)).one()
        tomb = s.get(Tomb, relocation.tomb_id)
    assert list(relocation.geom.coords)[-1] == (tomb.geom.x, tomb.geom.y) == (116.4212, 25.0458)


# --- restoring a retired tomb ----------------------------------------------------------------------------


def add_tomb(store, facility_id, plot, status="active") -> int:
    with unit_of_work(store) as s:
        tomb = Tomb(facility_id=facility_id, state="in_place", plot_area=plot[0], plot_row=plot[1],
                    plot_number=plot[2], status=status, geom=Point(116.42, 25.045))
        s.add(tomb)
        s.flush()
        return tomb.id


def tomb_state(store, tomb_id):
    with store.session() as s:
        tomb = s.get(Tomb, tomb_id)
        events = s.execute(select(AuditEvent.action, AuditEvent.note, AuditEvent.actor_name).where(
            AuditEvent.entity_type == "tombs", AuditEvent.entity_id == tomb_id).order_by(AuditEvent.id)).all()
        return tomb.status, tomb.version, [tuple(e) for e in events]


def test_a_manager_restores_a_retired_tomb_with_a_reason_audited(any_app, any_store, dests):
    create_demo_users(any_store, Actor.system("test"))
    tomb = add_tomb(any_store, dests["SH-CEM"], ("C", "2", "9"))
    service.retire_tomb(any_store, ADMIN, tomb, 1, "误注销")
    client = demo_login(any_app, "manager")  # Shanghang's manager
    html = client.get(PAGE).get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/relocations/tombs/{tomb}/restore#retired-tombs".*?</form>',
                     html, re.S)
    assert form and "恢复此墓位" in form.group(0) and "C区 2排 9号" in html
    response = client.post(f"/relocations/tombs/{tomb}/restore", data={"version": 2, "reason": " 注销有误，墓位仍在 "})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{PAGE}#retired-tombs")
    status, version, events = tomb_state(any_store, tomb)
    assert (status, version) == ("active", 3)
    assert events[-1] == ("restore", "注销有误，墓位仍在", "manager")


def test_restoring_onto_a_taken_plot_is_a_409_naming_the_plot_and_changes_nothing(any_app, any_store, dests):
    create_demo_users(any_store, Actor.system("test"))
    old = add_tomb(any_store, dests["SH-CEM"], ("A", "1", "5"))
    service.retire_tomb(any_store, ADMIN, old, 1, "迁走")
    holder = add_tomb(any_store, dests["SH-CEM"], ("A", "1", "5"))
    before = tomb_state(any_store, old)
    response = demo_login(any_app, "manager").post(f"/relocations/tombs/{old}/restore",
                                              data={"version": 2, "reason": "误注销"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "上杭县烈士陵园（测试） A区 1排 5号" in html and f"held by tomb {holder}" in html
    assert 'value="误注销"' in html  # what was typed is kept
    assert tomb_state(any_store, old) == before


@pytest.mark.parametrize("who, form, status, message", [
    ("manager2", {"version": 2, "reason": "误注销"}, 403, "may not"),  # Changting's manager, a Shanghang tomb
    ("manager", {"version": 2, "reason": "  "}, 400, "a reason is required"),
    ("manager", {"version": 1, "reason": "误注销"}, 409, "someone saved a change after you opened it"),
    ("reviewer", {"version": 2, "reason": "误注销"}, 403, ""),
])
def test_a_refused_restore_names_why_and_changes_nothing(any_app, any_store, dests, who, form, status, message):
    create_demo_users(any_store, Actor.system("test"))
    tomb = add_tomb(any_store, dests["SH-CEM"], ("D", "1", "1"))
    service.retire_tomb(any_store, ADMIN, tomb, 1, "误注销")
    before = tomb_state(any_store, tomb)
    response = demo_login(any_app, who).post(f"/relocations/tombs/{tomb}/restore", data=form)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert tomb_state(any_store, tomb) == before


def test_an_active_tomb_is_not_restored(any_store, dests):
    tomb = add_tomb(any_store, dests["SH-CEM"], ("E", "1", "1"))
    with pytest.raises(Conflict, match="is not retired"):
        service.restore_tomb(any_store, ADMIN, tomb, 1, "误")
    with pytest.raises(Forbidden):
        service.restore_tomb(any_store, Actor(name="m", roles=("manager",), counties=("350821",)), tomb, 1, "误")


# --- the migration ---------------------------------------------------------------------------------------


@pytest.fixture(params=["geopackage", "postgis"])
def store_before_plots(request, tmp_path):
    if request.param == "geopackage":
        url = f"sqlite:///{tmp_path / 'old.gpkg'}"
    else:
        request.getfixturevalue("postgis_template")
        url = throwaway_database(request)
    store = Store(url)
    # Every revision but the plots' own: the divisions beside it hold the counties the facilities name.
    assert upgrade(store, "0014_divisions") == "0014_divisions"
    _old_schema_divisions(store)
    yield store
    store.dispose()


def _old_schema_divisions(store) -> None:
    """The demo's divisions written with the columns the table has at this revision (the model's later ones,
    like 0021's boundary_approximate, are not there yet); boundaries left out, as no check here needs them."""
    divisions, _aliases = check_rows(demo_rows(), ())
    with store.write_session() as s:
        names = set(s.execute(text("SELECT * FROM divisions WHERE 1 = 0")).keys()) - {"id", "boundary"}
        old = table("divisions", *(column(name) for name in sorted(names)))
        s.execute(insert(old), [{k: v for k, v in d.items() if k in names} for d in divisions])
        s.commit()


def _old_schema_tomb(store, facility_id, plot) -> int:
    with unit_of_work(store) as s:
        return s.execute(Tomb.__table__.insert().values(
            facility_id=facility_id, state="in_place", plot_area=plot[0], plot_row=plot[1], plot_number=plot[2],
            geom=Point(116.42, 25.045), status="active", is_demo=False, version=1,
        ).returning(Tomb.__table__.c.id)).scalar_one()


def test_the_migration_strips_units_and_refuses_plots_that_would_collide(store_before_plots):
    store = store_before_plots
    # Written with the older schema's columns only: the model's later ones (0018 provenance) are not there yet.
    with unit_of_work(store) as s:
        fid = s.execute(Facility.__table__.insert().values(
            code="SH-CEM", name="上杭县烈士陵园（测试）", category="cemetery", level="ungraded", county_code="350823",
            geom=Point(116.42, 25.045), status="active", is_demo=False, version=1, sign_present=False,
            land_title_registered=False, position_approximate=False).returning(Facility.__table__.c.id)).scalar_one()
    signed = _old_schema_tomb(store, fid, ("A区", "4排", "20号"))
    twin = _old_schema_tomb(store, fid, ("A", "4", "20"))  # the same plot written bare: two active once stripped
    with pytest.raises(StoreError) as refused:
        upgrade(store)
    message = str(refused.value)
    assert f"facility {fid}, plot A区 4排 20号: tombs {signed}, {twin}" in message
    assert "Nothing was changed" in message
    with store.session() as s:
        assert s.execute(select(Tomb.__table__.c.plot_area).where(Tomb.__table__.c.id == signed)).scalar() == "A区"
    with store.write_session() as s:
        s.execute(Tomb.__table__.update().where(Tomb.__table__.c.id == twin).values(status="retired"))
        s.commit()
    assert upgrade(store) == head_revision()
    with store.session() as s:
        tomb = s.get(Tomb, signed)
        assert (tomb.plot_area, tomb.plot_row, tomb.plot_number) == ("A", "4", "20")


def test_the_archive_pdf_names_the_plot_as_signed(any_app, any_store, dests):
    from tests.factories import pdf_text

    create_demo_users(any_store, Actor.system("test"))
    record(any_store, dests, "PDF-1", plot=("A区", "4排", "20号"))
    response = demo_login(any_app, "admin").get(f"/manage/facilities/{dests['SH-CEM']}/archive.pdf")
    assert response.status_code == 200
    _reader, text = pdf_text(response.get_data())  # the PDF's text without its spaces
    assert "PDF-1" in text and "A区4排20号" in text and "区区" not in text

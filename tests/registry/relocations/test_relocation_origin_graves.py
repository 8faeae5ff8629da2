"""A reburied martyr's original (scattered) grave stops being current: one grave on the public page, on both stores."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from shapely.geometry import Point
from sqlalchemy import func, select

from registry.demo import SECOND_CITY_RELOCATIONS, SECOND_CITY_TOMBS
from registry.models import AuditEvent, Relocation, Tomb
from registry.services import Actor, unit_of_work
from registry.services import relocations as service
from registry.services.facilities import create_facility
from registry.services.relocations import ledger as imports
from registry.services.relocations import ledger_write
from registry.services.relocations.reconciliation import reconcile
from registry.services.users import create_user
from tests.factories import ADMIN, DESTINATIONS, IMPORTER, MOVED, make_destinations, new_martyr

CEMETERY, CEMETERY_NAME = "SH-CEM", DESTINATIONS[0][1]
CHANGTING = "CT-CEM"
SCATTERED_NAME = "蛟洋镇某村零散烈士墓（测试）"


@pytest.fixture
def dests(any_store):
    ids = make_destinations(any_store)
    scattered = create_facility(any_store, Actor.system("test"), {
        "code": "SH-SCT", "name": SCATTERED_NAME, "category": "scattered_tomb", "county_code": "350823",
        "lon": 116.61, "lat": 25.15})
    return ids | {"SH-SCT": scattered.id}


def add_grave(store, facility_id, martyr_id, state="in_place", plot=(None, None, None)) -> int:
    """A grave registered where it lies (a scattered grave has no plot)."""
    with unit_of_work(store) as s:
        tomb = Tomb(facility_id=facility_id, martyr_id=martyr_id, state=state, plot_area=plot[0], plot_row=plot[1],
                    plot_number=plot[2], geom=Point(116.6101, 25.1502))
        s.add(tomb)
        s.flush()
        return tomb.id


def record(store, dests, code, martyr_id, **extra):
    return service.create_relocation(store, ADMIN, {
        "code": code, "origin_place": "上杭县蛟洋镇某村后山", "origin_county_code": "350823", "origin_lon": 116.61,
        "origin_lat": 25.15, "martyr_id": martyr_id, "dest_facility_id": dests[CEMETERY], "dest_plot_area": "B区",
        "dest_plot_row": "3排", "dest_plot_number": "12号", **extra})


def tomb(store, tomb_id) -> Tomb:
    with store.session() as s:
        return s.get(Tomb, tomb_id)


def retire_events(store, tomb_id) -> list[AuditEvent]:
    with store.session() as s:
        return s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "tombs", AuditEvent.entity_id == tomb_id,
                                                  AuditEvent.action == "retire")).all()


def grave_page(app, martyr_id) -> tuple[str, str]:
    """The public page's two parts: where the martyr lies (安葬地) and where they first lay (迁葬经过)."""
    response = app.test_client().get(f"/martyrs/{martyr_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    start = html.index("安葬地</h2>")
    # The graves end at the next heading or the small map (whose label names 墓位 too).
    end = min(i for i in (html.find("<h2>", start), html.find("<section", start), len(html)) if i >= 0)
    journey = html[end:html.find("<section", end)] if html.startswith("<h2>迁葬经过", end) else ""
    return html[start:end], journey


def test_a_reburial_retires_the_original_grave_and_the_page_shows_one_grave(any_store, any_app, dests):
    martyr_id = new_martyr(any_store, "李明")
    original = add_grave(any_store, dests["SH-SCT"], martyr_id)
    graves, _journey = grave_page(any_app, martyr_id)
    assert graves.count("墓位") == 1 and SCATTERED_NAME in graves
    relocation = record(any_store, dests, "H1", martyr_id, **MOVED)
    graves, journey = grave_page(any_app, martyr_id)
    assert graves.count("墓位") == 1
    assert CEMETERY_NAME in graves and "12号" in graves and SCATTERED_NAME not in graves
    assert "上杭县蛟洋镇某村后山" in journey and "2021-05-03" in journey  # where they first lay stays told
    left = tomb(any_store, original)
    assert (left.status, left.state, left.version) == ("retired", "in_place", 2)  # kept, no longer current
    [event] = retire_events(any_store, original)
    assert "H1" in event.note and f"{CEMETERY_NAME} B区 3排 12号" in event.note
    assert (event.before["status"], event.after["status"]) == ("active", "retired")
    with any_store.session() as s:
        kept = s.get(Relocation, relocation.id)
    assert (kept.origin_place, kept.origin_lon, kept.origin_lat) == ("上杭县蛟洋镇某村后山", 116.61, 25.15)
    assert tomb(any_store, kept.tomb_id).status == "active"


def test_a_move_not_yet_reburied_leaves_the_original_until_the_reburial_is_dated(any_store, any_app, dests):
    martyr_id = new_martyr(any_store, "王某")
    original = add_grave(any_store, dests["SH-SCT"], martyr_id, state="awaiting_relocation")
    planned = record(any_store, dests, "P1", martyr_id, surveyed_on=date(2021, 3, 1))
    assert (tomb(any_store, original).status, tomb(any_store, original).version) == ("active", 1)
    assert retire_events(any_store, original) == []
    graves, _journey = grave_page(any_app, martyr_id)
    assert graves.count("墓位") == 2 and SCATTERED_NAME in graves  # the martyr still lies in the original grave
    service.update_relocation(any_store, ADMIN, planned.id, planned.version,
                              {"exhumed_on": date(2021, 5, 2), "reburied_on": date(2021, 5, 3)})
    assert tomb(any_store, original).status == "retired"
    [event] = retire_events(any_store, original)
    assert "P1" in event.note and CEMETERY_NAME in event.note
    graves, _journey = grave_page(any_app, martyr_id)
    assert graves.count("墓位") == 1 and SCATTERED_NAME not in graves


def test_a_cancelled_move_leaves_the_original_alone(any_store, any_app, dests):
    martyr_id = new_martyr(any_store, "赵某")
    original = add_grave(any_store, dests["SH-SCT"], martyr_id)
    planned = record(any_store, dests, "C1", martyr_id, surveyed_on=date(2021, 3, 1))
    cancelled = service.cancel_relocation(any_store, ADMIN, planned.id, planned.version, "家属不同意迁移")
    # A reburial date written on the cancelled record afterwards does not make it a move that happened.
    service.update_relocation(any_store, ADMIN, cancelled.id, cancelled.version, MOVED)
    assert service.link_missing_tombs(any_store, ADMIN, dry_run=False).originals_retired == 0
    assert (tomb(any_store, original).status, tomb(any_store, original).version) == ("active", 1)
    assert retire_events(any_store, original) == []
    graves, journey = grave_page(any_app, martyr_id)
    assert SCATTERED_NAME in graves and "上杭县蛟洋镇某村后山" not in journey


def test_only_the_martyrs_own_grave_outside_a_cemetery_is_taken_for_the_original(any_store, any_app, dests):
    martyr_id = new_martyr(any_store, "孙某")
    nameless = add_grave(any_store, dests["SH-SCT"], None)  # no martyr: we cannot know it is the same grave
    other = add_grave(any_store, dests["SH-SCT"], new_martyr(any_store, "钱某"))
    # A grave in a cemetery is where moves end: a conflict for staff to check, never retired by a reburial.
    in_cemetery = add_grave(any_store, dests[CHANGTING], martyr_id, plot=("乙区", "1排", "5号"))
    record(any_store, dests, "O1", martyr_id, **MOVED)
    for kept in (nameless, other, in_cemetery):
        assert (tomb(any_store, kept).status, tomb(any_store, kept).version) == ("active", 1)
    graves, _journey = grave_page(any_app, martyr_id)
    assert graves.count("墓位") == 2


def test_the_ledger_import_retires_the_originals_in_bulk_in_its_transaction(any_store, any_app, dests, tmp_path):
    martyrs = {name: new_martyr(any_store, name) for name in ("李明", "王某", "赵某")}
    originals = {
        "李明": add_grave(any_store, dests["SH-SCT"], martyrs["李明"]),
        "王某": add_grave(any_store, None, martyrs["王某"], state="awaiting_relocation"),  # no facility recorded
        "赵某": add_grave(any_store, dests["SH-SCT"], martyrs["赵某"]),
    }
    path = tmp_path / "r.csv"
    path.write_text("编号,县区,原址,经度,纬度,迁入地,烈士姓名,墓区,排,墓号,安葬日期\n"
                    f"L1,上杭县,某处1,116.5,25.1,{CEMETERY_NAME},李明,A区,1排,1号,2022-05-03\n"
                    f"L2,上杭县,某处2,116.5,25.11,{CEMETERY_NAME},王某,A区,1排,2号,2022-05-04\n"
                    f"L3,上杭县,某处3,116.5,25.12,{CEMETERY_NAME},赵某,A区,1排,3号,\n", encoding="utf-8")
    result = imports.run_import(any_store, IMPORTER, path, "r.csv")
    assert (result.added, result.originals_retired) == (3, 2)
    assert [tomb(any_store, originals[n]).status for n in ("李明", "王某", "赵某")] == ["retired", "retired", "active"]
    assert {tomb(any_store, originals[n]).version for n in ("李明", "王某")} == {2}
    with any_store.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
    assert "2 original graves of reburied martyrs retired" in event.note
    trail = {tomb_id: (row, note) for row, tomb_id, note in event.after["origin_graves_retired"]}
    assert set(trail) == {originals["李明"], originals["王某"]}
    row, note = trail[originals["王某"]]
    assert row == 3 and "L2" in note and f"{CEMETERY_NAME} A区 1排 2号" in note
    graves, journey = grave_page(any_app, martyrs["李明"])
    assert graves.count("墓位") == 1 and SCATTERED_NAME not in graves and "某处1" in journey
    assert grave_page(any_app, martyrs["赵某"])[0].count("墓位") == 2  # not reburied yet: still lies there


def test_a_failed_import_retires_nothing(any_store, dests, tmp_path, monkeypatch):
    martyr_id = new_martyr(any_store, "李明")
    original = add_grave(any_store, dests["SH-SCT"], martyr_id)
    path = tmp_path / "r.csv"
    path.write_text(f"编号,县区,原址,经度,纬度,迁入地,烈士姓名,安葬日期\nL1,上杭县,某处1,116.5,25.1,{CEMETERY_NAME},李明,"
                    "2022-05-03\n", encoding="utf-8")
    real = ledger_write.retire_origin_graves

    def retire_then_fail(*args):
        assert real(*args)  # the grave was retired inside the transaction…
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger_write, "retire_origin_graves", retire_then_fail)
    with pytest.raises(RuntimeError):
        imports.run_import(any_store, IMPORTER, path, "r.csv")
    assert (tomb(any_store, original).status, tomb(any_store, original).version) == ("active", 1)  # …and restored
    with any_store.session() as s:
        assert s.scalar(select(func.count(Relocation.id))) == 0


def test_link_tombs_retires_the_originals_older_records_kept(any_store, any_app, dests):
    martyr_id = new_martyr(any_store, "周某")
    original = add_grave(any_store, dests["SH-SCT"], martyr_id)
    with unit_of_work(any_store) as s:  # written around the services, as older data holds it: no tomb yet
        s.add(Relocation(code="OLD-1", origin_place="某处", origin_county_code="350823", martyr_id=martyr_id,
                         dest_facility_id=dests[CEMETERY], dest_plot_number="7号", reburied_on=date(2019, 4, 2)))
    dry = service.link_missing_tombs(any_store, ADMIN)
    assert (dry.created, dry.originals_retired) == (1, 1)
    shown = any_app.test_cli_runner().invoke(args=["relocations", "link-tombs"])
    assert "1 original graves of reburied martyrs would be retired" in shown.output, shown.output
    assert (tomb(any_store, original).status, retire_events(any_store, original)) == ("active", [])
    done = service.link_missing_tombs(any_store, ADMIN, dry_run=False)
    assert (done.created, done.originals_retired) == (1, 1)
    [event] = retire_events(any_store, original)
    assert "OLD-1" in event.note and f"{CEMETERY_NAME} 7号" in event.note
    with any_store.session() as s:
        summary = s.scalar(select(AuditEvent).where(AuditEvent.action == "link_tombs"))
    assert "1 original graves of reburied martyrs retired" in summary.note
    assert grave_page(any_app, martyr_id)[0].count("墓位") == 1
    again = service.link_missing_tombs(any_store, ADMIN, dry_run=False)
    assert (again.changed, again.originals_retired) == (0, 0)


def test_the_demo_keeps_every_grave_and_still_reconciles_to_4377(any_store):
    from registry.services.demo import load_demo

    load_demo(any_store)
    report = service.link_missing_tombs(any_store, ADMIN, dry_run=False)
    assert (report.originals_retired, report.changed) == (0, 0)  # no demo martyr lies in two graves
    with any_store.session() as s:
        assert s.scalar(select(func.count(Tomb.id)).where(Tomb.status == "active")) == 6850 + SECOND_CITY_TOMBS
    assert reconcile(any_store, city="350800").total.relocated == 4377
    assert reconcile(any_store).total.relocated == 4377 + SECOND_CITY_RELOCATIONS


# --- the dry run says which original graves the import would retire ------------------------------------------

LEDGER_HEAD = "编号,县区,原址,经度,纬度,迁入地,烈士姓名,墓区,排,墓号,安葬日期\n"


def preview_page(app, tmp_path, path) -> str:
    """The import's dry-run page as a manager sees it after uploading ``path``."""
    app.config["RELOCATION_FILES_DIR"] = str(tmp_path / "files")
    store = app.extensions["registry_store"]
    create_user(store, Actor.system("test"), "mgr", "manager-password", ["manager"], ["350823", "350821"])
    client = app.test_client()
    assert client.post("/login", data={"username": "mgr", "password": "manager-password"}).status_code == 302
    response = client.post("/relocations/import/preview", content_type="multipart/form-data", data={
        "file": (io.BytesIO(path.read_bytes()), path.name), "crs": "EPSG:4326"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def active_tombs(store) -> dict[int, tuple]:
    with store.session() as s:
        return {t.id: (t.status, t.version) for t in s.scalars(select(Tomb))}


def test_the_dry_run_counts_and_lists_the_graves_the_commit_then_retires(any_store, any_app, dests, tmp_path):
    names = ("李明", "王某", "赵某", "孙某", "钱某")
    martyrs = {name: new_martyr(any_store, name) for name in names}
    originals = {
        "李明": add_grave(any_store, dests["SH-SCT"], martyrs["李明"]),
        "王某": add_grave(any_store, None, martyrs["王某"], state="awaiting_relocation"),  # no facility: the place
        "赵某": add_grave(any_store, dests["SH-SCT"], martyrs["赵某"]),  # the ledger gives no reburial date
        "孙某": add_grave(any_store, dests[CHANGTING], martyrs["孙某"], plot=("乙区", "1排", "5号")),  # a cemetery
    }
    kept = add_grave(any_store, dests["SH-SCT"], martyrs["钱某"])  # a live relocation already ends at it
    record(any_store, dests, "K1", martyrs["钱某"], dest_plot_number="20号")
    with unit_of_work(any_store) as s:
        # An older relocation pointing at the scattered grave as its tomb (written around the services).
        s.add(Relocation(code="K0", origin_place="某处", origin_county_code="350823", martyr_id=martyrs["钱某"],
                         dest_facility_id=dests["SH-SCT"], tomb_id=kept))
    path = tmp_path / "r.csv"
    path.write_text(LEDGER_HEAD +
                    f"L1,上杭县,某处1,116.5,25.1,{CEMETERY_NAME},李明,A区,1排,1号,2022-05-03\n"
                    f"L2,上杭县,后山某处,116.5,25.11,{CEMETERY_NAME},王某,A区,1排,2号,2022-05-04\n"
                    f"L3,上杭县,某处3,116.5,25.12,{CEMETERY_NAME},赵某,A区,1排,3号,\n"
                    f"L4,上杭县,某处4,116.5,25.13,{CEMETERY_NAME},孙某,A区,1排,4号,2022-05-05\n"
                    f"L5,上杭县,某处5,116.5,25.14,{CEMETERY_NAME},钱某,A区,1排,5号,2022-05-06\n"
                    f"L6,上杭县,某处6,116.5,25.15,{CEMETERY_NAME},新烈士,A区,1排,6号,2022-05-07\n", encoding="utf-8")
    before = active_tombs(any_store)
    dry = imports.preview(any_store, path, "r.csv")
    assert dry.clean
    assert [(g.tomb_id, g.martyr_name, g.place) for g in dry.origin_graves] == [
        (originals["李明"], "李明", SCATTERED_NAME), (originals["王某"], "王某", "后山某处")]
    html = preview_page(any_app, tmp_path, path)
    assert "将注销 2 处原墓位（烈士已迁葬）" in html
    listed = html[html.index('id="origin-graves-list"'):html.index("</table>", html.index('id="origin-graves-list"'))]
    assert re.findall(r'data-tomb="(\d+)"', listed) == [str(originals["李明"]), str(originals["王某"])]
    assert "李明" in listed and SCATTERED_NAME in listed and "王某" in listed and "后山某处" in listed
    assert "赵某" not in listed and "孙某" not in listed and "钱某" not in listed
    shown = any_app.test_cli_runner().invoke(args=["import", "relocations", str(path), "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "2 original graves would be retired" in shown.output
    assert f"tomb {originals['李明']}" in shown.output and f"tomb {kept} " not in shown.output
    assert active_tombs(any_store) == before  # the dry runs wrote nothing
    result = imports.run_import(any_store, IMPORTER, path, "r.csv")
    assert result.originals_retired == len(dry.origin_graves)
    after = active_tombs(any_store)
    retired = {tid for tid, (status, _v) in after.items() if status == "retired"}
    assert retired == {g.tomb_id for g in dry.origin_graves}
    assert tomb(any_store, kept).status == "active" and tomb(any_store, originals["孙某"]).status == "active"


def test_a_ledger_that_reburies_no_one_with_an_original_grave_says_nothing_of_it(any_store, any_app, dests,
                                                                                    tmp_path):
    martyr_id = new_martyr(any_store, "赵某")
    original = add_grave(any_store, dests["SH-SCT"], martyr_id)
    path = tmp_path / "r.csv"
    path.write_text(LEDGER_HEAD + f"L3,上杭县,某处3,116.5,25.12,{CEMETERY_NAME},赵某,A区,1排,3号,\n"
                    f"L6,上杭县,某处6,116.5,25.15,{CEMETERY_NAME},新烈士,A区,1排,6号,2022-05-07\n", encoding="utf-8")
    assert imports.preview(any_store, path, "r.csv").origin_graves == []
    html = preview_page(any_app, tmp_path, path)
    assert 'data-new="2"' in html and "原墓位" not in html and 'id="origin-graves' not in html
    shown = any_app.test_cli_runner().invoke(args=["import", "relocations", str(path)])
    assert shown.exit_code == 0 and "original graves" not in shown.output, shown.output
    assert imports.run_import(any_store, IMPORTER, path, "r.csv").originals_retired == 0
    assert (tomb(any_store, original).status, tomb(any_store, original).version) == ("active", 1)

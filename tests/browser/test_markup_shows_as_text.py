"""Markup stored in every free-text field shows as the characters it is, on every page and map, and never runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from shapely.geometry import LineString, Point, Polygon

from registry.db import Store
from registry.models import Martyr, Tomb
from registry.services import Actor
from registry.services.base import unit_of_work
from registry.services.facilities import create_facility
from registry.services.manage import calendar
from registry.services.manage.inspections import submit_inspection
from registry.services.manage.tasks import create_task
from registry.services.plan.conflicts import save_check
from registry.services.plan.plans import create_plan
from registry.services.plan.zones import save_zone
from registry.services.public.reports import submit_report
from registry.services.public.tribute import leave_message, moderate_tribute
from registry.services.relocations import create_relocation
from registry.services.users import as_actor, create_user
from tests.registry.test_manage_helpers import form

pytestmark = pytest.mark.browser

ADMIN = Actor(name="admin", roles=("admin",))
GUTIAN = (116.818, 25.225)


def marked(label: str) -> str:
    """Text that runs script if any page reads it as HTML: an image whose error handler fires, and a script."""
    return f'<img src=x onerror="window.__pwned=1;alert(1)">{label}<script>window.__pwned=2;alert(2)</script>'


FACILITY_NAME = marked("设施名称")
FACILITY_CODE = marked("F")
CARETAKER = marked("看护人")
CEMETERY = marked("烈士陵园")
MARTYR = marked("烈士")
RELOCATION = marked("R")
ORIGIN = marked("原葬地")
CONSENT = marked("家属")
PROBLEMS = marked("巡查问题")
TASK = marked("维修任务")
MESSAGE = marked("缅怀留言")
AUTHOR = "<img src=x onerror=alert(1)>甲"  # the field holds 30 characters
PENDING = marked("待审留言")
REPORT = marked("群众报告")
CHECK = marked("建设项目")
PLAN = marked("保护规划")
MEASURES = marked("保护措施")
DAY = marked("纪念日")


def seed_markup(store: Store, folder) -> dict:
    """One record of each kind, every free-text field holding markup, written through the services."""
    admin = as_actor(create_user(store, ADMIN, "admin1", "admin1-password", ["admin"]))
    manager = as_actor(create_user(store, ADMIN, "mgr", "mgr-password", ["manager"], ["350823"]))
    planner = as_actor(create_user(store, ADMIN, "planner1", "planner1-password", ["planner"]))
    site = create_facility(store, admin, {
        "code": FACILITY_CODE, "name": FACILITY_NAME, "category": "monument", "level": "county",
        "county_code": "350823", "lon": GUTIAN[0], "lat": GUTIAN[1], "township": "古田镇", "caretaker": CARETAKER,
        "description": marked("简介"), "address": marked("地址")})
    cemetery = create_facility(store, admin, {
        "code": marked("C"), "name": CEMETERY, "category": "cemetery", "level": "county", "county_code": "350823",
        "lon": 116.42, "lat": 25.05})
    with unit_of_work(store) as session:
        martyr = Martyr(name=MARTYR, version=1)
        session.add(martyr)
        session.flush()
        session.add(Tomb(martyr_id=martyr.id, facility_id=cemetery.id, state="in_place", plot_number="1", version=1,
                         geom=Point(116.42, 25.05)))
        session.flush()
        martyr_id = martyr.id
    relocation = create_relocation(store, admin, {
        "code": RELOCATION, "origin_place": ORIGIN, "origin_county_code": "350823", "origin_lon": 116.70,
        "origin_lat": 25.10, "dest_facility_id": cemetery.id, "dest_plot_number": "2", "martyr_id": martyr_id,
        "family_consent": True, "consent_by": CONSENT, "consent_relation": marked("关系"),
        "surveyed_on": date(2024, 3, 1)})
    inspection = submit_inspection(store, manager, site.id, form(problems=PROBLEMS), [],
                                   attachments_dir=str(folder / "attachments")).inspection
    task = create_task(store, manager, site.id, {"title": TASK, "description": marked("任务说明")},
                       inspection_id=inspection.id)
    shown = leave_message(store, "martyr", martyr_id, MESSAGE, AUTHOR, client="c1", idempotency_key="k" * 32)
    moderate_tribute(store, manager, shown.tribute_id, 1, "approve")
    leave_message(store, "facility", site.id, PENDING, AUTHOR, client="c2", idempotency_key="p" * 32)
    submit_report(store, site.id, REPORT, contact="<img src=x onerror=alert(1)>联系", client="c3",
                  idempotency_key="r" * 32, instance_path=str(folder / "instance"))
    save_zone(store, planner, site.id, "protection_range",
              Polygon([(116.817, 25.224), (116.819, 25.224), (116.819, 25.226), (116.817, 25.226)]),
              reported_on="2020-01-01")
    check = save_check(store, planner, CHECK, LineString([(116.80, 25.2252), (116.84, 25.2252)]),
                       note=marked("备注"))
    plan = create_plan(store, planner, {"title": PLAN, "measures": MEASURES, "scope": marked("范围"),
                                        "targets": marked("目标")})
    # A facility's own day three days from now, and its work order: on the calendar page and the home page.
    soon = calendar.today_in_beijing() + timedelta(days=3)
    calendar.add_day(store, manager, {"facility_code": FACILITY_CODE, "name": DAY, "month": str(soon.month),
                                      "day": str(soon.day)})
    calendar.prepare(store, admin, today=soon - timedelta(days=3))
    return {"facility": site.id, "martyr": martyr_id, "relocation": relocation.id, "inspection": inspection.id,
            "task": task.id, "check": check.id, "plan": plan.id}


def staff_pages(ids: dict) -> list[tuple[str, list[str]]]:
    """Every staff page that shows the seeded records, with the texts it must show."""
    return [
        ("/manage", [FACILITY_NAME]),
        (f"/manage/facilities/{ids['facility']}", [FACILITY_NAME, CARETAKER, PROBLEMS, TASK]),
        (f"/manage/inspections/{ids['inspection']}", [FACILITY_NAME, PROBLEMS]),
        ("/manage/tasks", [TASK, REPORT]),
        (f"/manage/tasks/{ids['task']}", [TASK]),
        ("/manage/moderation", [PENDING]),
        (f"/manage/visits?chosen=1&facility={ids['facility']}", [FACILITY_NAME, FACILITY_CODE]),
        ("/relocations", [RELOCATION]),
        (f"/relocations/{ids['relocation']}", [RELOCATION, ORIGIN, CONSENT, MARTYR, CEMETERY]),
        ("/relocations/reconciliation", []),
        ("/plan/zones", [FACILITY_NAME]),
        (f"/plan/zones/{ids['facility']}", [FACILITY_NAME]),
        ("/plan/checks", [CHECK]),
        (f"/plan/checks/{ids['check']}", [CHECK, FACILITY_NAME]),
        ("/plan/plans", [PLAN]),
        (f"/plan/plans/{ids['plan']}", [PLAN, MEASURES]),
        ("/plan/map", []),
        ("/ogc/collections/facilities/items?f=html", [FACILITY_NAME]),
        (f"/ogc/collections/facilities/items/{ids['facility']}?f=html", [FACILITY_NAME]),
        ("/ogc/collections/relocations/items?f=html", [RELOCATION]),
        ("/manage/calendar", [DAY, FACILITY_NAME]),
        ("/history", [FACILITY_NAME]),
        (f"/history/facilities/{ids['facility']}", [FACILITY_NAME]),
    ]


def public_pages(ids: dict) -> list[tuple[str, list[str]]]:
    """Every public page that shows the seeded records, with the texts it must show."""
    return [
        (f"/facilities/{ids['facility']}", [FACILITY_NAME]),
        ("/martyrs?q=烈士", [MARTYR]),
        (f"/martyrs/{ids['martyr']}", [MARTYR, MESSAGE]),
        (f"/facilities/{ids['facility']}/report", [FACILITY_NAME]),
        ("/?county=350823", [DAY]),
    ]


@pytest.fixture
def live_store_url(store_url):
    """Escaping is the templates' and scripts' job whatever the store: every test here runs on both."""
    return store_url


@pytest.fixture
def seeded(live_store_url, tmp_path):
    store = Store(live_store_url)
    ids = seed_markup(store, tmp_path)
    store.dispose()
    return ids


class Guard:
    """A page that records every dialog (and dismisses it) and can tell whether markup ran."""

    def __init__(self, watched):
        self.watched = watched
        self.page = watched.page
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, base: str, path: str):
        response = self.page.goto(base + path, wait_until="networkidle")
        assert response is not None and response.status == 200, (path, response and response.status)
        return self.page

    def assert_inert(self, where: str):
        assert self.dialogs == [], (where, self.dialogs)
        assert self.page.evaluate("() => window.__pwned === undefined"), where
        # No element came from the stored markup: no broken image, no script with its text.
        assert self.page.locator("img[src='x']").count() == 0, where
        assert self.page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0, where
        assert self.page.evaluate(
            "() => Array.from(document.scripts).every(s => s.textContent.trim() !== 'window.__pwned=2;alert(2)')"
        ), where

    def assert_shows(self, where: str, *texts: str, scope: str = "body"):
        shown = self.page.locator(scope).first.inner_text()
        missing = [t for t in texts if t not in shown]
        assert missing == [], (where, missing)
        self.assert_inert(where)


def sign_in(page, base_url, username):
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.locator("form").filter(has=page.locator("input[name=password]")).locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def map_of(page) -> str:
    return "Object.values(window).find(v => v instanceof L.Map)"


def test_public_pages_show_markup_as_text(seeded, live_server, watched_page):
    base = live_server(BASEMAP="none")
    guard = Guard(watched_page)
    ids = seeded

    page = guard.open(base, "/")
    page.locator(".pm-marker").first.wait_for(state="visible", timeout=10_000)
    guard.assert_shows("/ list", FACILITY_NAME, scope="#map-list")
    page.get_by_title(FACILITY_NAME, exact=True).click()
    page.locator(".leaflet-popup-content").wait_for(state="visible")
    guard.assert_shows("/ popup", FACILITY_NAME, scope=".leaflet-popup-content")

    for path, texts in public_pages(ids):
        guard.open(base, path)
        guard.assert_shows(path, *texts)
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}


def test_staff_pages_and_maps_show_markup_as_text(seeded, live_server, watched_page):
    base = live_server(BASEMAP="none")
    guard = Guard(watched_page)
    ids = seeded
    sign_in(guard.page, base, "admin1")

    for path, texts in staff_pages(ids):
        guard.open(base, path)
        guard.assert_shows(path, *texts)

    # The maintenance map: the facility's popup.
    page = guard.open(base, "/manage/map")
    page.wait_for_function("() => Number(document.querySelector('.leaflet-container').dataset.features) > 0")
    page.evaluate(f"""() => {{ const m = {map_of(page)};
        m.eachLayer(l => {{ if (l.feature && l.feature.properties.name.includes('设施名称')) {{ l.openPopup(); }} }});
    }}""")
    page.locator(".leaflet-popup-content").first.wait_for(state="visible")
    guard.assert_shows("maintenance popup", FACILITY_NAME, scope=".leaflet-popup-content")

    # The visit route map: a stop's tooltip names it as text.
    page = guard.open(base, f"/manage/visits?chosen=1&facility={ids['facility']}")
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.stops === '1'")
    page.evaluate(f"""() => {{ {map_of(page)}.eachLayer(l => {{
        if (l.getTooltip && l.getTooltip()) {{ l.openTooltip(); }} }}); }}""")
    page.locator(".leaflet-tooltip").first.wait_for(state="visible")
    guard.assert_shows("visit route tooltip", FACILITY_NAME, scope=".leaflet-tooltip")

    # The journey map: hovering the line shows the relocation's code as text.
    page = guard.open(base, "/relocations/map")
    page.wait_for_function("() => document.getElementById('journey-status').dataset.journeys === '1'")
    point = page.evaluate(f"""() => {{
        const m = {map_of(page)};
        let line = null;
        m.eachLayer(l => {{ if (l instanceof L.Polyline && l.feature && l.feature.properties.kind === 'journey') {{
            line = l; }} }});
        const p = m.latLngToContainerPoint(line.getCenter());
        const box = m.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }}""")
    page.mouse.move(point[0] - 3, point[1] - 3)
    page.mouse.move(*point)
    page.locator(".leaflet-tooltip").first.wait_for(state="visible", timeout=5_000)
    guard.assert_shows("journey tooltip", RELOCATION, scope=".leaflet-tooltip")

    # The planning map: every label bound to a feature is text.
    page = guard.open(base, "/plan/map")
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.loaded === 'true'")
    labels = page.evaluate(f"""() => {{
        const m = {map_of(page)}, out = [];
        m.eachLayer(l => {{ if (l.feature && l.getTooltip && l.getTooltip()) {{
            l.openTooltip(); out.push(l.getTooltip().getElement().innerText); }} }});
        return out;
    }}""")
    assert any(CHECK in label or FACILITY_NAME in label for label in labels), labels
    guard.assert_inert("planning map tooltips")
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}


def test_ledger_cells_with_markup_show_as_text_in_the_import_preview(seeded, live_server, watched_page, tmp_path):
    base = live_server(BASEMAP="none", RELOCATION_FILES_DIR=str(tmp_path / "files"))
    guard = Guard(watched_page)
    page = guard.page
    sign_in(page, base, "admin1")
    bad_date, unknown_place = marked("日期"), marked("无此陵园")
    rows = [["编号", "烈士姓名", "县区", "原址", "东经", "北纬", "迁入地", "墓号", "调查日期", "备注"],
            [marked("L1"), marked("台账烈士"), "上杭县", marked("台账原址"), "116.7", "25.1", unknown_place, "3",
             bad_date, marked("台账备注")]]
    ledger = tmp_path / "台账.csv"
    ledger.write_text("\n".join(",".join('"' + c.replace('"', '""') + '"' for c in row) for row in rows) + "\n",
                      encoding="utf-8")
    guard.open(base, "/relocations/import")
    page.set_input_files("#import-upload input[name=file]", str(ledger))
    page.click("#import-upload button[type=submit]")
    page.wait_for_selector("#preview-summary")
    guard.assert_shows("import preview", bad_date, scope="#issues")
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}


def test_the_policy_itself_stops_markup_that_reaches_the_page(seeded, live_server, watched_page):
    # A second line of defence: even markup a future page wrongly writes as HTML runs nothing.
    base = live_server(BASEMAP="none")
    guard = Guard(watched_page)
    page = guard.open(base, "/martyrs")
    page.evaluate("""() => {
        document.body.insertAdjacentHTML('beforeend', '<img id="bad" src="x" onerror="window.__pwned=1">');
        const s = document.createElement('script');
        s.textContent = 'window.__pwned = 2';
        document.body.appendChild(s);
    }""")
    page.wait_for_function("() => document.getElementById('bad').complete")
    assert page.evaluate("() => window.__pwned === undefined")
    for _ in range(50):  # console events arrive asynchronously: at most 5 s
        if len(watched_page.csp_violations) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(watched_page.csp_violations) >= 2, watched_page.csp_violations
    watched_page.csp_violations.clear()  # expected here; every other test fails on one

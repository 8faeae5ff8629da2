"""axe-core on every page of every area, at desktop and phone sizes, signed in as a role that may see it."""

from __future__ import annotations

import shutil
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from registry.db import Store
from registry.models import (
    AuditEvent,
    ConflictCheck,
    Facility,
    ImportBatch,
    Inspection,
    MaintenanceTask,
    Martyr,
    PreservationPlan,
    Relocation,
)
from registry.services.base import Actor
from registry.services.demo import load_demo
from registry.services.manage import calendar
from registry.services.users import create_demo_users
from registry.solar_terms import qingming
from tests.browser.conftest import ALLOWED_HOST, CSP_WORDS
from tests.conftest import make_app
from tests.servers import serving

pytestmark = pytest.mark.browser

# Installed by `npm ci` (package.json pins it as a development package); never served by the app.
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PASSWORDS = {"admin": "demo-admin-pass", "manager": "demo-manager-pass", "planner": "demo-planner-pass",
             "reviewer": "demo-reviewer-pass"}


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory, gpkg_template):
    """The app over the Longyan demo registry on 127.0.0.1: (base URL, ids of one record of each kind)."""
    path = tmp_path_factory.mktemp("axe") / "registry.gpkg"
    shutil.copy(gpkg_template, path)
    url = f"sqlite:///{path}"
    store = Store(url)
    load_demo(store)
    create_demo_users(store, Actor.system("test"))
    with store.session() as session:
        def first(column, *where):
            return session.scalar(select(column).where(*where).order_by(column).limit(1))

        ids = {
            "facility": first(Facility.id),
            "martyr": first(Martyr.id),
            "relocation": first(Relocation.id),
            "task": first(MaintenanceTask.id),
            "inspection": first(Inspection.id),
            "batch": first(ImportBatch.id),
            "plan": first(PreservationPlan.id),
            "check": first(ConflictCheck.id),
            "event_facility": first(AuditEvent.entity_id, AuditEvent.entity_type == "facility"),
        }
        code = session.scalar(select(Facility.code).where(Facility.id == ids["facility"]))
    # The calendar's pages with something in them: a facility's own day and the orders for the next Qingming.
    manager = Actor("calendar prepare", roles=("admin",))
    calendar.add_day(store, manager, {"facility_code": code, "name": "开馆纪念日", "month": "6", "day": "18"})
    upcoming = calendar.today_in_beijing()
    upcoming = next(q for q in (qingming(upcoming.year), qingming(upcoming.year + 1)) if q > upcoming)
    calendar.prepare(store, manager, today=upcoming - timedelta(days=10))
    store.dispose()
    with serving(make_app(url, BASEMAP="none"), "axe-live-server") as base:
        yield base, ids


def pages(ids) -> dict[str, tuple[str | None, list[str]]]:
    """Area -> (who signs in, the pages to check); pages whose record the demo lacks are left out."""
    f, m = ids["facility"], ids["martyr"]

    def some(*templates_and_keys):
        return [template.format(**ids) for template, key in templates_and_keys if key is None or ids[key]]

    return {
        "public": (None, some(("/", None), ("/?q=古田", None), ("/martyrs", None), ("/martyrs?q=张", None),
                              (f"/facilities/{f}", "facility"), (f"/facilities/{f}/report", "facility"),
                              (f"/martyrs/{m}", "martyr"), ("/reports?token=nothing", None),
                              ("/no-such-page", None))),
        "auth": (None, ["/login"]),
        "ogc": (None, ["/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/facilities",
                       "/ogc/collections/facilities/items?limit=5",
                       f"/ogc/collections/facilities/items/{f}", "/ogc/collections/facilities/queryables",
                       "/ogc/collections/facilities/schema"]),
        "manage": ("admin", some(("/manage", None), ("/manage/map", None),
                                 ("/manage/facilities/{facility}", "facility"),
                                 ("/manage/facilities/{facility}/edit", "facility"),
                                 ("/manage/facilities/{facility}/inspect", "facility"),
                                 ("/manage/offline", None),
                                 ("/manage/inspections/{inspection}", "inspection"), ("/manage/ledgers", None),
                                 ("/manage/moderation", None), ("/manage/tasks", None),
                                 ("/manage/tasks/{task}", "task"), ("/manage/visits", None),
                                 ("/manage/visits?start_lon=116.5&start_lat=25.2&back=on", None))),
        "relocations": ("admin", some(("/relocations", None), ("/relocations/{relocation}", "relocation"),
                                      ("/relocations/new", None), ("/relocations/map", None),
                                      ("/relocations/reconciliation", None), ("/relocations/import", None),
                                      ("/relocations/import/{batch}", "batch"))),
        "plan": ("planner", some(("/plan", None), ("/plan/zones", None), ("/plan/zones/{facility}", "facility"),
                                 ("/plan/checks", None), ("/plan/checks/{check}", "check"), ("/plan/plans", None),
                                 ("/plan/plans/new", None), ("/plan/plans/{plan}", "plan"),
                                 ("/plan/plans/{plan}/edit", "plan"), ("/plan/plans/{plan}/compare", "plan"),
                                 ("/plan/map", None))),
        "gis": ("planner", ["/gis/import"]),
        "history": ("reviewer", some(("/history", None),
                                     ("/history/facility/{event_facility}", "event_facility"))),
        "accounts": ("admin", ["/admin/accounts", "/account/password"]),
        "calendar": ("manager", ["/manage/calendar", "/manage/calendar/dates", "/?county=350823",
                                 "/?county=nowhere"]),
    }


def readable(url: str, size: str, violations: list[dict]) -> list[str]:
    """One line per failing element: the page, the size, the rule, its impact and the element."""
    lines = []
    for violation in violations:
        for node in violation["nodes"][:5]:
            target = " ".join(str(t) for t in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ")[:200]
            lines.append(f"{url} [{size}] {violation['id']} ({violation['impact']}): {target} :: "
                         f"{violation['help']} :: {summary}")
        if len(violation["nodes"]) > 5:
            lines.append(f"{url} [{size}] {violation['id']}: … and {len(violation['nodes']) - 5} more elements")
    return lines


def loopback_only(route):
    if urlsplit(route.request.url).hostname == ALLOWED_HOST:
        route.continue_()
    else:
        route.abort("blockedbyclient")


def record_csp(into: list[str], message) -> None:
    if CSP_WORDS in message.text:
        into.append(message.text)


def check_area(browser, base: str, who: str | None, urls: list[str]) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (or `make setup`), which installs axe-core from package.json")
    axe_source = AXE.read_text(encoding="utf-8")
    problems = []
    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=size == "phone",
                                      has_touch=size == "phone")
        page = context.new_page()
        page.set_default_timeout(60_000)
        csp: list[str] = []
        page.on("console", partial(record_csp, csp))
        page.route("**/*", loopback_only)
        if who:
            page.goto(base + "/login")
            page.fill("input[name=username]", who)
            page.fill("input[name=password]", PASSWORDS[who])
            page.click("form:has(input[name=password]) button[type=submit]")
            page.wait_for_load_state("networkidle")
        for url in urls:
            response = page.goto(base + url, wait_until="networkidle")
            # A page refused or redirected to the sign-in form would be checked in place of the real one.
            expected = 404 if url == "/no-such-page" else 200
            if response.status != expected or urlsplit(page.url).path != urlsplit(url).path:
                problems.append(f"{url} [{size}]: answered {response.status} at {page.url}, not the page itself")
            # page.evaluate runs through the DevTools protocol, which the page's CSP does not govern;
            # the page itself never loads axe.
            page.evaluate(axe_source)
            result = page.evaluate("""async () => {
                const r = await axe.run(document, {resultTypes: ["violations"]});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => ({target: n.target, failureSummary: n.failureSummary}))}));
            }""")
            problems.extend(readable(url, size, result))
        context.close()
        problems.extend(f"CSP [{size}]: {text}" for text in csp)
    return problems


@pytest.mark.parametrize("area", ["public", "auth", "ogc", "manage", "relocations", "plan", "gis", "history",
                                  "accounts", "calendar"])
def test_axe_finds_no_violation(area, demo_site, browser):
    base, ids = demo_site
    who, urls = pages(ids)[area]
    problems = check_area(browser, base, who, urls)
    assert not problems, "axe-core found accessibility violations:\n" + "\n".join(problems)


def visitor(browser, size: str):
    context = browser.new_context(viewport=SIZES[size], locale="zh-CN", is_mobile=size == "phone",
                                  has_touch=size == "phone")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.route("**/*", loopback_only)
    return context, page


def test_public_map_by_keyboard_and_screen_reader(demo_site, browser):
    base, _ids = demo_site
    context, page = visitor(browser, "desktop")
    page.goto(base + "/", wait_until="networkidle")
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.loadedFacilities")
    page.wait_for_timeout(600)

    # Leaflet's controls speak the page's language.
    assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == "放大"
    assert page.get_attribute(".leaflet-control-zoom-out", "aria-label") == "缩小"
    assert page.get_attribute(".leaflet-control-layers-toggle", "aria-label") == "图层"

    # Each marker is named by its facility, not by its one-character symbol.
    marker = page.locator(".pm-marker").first
    name = marker.get_attribute("aria-label")
    assert name and len(name) > 1 and name == marker.get_attribute("title")
    assert page.get_by_role("button", name=name).count() >= 1
    assert page.get_by_role("button", name="碑", exact=True).count() == 0

    # A marker's popup opens from the keyboard, takes the focus, and Escape closes it and returns the focus.
    marker.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup")
    assert page.evaluate("() => document.activeElement.closest('.leaflet-popup') !== null")
    assert page.get_attribute(".leaflet-popup-close-button", "aria-label") == "关闭弹窗"
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")
    assert page.evaluate("() => document.activeElement.classList.contains('pm-marker')")

    # A cemetery (a drawn circle) is a named button too, and Enter opens its popup.
    cemetery = page.locator("path.pm-cemetery[role=button]").first
    cemetery_name = cemetery.get_attribute("aria-label")
    assert cemetery_name
    cemetery.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup")
    assert cemetery_name in page.inner_text(".leaflet-popup-content")
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")

    # "Skip the map" comes before the map and lands after it, past every marker.
    skip = page.locator("a.skip-map")
    assert skip.count() == 1 and skip.inner_text() == "跳过地图"
    assert page.evaluate("""() => {
        const link = document.querySelector('a.skip-map'), map = document.querySelector('.leaflet-container');
        return !!(link.compareDocumentPosition(map) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    skip.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => !document.querySelector('.leaflet-container').contains(document.activeElement)")

    # The text list holds everything in view (every layer, cemeteries too), a page at a time.
    loaded = page.evaluate("""() => {
        const d = document.querySelector('.leaflet-container').dataset;
        return Number(d.loadedFacilities) + Number(d.loadedCemeteries) + Number(d.loadedHeritage_sites);
    }""")
    total = int(page.get_attribute("#map-list", "data-total"))
    assert total == loaded and total > 50
    assert page.locator("#map-list > li").count() == 50
    assert page.inner_text("#map-list-pager .pm-pager__showing") == f"显示第 1–50 处，共 {total} 处"
    # The live region says only the short count, never the list.
    assert page.inner_text("#map-list-count") == f"地图范围内有 {total} 处"
    assert page.get_attribute("#map-list", "aria-live") is None
    page.click("#map-list-pager [data-page=next]")
    assert page.inner_text("#map-list-pager .pm-pager__showing").startswith("显示第 51–")
    assert page.get_attribute("#map-list", "start") == "51"
    context.close()


def test_phone_header_menu_and_map_in_the_first_screen(demo_site, browser):
    base, _ids = demo_site
    context, page = visitor(browser, "phone")
    page.goto(base + "/", wait_until="networkidle")
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.loadedFacilities")

    # The map starts within the first screen.
    top = page.evaluate("() => document.querySelector('.leaflet-container').getBoundingClientRect().top")
    assert top < 844 / 2, f"the map starts {top}px down a 844px screen"

    # A compact header with a menu button that works from the keyboard.
    button = page.get_by_role("button", name="菜单")
    assert button.get_attribute("aria-expanded") == "false"
    assert not page.get_by_role("link", name="英名录").is_visible()
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true"
    assert page.get_by_role("link", name="英名录").is_visible()
    # Visitors see only the public areas.
    links = page.locator(".site-nav a").all_inner_texts()
    assert links == ["地图", "英名录", "数据服务", "登录"]
    page.keyboard.press("Space")
    assert button.get_attribute("aria-expanded") == "false"
    # Escape inside the open menu closes it and gives the focus back to the button.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.getElementById('site-menu').contains(document.activeElement)")
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false"
    assert page.evaluate("() => document.activeElement.classList.contains('menu-toggle')")

    # The attribution does not cover the scale bar.
    boxes = page.evaluate("""() => ['.leaflet-control-scale', '.leaflet-control-attribution'].map(
        s => { const r = document.querySelector(s).getBoundingClientRect();
               return [r.left, r.top, r.right, r.bottom]; })""")
    (a, b) = boxes
    overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    assert not overlap, boxes
    context.close()


@pytest.mark.parametrize(("who", "areas"), [
    ("reviewer", ["地图", "英名录", "设施管理", "迁移", "保护规划", "数据服务", "变更记录"]),
    ("planner", ["地图", "英名录", "迁移", "保护规划", "数据服务", "变更记录"]),
    ("manager", ["地图", "英名录", "设施管理", "迁移", "数据服务", "变更记录"]),
])
def test_staff_areas_appear_in_the_menu_by_role(who, areas, demo_site, browser):
    base, _ids = demo_site
    context, page = visitor(browser, "desktop")
    page.goto(base + "/login")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", PASSWORDS[who])
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator(".site-nav li:not(.site-nav__account) a").all_inner_texts() == areas
    context.close()


def test_map_controls_speak_english_on_english_pages(demo_site, browser):
    base, _ids = demo_site
    context, page = visitor(browser, "desktop")
    page.goto(base + "/lang/en?next=/", wait_until="networkidle")
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.loadedFacilities")
    assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == "Zoom in"
    assert page.get_attribute(".leaflet-control-layers-toggle", "aria-label") == "Layers"
    assert page.inner_text("a.skip-map") == "Skip the map"
    page.wait_for_function("() => document.getElementById('map-list-count').textContent")
    assert page.inner_text("#map-list-count").endswith("places in view")
    context.close()


def test_visit_route_prints_as_a_list_and_a_map(demo_site, browser):
    """The managers' visit route: markers match the numbered list, and printing keeps only the list and the map."""
    base, _ids = demo_site
    context, page = visitor(browser, "desktop")
    page.goto(base + "/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORDS["manager"])
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(base + "/manage/visits", wait_until="networkidle")
    stops = page.locator(".visit-list > li").count()
    assert stops > 1
    assert page.get_attribute(".leaflet-container", "data-stops") == str(stops)
    first = page.locator(".leaflet-marker-icon.visit-marker").first
    assert first.get_attribute("aria-label") == "1. " + page.locator(".visit-stop__name").first.inner_text()
    page.emulate_media(media="print")
    assert not page.locator("form.visit-form").is_visible()
    assert not page.locator(".site-header").is_visible() and not page.locator(".manage-nav").is_visible()
    assert page.locator(".visit-list").is_visible() and page.locator(".leaflet-container").is_visible()
    assert not page.locator(".leaflet-control-zoom").is_visible()
    context.close()

"""In a real browser, offline: import a messy ledger, fix its mapping, re-import, see the journeys; reconcile."""

from __future__ import annotations

import re

import pytest

from registry.db import Store
from registry.demo import SECOND_CITY_RELOCATIONS
from registry.services import Actor
from registry.services.demo import load_demo
from registry.services.users import create_demo_users, create_user
from tests.factories import FIXED_MAPPING_TEXT, make_destinations, write_messy_ledger

pytestmark = pytest.mark.browser

CLEAN = {"blocked": [], "failed": [], "console": [], "page errors": []}


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    create_user(store, Actor.system("test"), "mgr", "manager-password", ["manager"], ["350823", "350821"])
    make_destinations(store)
    store.dispose()


def sign_in(page, base, username, password):
    # Generous waits: the demo map draws 4,377 lines, and CI machines may be busy.
    page.set_default_timeout(60_000)
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def upload(page, base, path, mapping=""):
    page.goto(base + "/relocations/import")
    page.set_input_files("#import-upload input[name=file]", str(path))
    if mapping:
        page.fill("#import-upload textarea[name=mapping]", mapping)
    page.click("#import-upload button[type=submit]")
    page.wait_for_selector("#preview-summary")


def test_messy_ledger_errors_fixed_mapping_import_reimport_and_map(seeded, live_server, watched_page, tmp_path):
    base = live_server(BASEMAP="none", RELOCATION_FILES_DIR=str(tmp_path / "files"))
    page = watched_page.page
    sign_in(page, base, "mgr", "manager-password")
    ledger = write_messy_ledger(tmp_path / "上杭长汀迁移台账.xlsx", with_errors=False)

    # The dry run names each row's error: the 迁入地 column holds the county, not the cemetery.
    upload(page, base, ledger)
    errors = page.locator("#issues tr.issue--error")
    assert errors.count() == 9
    first = errors.first.inner_text()
    assert "4" in first and "迁入地" in first and "上杭县" in first and "unknown destination facility" in first
    assert page.locator("#import-commit").count() == 0
    assert "存在错误，不能导入" in page.locator("#not-clean").inner_text()

    # Fix the mapping and check again: only warnings are left, each named.
    page.fill("#import-recheck textarea[name=mapping]", FIXED_MAPPING_TEXT)
    page.click("#import-recheck button[type=submit]")
    page.wait_for_selector("#preview-summary[data-errors='0']")
    warnings = page.locator("#issues tr.issue--warning").all_inner_texts()
    for why in ("full-width digits", "degrees-minutes-seconds", "swapped", "merged cell", "empty row skipped",
                "header row in the middle", "duplicate of row 14"):
        assert any(why in w for w in warnings), why

    # Import: the progress is streamed into the page, then the result.
    page.click("#import-commit button[type=submit]")
    page.wait_for_url(re.compile(r".*/relocations/import/\d+$"))
    assert page.locator("#batch-summary").get_attribute("data-added") == "9"

    # The same ledger again: the preview says so, and the import adds nothing.
    upload(page, base, ledger, FIXED_MAPPING_TEXT)
    assert "已于此前导入" in page.locator("#preview-summary").inner_text()
    page.click("#import-commit button[type=submit]")
    page.wait_for_url(re.compile(r".*/relocations/import/\d+\?again=1$"))
    assert "没有新增任何记录" in page.locator("#already-imported").inner_text()
    page.goto(base + "/relocations")
    assert "共 9 条" in page.locator("main").inner_text()

    # The journeys on the map, loaded by filter; a click on a line opens its relocation.
    page.goto(base + "/relocations/map")
    page.wait_for_selector("#journey-status[data-journeys='9']")
    page.select_option("#journey-filter select[name=county]", "350821")
    page.wait_for_selector("#journey-status[data-journeys='2']")
    assert "county=350821" in page.url
    # Let the map finish fitting itself to the filtered journeys before aiming at one.
    page.wait_for_function("""() => {
        const map = window[Object.keys(window).find(k => k.startsWith('map_') && window[k].latLngToContainerPoint)];
        return map && !map._animatingZoom && !map._panAnim?._inProgress;
    }""")
    page.wait_for_timeout(500)
    point = page.evaluate("""() => {
        const map = window[Object.keys(window).find(k => k.startsWith('map_') && window[k].latLngToContainerPoint)];
        let line = null;
        map.eachLayer(l => { if (l.feature && l.feature.properties.kind === 'journey') { line = l; } });
        const p = map.latLngToContainerPoint(line.getCenter());
        const box = map.getContainer().getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y};
    }""")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(re.compile(r".*/relocations/\d+$"))
    assert "CT-00" in page.locator("h1").inner_text()
    assert watched_page.problems() == CLEAN


def test_demo_reconciliation_totals_4377(gpkg_url, live_server, watched_page):
    store = Store(gpkg_url)
    load_demo(store)
    create_demo_users(store, Actor.system("test"))
    store.dispose()
    base = live_server(BASEMAP="none")
    page = watched_page.page
    sign_in(page, base, "reviewer", "demo-reviewer-pass")
    page.goto(base + "/relocations/reconciliation?city=350800")  # Longyan's report on its own
    assert page.locator("[data-total=relocated]").inner_text() == "4377"
    assert "144.3%" in page.locator("#by-county tfoot").inner_text()
    page.goto(base + "/relocations/map")  # every journey of the registry: Longyan's and the second city's
    page.wait_for_selector(f"#journey-status[data-journeys='{4377 + SECOND_CITY_RELOCATIONS}']", timeout=60_000)
    assert watched_page.problems() == CLEAN

"""A manager on a phone: an overdue facility inspected (submitted twice, kept once), a task closed and verified."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from registry.models import Inspection
from tests.browser.conftest import ALLOWED_HOST, sign_in
from tests.factories import GUTIAN, backdate, facility, people

pytestmark = pytest.mark.browser

COLOURS = {"overdue": "#c62828", "problem_open": "#7b1fa2", "ok": "#2e7d32"}


@pytest.fixture
def phone(browser):
    """A phone-sized page that may only talk to 127.0.0.1 and whose position is at 古田 (the facility)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN", geolocation={"longitude": GUTIAN[0] + 0.0002,
                                                               "latitude": GUTIAN[1] + 0.0002},
                                  permissions=["geolocation"])
    page = context.new_page()
    blocked, errors = [], []

    def guard(route):
        if urlsplit(route.request.url).hostname == ALLOWED_HOST:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    page.route("**/*", guard)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page, blocked, errors
    context.close()


def photo_file():
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (150, 60, 40)).save(out, "JPEG")
    return {"name": "wall.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def colour_on_map(page, base) -> str:
    page.goto(base + "/manage/map", wait_until="networkidle")
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.features === '1'")
    # One layer switch holds the status, work-order and trend layers.
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".leaflet-control-layers-overlays label").count() == 3
    return page.locator("path.leaflet-interactive").first.get_attribute("fill")


def test_a_manager_closes_the_loop_on_a_phone(field_server, phone):
    base, app = field_server
    page, blocked, errors = phone
    store = app.extensions["registry_store"]
    people(store)
    site = facility(store, name="古田烈士纪念碑（测试）")
    backdate(store, site.id, 100)
    backdate(store, site.id, 100, tier="county")

    sign_in(page, base, "mgr")
    assert colour_on_map(page, base) == COLOURS["overdue"]

    page.goto(base + "/manage", wait_until="networkidle")
    row = page.locator(".facility-row[data-status=overdue]")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="巡查").click()
    page.wait_for_load_state("networkidle")

    page.click("#locate")
    page.wait_for_function("() => document.getElementById('position-status').dataset.onSite === 'true'")
    assert "在现场" in page.inner_text("#position-status")
    page.check("input[name=condition][value=poor]")
    for key in ("marker", "deeds", "headstone", "boundary", "rules"):
        page.check(f"input[name=std_{key}][value=present]")
    page.check("input[name=std_road][value=deficient]")
    page.fill("textarea[name=problems]", "进山道路塌方")
    page.set_input_files("input[name=photos]", [photo_file()])

    # The first answer is lost on the way back (the server did save it): the page retries with the same key.
    dropped = []

    def drop_first_answer(route):
        if route.request.method == "POST" and not dropped:
            route.fetch()
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/inspect", drop_first_answer)
    page.click("#submit-inspection")
    page.wait_for_url("**/manage/inspections/*", timeout=20_000)
    assert dropped
    expect(page.locator("#replayed")).to_be_visible()
    with store.session() as s:
        assert s.scalar(select(func.count(Inspection.id)).where(Inspection.facility_id == site.id)) == 3
        assert s.scalar(select(func.count(Inspection.id)).where(Inspection.idempotency_key.is_not(None))) == 1
    assert page.locator("#on-site").get_attribute("data-on-site") == "true"
    # The draft was cleared once the record was safe.
    assert page.evaluate(f"localStorage.getItem('inspection-draft-{site.id}')") is None
    inspection_url = page.url
    page.unroute("**/inspect")

    page.goto(base + "/manage", wait_until="networkidle")
    assert colour_on_map(page, base) == COLOURS["problem_open"]

    page.goto(inspection_url, wait_until="networkidle")
    page.click("#task-new button[type=submit]")
    page.wait_for_url("**/manage/tasks/*")
    task_url = page.url
    # A click posts a form and the page is replaced: expect() waits for the new page's state.
    page.click("#task-start")
    expect(page.locator("#task-state")).to_have_attribute("data-state", "in_progress")
    page.set_input_files("#task-complete input[name=photos]", [photo_file()])
    page.fill("#task-complete input[name=cost_actual]", "3500")
    page.click("#task-complete button[type=submit]")
    expect(page.locator("#task-state")).to_have_attribute("data-state", "done")
    expect(page.locator("#verify-other")).to_be_visible()  # the one who did the work cannot verify it
    assert colour_on_map(page, base) == COLOURS["problem_open"]

    page.click(".menu-toggle")  # on a phone, signing out is in the header's menu
    page.click(".site-nav__account button")
    page.wait_for_load_state("networkidle")
    sign_in(page, base, "mgr2")
    page.goto(task_url, wait_until="networkidle")
    page.click("#task-verify button[type=submit] >> nth=0")
    expect(page.locator("#task-state")).to_have_attribute("data-state", "verified")
    assert colour_on_map(page, base) == COLOURS["ok"]
    assert blocked == [] and errors == []


def test_the_draft_survives_closing_the_page(field_server, phone):
    base, app = field_server
    page, blocked, errors = phone
    store = app.extensions["registry_store"]
    people(store)
    site = facility(store)
    sign_in(page, base, "mgr")
    url = f"{base}/manage/facilities/{site.id}/inspect"
    page.goto(url, wait_until="networkidle")
    key = page.input_value("input[name=idempotency_key]")
    page.check("input[name=condition][value=fair]")
    page.fill("textarea[name=problems]", "草稿里的问题")
    page.goto(base + "/manage", wait_until="networkidle")
    page.goto(url, wait_until="networkidle")
    assert page.input_value("textarea[name=problems]") == "草稿里的问题"
    assert page.is_checked("input[name=condition][value=fair]")
    assert page.input_value("input[name=idempotency_key]") == key  # so a resend is still recognised
    expect(page.locator("#draft-status")).to_be_visible()
    assert blocked == [] and errors == []


def test_a_bad_photo_is_reported_without_losing_the_form(field_server, phone):
    base, app = field_server
    page, blocked, errors = phone
    store = app.extensions["registry_store"]
    people(store)
    site = facility(store)
    sign_in(page, base, "mgr")
    page.goto(f"{base}/manage/facilities/{site.id}/inspect", wait_until="networkidle")
    page.check("input[name=condition][value=good]")
    for key in ("marker", "deeds", "headstone", "boundary", "rules", "road"):
        page.check(f"input[name=std_{key}][value=present]")
    page.fill("textarea[name=problems]", "保留这段文字")
    page.set_input_files("input[name=photos]", [{"name": "notes.jpg", "mimeType": "image/jpeg",
                                                  "buffer": b"not really a photo"}])
    page.click("#submit-inspection")
    page.locator("#form-error").wait_for(state="visible")
    assert "notes.jpg" in page.inner_text("#form-error") and "photos" in page.inner_text("#form-error")
    assert page.input_value("textarea[name=problems]") == "保留这段文字"
    with store.session() as s:
        assert s.scalar(select(func.count(Inspection.id))) == 0
    assert blocked == [] and errors == []


def test_map_popups_show_names_as_text(field_server, phone):
    base, app = field_server
    page, blocked, errors = phone
    store = app.extensions["registry_store"]
    people(store)
    facility(store, name='<img src=x onerror="window.hacked=1">纪念碑')
    sign_in(page, base, "mgr")
    page.goto(base + "/manage/map", wait_until="networkidle")
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.features === '1'")
    page.locator("path.leaflet-interactive").first.click(force=True)
    popup = page.locator(".leaflet-popup-content strong")
    popup.wait_for(state="visible")
    assert popup.inner_text().startswith("<img src=x")
    assert page.evaluate("window.hacked === undefined")
    assert blocked == [] and errors == []

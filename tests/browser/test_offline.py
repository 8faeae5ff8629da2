"""A manager's phone without signal: the inspection waits in the phone's queue and arrives once, photos and all."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import ExifTags, Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from registry.files.images import exif_summary
from registry.models import Attachment, Facility, Inspection
from registry.services.facilities import retire_facility
from tests.browser.conftest import ALLOWED_HOST, sign_in
from tests.factories import GUTIAN, SYSTEM, backdate, facility, people

pytestmark = pytest.mark.browser


@pytest.fixture
def offline_phone(browser):
    """A phone at 古田 whose service worker may run; every host but 127.0.0.1 is refused (the worker's too)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN", service_workers="allow", permissions=["geolocation"],
                                  geolocation={"longitude": GUTIAN[0] + 0.0003, "latitude": GUTIAN[1] + 0.0002})
    blocked, errors = [], []

    def guard(route):
        if urlsplit(route.request.url).hostname == ALLOWED_HOST:
            route.fallback()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    # On the context, not the page: requests the service worker makes pass the guard too.
    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield context, page, blocked, errors
    context.close()


def jpeg(width: int, height: int, colour, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", quality=90, **({"exif": exif} if exif else {}))
    return out.getvalue()


def camera_exif() -> Image.Exif:
    """What a phone camera writes: the time taken (Beijing), the GPS position, and "turn 90° to show"."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: "2026:04:05 09:30:00"}
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (25.0, 12.0, 0.0), 3: "E", 4: (116.0, 48.0, 0.0)}
    return exif


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def cache_for_offline(page, base: str, site_id: int) -> None:
    """Open the due list and the facility's form online, as a manager does before leaving for the hills."""
    page.goto(base + "/manage", wait_until="networkidle")
    page.wait_for_function("() => /^[0-9]+$/.test(document.documentElement.dataset.offlineCached || '')",
                           timeout=20_000)
    page.goto(f"{base}/manage/facilities/{site_id}/inspect", wait_until="networkidle")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def fill_inspection(page, photos) -> None:
    page.click("#locate")
    page.wait_for_function("() => document.getElementById('position-status').dataset.onSite === 'true'")
    page.check("input[name=condition][value=fair]")
    for key in ("marker", "deeds", "headstone", "boundary", "rules"):
        page.check(f"input[name=std_{key}][value=present]")
    page.check("input[name=std_road][value=deficient]")
    page.fill("textarea[name=problems]", "山路塌方，无信号")
    page.set_input_files("input[name=photos]", photos)


def counts(store, site_id: int) -> tuple[int, int]:
    with store.session() as s:
        inspections = s.scalar(select(func.count(Inspection.id)).where(Inspection.facility_id == site_id,
                                                                       Inspection.idempotency_key.is_not(None)))
        photos = s.scalar(select(func.count(Attachment.id)).where(Attachment.entity_type == "inspections"))
    return inspections, photos


def test_an_inspection_made_offline_arrives_once_with_its_photos(field_server, offline_phone):  # noqa: F811
    base, app = field_server
    context, page, blocked, errors = offline_phone
    store = app.extensions["registry_store"]
    people(store)
    site = facility(store, name="古田山间零散烈士墓（测试）")
    backdate(store, site.id, 200)
    sign_in(page, base, "mgr")
    cache_for_offline(page, base, site.id)

    context.set_offline(True)
    # Offline, the due list and the form come from the phone.
    page.goto(base + "/manage")
    page.locator(f".facility-row[data-facility='{site.id}']").get_by_role("link", name="巡查").click()
    page.wait_for_url(f"**/manage/facilities/{site.id}/inspect")
    fill_inspection(page, [
        {"name": "wall.jpg", "mimeType": "image/jpeg", "buffer": jpeg(2400, 1800, (150, 60, 40), camera_exif())},
        {"name": "road.jpg", "mimeType": "image/jpeg", "buffer": jpeg(640, 480, (60, 120, 40))},
    ])
    page.click("#submit-inspection")
    page.wait_for_url("**/manage/offline")
    item = page.locator(".queue-item")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-state", "queued")
    expect(item).to_contain_text("古田山间零散烈士墓（测试）")
    expect(item).to_contain_text("2 张照片")
    assert counts(store, site.id) == (0, 0)
    # Keep a copy of the queued item in the page, to send the same key again later.
    key = page.evaluate("() => RegistryOffline.mine().then(items => { window.kept = items[0]; return items[0].key; })")

    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")  # as the phone does when the signal returns
    expect(page.locator(".queue-item")).to_have_count(0, timeout=20_000)
    assert counts(store, site.id) == (1, 2)
    with store.session() as s:
        inspection = s.scalar(select(Inspection).where(Inspection.idempotency_key == key))
        stored = list(s.scalars(select(Attachment).where(Attachment.entity_id == inspection.id)))
        assert inspection.problems == "山路塌方，无信号" and inspection.on_site is True
        assert inspection.facility_changed is False
    sizes = sorted(image_size(Path(app.instance_path) / a.storage_path) for a in stored)
    # The large photo was resized on the phone, turned upright as its EXIF asked, and keeps its time and place.
    assert sizes == [(640, 480), (1200, 1600)]
    wall = next(a for a in stored if image_size(Path(app.instance_path) / a.storage_path) == (1200, 1600))
    assert wall.taken_at == datetime(2026, 4, 5, 1, 30, tzinfo=UTC)
    kept = (Path(app.instance_path) / wall.storage_path).read_bytes()
    assert exif_summary(kept)[1:] == (116.8, 25.2)
    with Image.open(io.BytesIO(kept)) as upright:
        assert upright.getexif().get(ExifTags.Base.Orientation) == 1  # not turned a second time when shown

    # "Send now" again, then the same queued key once more: the registry still holds one inspection.
    page.click("#send-now")
    expect(page.locator("#send-now")).to_be_enabled()
    page.evaluate("() => RegistryOffline.put(Object.assign({}, window.kept, {state: 'queued'}))")
    expect(page.locator(".queue-item")).to_have_count(1)
    page.click("#send-now")
    expect(page.locator(".queue-item")).to_have_count(0, timeout=20_000)
    assert counts(store, site.id) == (1, 2)
    assert blocked == [] and errors == []


def test_a_refused_inspection_stays_queued_with_the_reason_and_can_be_discarded(field_server, offline_phone):  # noqa: F811
    base, app = field_server
    context, page, blocked, errors = offline_phone
    # A phone whose storage for the site is nearly full says so before the inspection.
    context.add_init_script("navigator.storage.estimate = () => "
                            "Promise.resolve({usage: 960 * 1048576, quota: 1000 * 1048576});")
    store = app.extensions["registry_store"]
    people(store)
    site = facility(store)
    backdate(store, site.id, 200)
    sign_in(page, base, "mgr")
    cache_for_offline(page, base, site.id)
    expect(page.locator("#storage-warning")).to_be_visible()
    expect(page.locator("#storage-warning")).to_contain_text("960")

    context.set_offline(True)
    page.reload()
    fill_inspection(page, [{"name": "wall.jpg", "mimeType": "image/jpeg", "buffer": jpeg(800, 600, (90, 90, 90))}])
    page.click("#submit-inspection")
    page.wait_for_url("**/manage/offline")
    expect(page.locator(".queue-item")).to_have_count(1)

    # Back online, the server is briefly unavailable: the inspection stays queued for the next try.
    context.set_offline(False)
    context.route("**/manage/offline/facilities/*/inspections", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"status": 503, "message": "store unavailable"}'))
    page.click("#send-now")
    expect(page.locator(".queue-item")).to_have_attribute("data-state", "error", timeout=20_000)
    context.unroute("**/manage/offline/facilities/*/inspections")
    assert counts(store, site.id) == (0, 0)

    # Meanwhile the facility is retired (its tomb moved into a cemetery).
    with store.session() as s:
        version = s.get(Facility, site.id).version
    retire_facility(store, SYSTEM, site.id, version, "迁入烈士陵园")
    page.click("#send-now")
    item = page.locator(".queue-item")
    expect(item).to_have_attribute("data-state", "refused", timeout=20_000)
    expect(item.locator(".queue-item__reason")).to_contain_text(f"no active facility {site.id}")
    expect(item.locator("code")).to_have_text("facility")
    assert counts(store, site.id) == (0, 0)

    # Sending again changes nothing: a refusal waits for the manager.
    page.click("#send-now")
    expect(page.locator("#send-now")).to_be_enabled()
    expect(page.locator(".queue-item")).to_have_attribute("data-state", "refused")

    # Edit reopens the form with the queued values and photo.
    page.click(".queue-edit")
    page.wait_for_url("**/inspect?queued=*")
    expect(page.locator("textarea[name=problems]")).to_have_value("山路塌方，无信号")
    assert page.is_checked("input[name=std_road][value=deficient]")
    assert page.evaluate("document.querySelector('input[name=photos]').files.length") == 1
    expect(page.locator("#form-error")).to_contain_text(f"no active facility {site.id}")

    page.goto(base + "/manage/offline", wait_until="networkidle")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".queue-discard")
    expect(page.locator(".queue-item")).to_have_count(0)
    assert counts(store, site.id) == (0, 0)
    assert blocked == [] and errors == []


def page_caches(page) -> list[str]:
    return page.evaluate("() => caches.keys().then(names => names.filter(n => n.startsWith('registry-pages-')))")


def test_signing_out_leaves_no_pages_and_another_user_sees_no_queue(field_server, offline_phone):  # noqa: F811
    base, app = field_server
    context, page, blocked, errors = offline_phone
    store = app.extensions["registry_store"]
    actors = people(store)
    site = facility(store)
    backdate(store, site.id, 200)
    sign_in(page, base, "mgr")
    cache_for_offline(page, base, site.id)
    assert page_caches(page) == [f"registry-pages-{actors['mgr'].id}"]
    context.set_offline(True)
    page.reload()
    fill_inspection(page, [])
    page.click("#submit-inspection")
    page.wait_for_url("**/manage/offline")
    expect(page.locator(".queue-item")).to_have_count(1)
    # Marked refused while still offline, so it stays on the phone through what follows.
    page.evaluate("() => RegistryOffline.mine().then(items => RegistryOffline.put(Object.assign(items[0], "
                  "{state: 'refused', message: 'kept for this test'})))")
    context.set_offline(False)

    page.click(".menu-toggle")
    page.click(".site-nav__account button")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => caches.keys().then(n => !n.some(x => x.startsWith('registry-pages-')))")
    assert page_caches(page) == []

    sign_in(page, base, "mgr2")
    page.goto(base + "/manage/offline", wait_until="networkidle")
    # mgr's unsent inspection is neither shown to mgr2 nor sent as theirs; only its count is said.
    expect(page.locator("#queue-status")).to_contain_text("另有 1 条记录属于其他账户")
    expect(page.locator(".queue-item")).to_have_count(0)
    assert page_caches(page) in ([], [f"registry-pages-{actors['mgr2'].id}"])
    assert counts(store, site.id) == (0, 0)
    assert blocked == [] and errors == []

"""In a real browser, offline: export a county's layer, edit it with GDAL as QGIS would, upload, and a second
manager approves all; exactly the edited rows change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.db import Store
from registry.models import Facility
from registry.services.base import snapshot
from tests.browser.conftest import sign_in
from tests.factories import facility, people
from tests.registry.gis.test_edits_roundtrip import edit_four

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    people(store)
    ids = [facility(store, lonlat=(116.40 + i / 100, 25.05)).id for i in range(5)]
    store.dispose()
    return ids


def _rows(url) -> dict:
    store = Store(url)
    try:
        with store.session() as s:
            return {f.id: snapshot(f) for f in s.scalars(select(Facility))}
    finally:
        store.dispose()


def test_export_edit_upload_and_approve_all(seeded, gpkg_url, live_server, watched_page, tmp_path):
    ids = seeded
    base = live_server(BASEMAP="none")
    page = watched_page.page
    page.set_default_timeout(30_000)
    sign_in(page, base, "mgr")
    page.goto(base + "/gis/edits")
    with page.expect_download() as download:
        page.click("#edits-export button[type=submit]")
    path = tmp_path / "export.gpkg"
    download.value.save_as(path)
    edit_four(path, ids)
    before = _rows(gpkg_url)

    page.set_input_files("#edits-upload input[name=file]", str(path))
    page.click("#edits-upload button[type=submit]")
    page.wait_for_selector("#edits")
    assert page.locator("tr.edit").count() == 4
    assert page.locator("#second-person").is_visible()
    assert page.locator("#approve-all").count() == 0
    batch_url = page.url
    assert _rows(gpkg_url) == before

    page.evaluate("document.querySelector('form[action=\"/logout\"]').submit()")
    page.wait_for_load_state("networkidle")
    sign_in(page, base, "mgr2")
    page.goto(batch_url)
    assert "位置移动" in page.locator(f"tr.edit[data-target='{ids[1]}']").inner_text()
    page.click("#approve-all button")
    page.wait_for_selector("#batch-summary[data-state=closed]")
    assert page.locator("tr.edit[data-state=approved]").count() == 4

    after = _rows(gpkg_url)
    assert after[ids[0]]["caretaker"] == "李看护" and after[ids[2]]["status"] == "retired"
    assert after[ids[1]]["position_source"] == "qgis_edit"
    assert after[ids[3]] == before[ids[3]] and after[ids[4]] == before[ids[4]]
    assert len(after) == len(before) + 1
    assert watched_page.blocked == [] and watched_page.page_errors == []

"""The archive (一处一档) as PDF: it opens, carries the Chinese text of the page, and keeps the page's rights."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.models import AuditEvent
from registry.services.manage.archive import PdfFontMissing, pdf_font
from registry.services.manage.inspections import submit_inspection
from registry.services.manage.tasks import create_task
from tests.factories import as_user, backdate, facility, form, jpeg, pdf_text, people


@pytest.fixture
def app(any_folder_app):
    """The app over a fresh registry of each store kind, its instance folder (photos) in the test's folder."""
    return any_folder_app


@pytest.fixture
def site(app):
    store = app.extensions["registry_store"]
    actors = people(store)
    place = facility(store, name="古田会议烈士纪念碑", township="古田镇")
    backdate(store, place.id, 120, tier="county", condition="fair", problems="护栏锈蚀")
    inspection = submit_inspection(store, actors["mgr"], place.id, form(condition="poor", problems="碑座开裂，需修补"),
                                   [("p.jpg", jpeg())], attachments_dir=f"{app.instance_path}/attachments").inspection
    create_task(store, actors["mgr"], place.id, {"title": "修补碑座裂缝"}, inspection_id=inspection.id)
    return place


def test_the_archive_pdf_has_the_facility_and_its_inspections(app, site):
    page = as_user(app, "mgr").get(f"/manage/facilities/{site.id}")
    assert f'href="/manage/facilities/{site.id}/archive.pdf"' in page.get_data(as_text=True)
    response = as_user(app, "mgr").get(f"/manage/facilities/{site.id}/archive.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    reader, text = pdf_text(data)
    assert len(reader.pages) >= 1
    for expected in ("设施档案（一处一档）：古田会议烈士纪念碑", site.code, "古田镇", "巡查记录（2）",
                     "碑座开裂，需修补", "护栏锈蚀", "较差", "一般", "县级检查", "乡镇/村站巡查",
                     "维修任务（1）", "修补碑座裂缝", "变更记录", "历次照片对比"):
        assert expected in text, expected
    # The CJK font is embedded, and only the glyphs used: the file stays small.
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    descendants = [f["/DescendantFonts"][0].get_object() for f in fonts if "/DescendantFonts" in f]
    assert descendants and all("/FontFile2" in d["/FontDescriptor"] or "/FontFile3" in d["/FontDescriptor"]
                               for d in descendants)
    # Simplified-Chinese glyph shapes (Noto Sans SC), not a Traditional or Japanese variant.
    assert all("NotoSansSC" in str(d["/BaseFont"]) for d in descendants), [d["/BaseFont"] for d in descendants]
    assert len(data) < 400_000


def test_a_reviewer_may_read_it(app, site):
    assert as_user(app, "reviewer1").get(f"/manage/facilities/{site.id}/archive.pdf").status_code == 200


def test_another_countys_manager_is_refused_and_the_attempt_kept(app, site):
    response = as_user(app, "other").get(f"/manage/facilities/{site.id}/archive.pdf")
    assert response.status_code == 403
    assert not response.get_data().startswith(b"%PDF")
    store = app.extensions["registry_store"]
    with store.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "forbidden")
                          .order_by(AuditEvent.id.desc())).first()
    assert event is not None and f"/manage/facilities/{site.id}/archive.pdf" in event.note
    assert app.test_client().get(f"/manage/facilities/{site.id}/archive.pdf").status_code in (302, 401)


def test_a_missing_font_is_named(app, site, tmp_path):
    app.config["PDF_FONT"] = str(tmp_path / "no-such-font.ttf")
    response = as_user(app, "mgr").get(f"/manage/facilities/{site.id}/archive.pdf",
                                     headers={"Accept": "application/json"})
    assert response.status_code == 503
    body = response.get_json()
    assert "REGISTRY_PDF_FONT" in body["message"] and "no-such-font.ttf" in body["message"]


def test_a_font_collection_is_refused_by_name(tmp_path):
    collection = tmp_path / "fonts.ttc"
    collection.write_bytes(b"ttcf")
    with pytest.raises(PdfFontMissing, match="REGISTRY_PDF_FONT"):
        pdf_font(str(collection))


def test_the_default_font_is_the_one_the_set_up_installs():
    assert pdf_font(None).name == "NotoSansSC-Regular.otf"

"""Every upload form opens a file only as what it claims to be: pointers, bombs and oversize files are refused."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.models import (
    Attachment,
    AuditEvent,
    ConflictCheck,
    Facility,
    FacilityZone,
    Inspection,
    ProblemReport,
    Relocation,
    Tomb,
)
from registry.services.relocations import create_relocation
from tests.conftest import make_app
from tests.factories import SHANGHANG, SYSTEM, demo_like, facility, form, jpeg, multipart, people

# What an attacker saves under an upload's name: each names something else for a reader to open.
POINTERS = {
    "vrt": b'<OGRVRTDataSource><OGRVRTLayer name="passwd"><SrcDataSource>CSV:/etc/passwd</SrcDataSource>'
           b'<SrcLayer>passwd</SrcLayer></OGRVRTLayer></OGRVRTDataSource>\n',
    "path": b"/etc/passwd\n",
    "url": b"http://127.0.0.1:9/etc/passwd\n",
    "connection": b"PG:dbname=registry host=127.0.0.1 user=postgres\n",
}
# Words of the refusal that say why, for the forms that show the reason (a visitor's form says it its own way).
WHY = {"vrt": "virtual dataset", "path": "file path", "url": "address", "connection": "connection string"}


@pytest.fixture
def site(store_url, tmp_path):
    application = make_app(store_url, RELOCATION_FILES_DIR=str(tmp_path / "files"))
    application.instance_path = str(tmp_path / "instance")
    store = application.extensions["registry_store"]
    people(store)
    here = facility(store, SHANGHANG)
    relocation = create_relocation(store, SYSTEM, {"origin_county_code": SHANGHANG, "origin_place": "蛟洋镇文地村",
                                                   "origin_lon": 116.61, "origin_lat": 25.15})
    public = demo_like(store)
    yield {"app": application, "store": store, "facility": here.id, "relocation": relocation.id,
           "public": public["monument"], "tmp": tmp_path}
    store.dispose()


def _client(site, name):
    client = site["app"].test_client()
    if name:
        response = client.post("/login", data={"username": name, "password": f"{name}-password"})
        assert response.status_code == 302
    return client


def _gis(site, client, data, name):
    return multipart(client, "/gis/import/preview", {"kind": "facilities", "crs": "EPSG:4326",
                                                      "file": (io.BytesIO(data), name)})


def _zone(site, client, data, name):
    return multipart(client, f"/plan/zones/{site['facility']}", {"kind": "protection_range",
                                                                  "reported_on": "2024-01-01",
                                                                  "file": (io.BytesIO(data), name)})


def _check(site, client, data, name):
    return multipart(client, "/plan/checks", {"project_name": "道路", "file": (io.BytesIO(data), name)})


def _ledger(site, client, data, name):
    return multipart(client, "/relocations/import/preview", {"crs": "EPSG:4326", "file": (io.BytesIO(data), name)})


def _scan(site, client, data, name):
    return multipart(client, f"/relocations/{site['relocation']}/scans", {"step": "consent_on",
                                                                          "file": (io.BytesIO(data), name)})


def _inspection(site, client, data, name):
    values = form(key=f"upload-{name.replace('.', '-')}-{len(data)}")
    values["photos"] = [(io.BytesIO(data), name)]
    return multipart(client, f"/manage/facilities/{site['facility']}/inspect", values)


def _report(site, client, data, name):
    key = f"report-{name.replace('.', '-')}-{len(data)}"
    return multipart(client, f"/facilities/{site['public']}/report", {"text": "碑身有一道裂缝，请尽快修补。",
                                                                      "key": key, "photo": (io.BytesIO(data), name)})


def _qgis_edits(site, client, data, name):
    return multipart(client, "/gis/edits/upload", {"file": (io.BytesIO(data), name)})


# form: (post, user, the name endings it accepts, whether its page shows the reason and names the field)
FORMS = {
    "gis import": (_gis, "planner1", ("gpkg", "geojson", "json", "zip", "csv", "xlsx"), True),
    "zone": (_zone, "planner1", ("geojson", "json", "gpkg", "zip", "kml"), True),
    "conflict check": (_check, "planner1", ("geojson", "json", "gpkg", "zip", "kml"), True),
    "ledger": (_ledger, "mgr", ("xlsx", "csv"), True),
    "scan": (_scan, "mgr", ("pdf", "png", "jpg"), True),
    "inspection photo": (_inspection, "mgr", ("jpg", "png", "heic"), True),
    "report photo": (_report, None, ("jpg", "png"), False),
    "qgis edits": (_qgis_edits, "planner1", ("gpkg",), True),
}


def _stored(site) -> tuple:
    with site["store"].session() as s:
        counts = tuple(s.scalar(select(func.count()).select_from(model)) for model in (
            AuditEvent, Attachment, Facility, Tomb, FacilityZone, ConflictCheck, Inspection, ProblemReport,
            Relocation))
    files = sorted(p for p in Path(site["tmp"]).rglob("*") if p.is_file() and "attachments" in p.parts)
    return counts, files


@pytest.mark.parametrize("pointer", sorted(POINTERS))
@pytest.mark.parametrize("form_name", sorted(FORMS))
def test_a_pointer_disguised_as_each_format_is_refused_and_nothing_is_read(site, form_name, pointer):
    post, user, endings, shows_reason = FORMS[form_name]
    client = _client(site, user)
    before = _stored(site)
    for ending in endings:
        response = post(site, client, POINTERS[pointer], f"upload.{ending}")
        page = response.get_data(as_text=True)
        assert response.status_code == 400, (ending, response.status_code, page[:400])
        assert "root:" not in page and "/bin/" not in page, ending
        if shows_reason:
            assert WHY[pointer] in page, (ending, page[page.find("alert"):][:600])
            assert "<code>file</code>" in page or 'data-field="file"' in page or "<code>photos</code>" in page, ending
        else:
            assert "照片" in page, ending  # the visitor is told it is the photo
    assert _stored(site) == before


def _zip(members: dict[str, bytes], symlinks=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = (0o120777 << 16)
            zf.writestr(info, content)
    return buffer.getvalue()


SHAPEFILE_BITS = {"road.shp": b"\x00\x00\x27\x0a" + b"\x00" * 96, "road.dbf": b"\x03" + b"\x00" * 31}
ZIPS = {
    "bomb": (_zip({"road.shp": b"\x00" * (120 * 1024 * 1024), "road.shx": b"", "road.dbf": b""}), 413, "zip bomb"),
    "climbing path": (_zip({"../../road.shp": b"x", "road.shx": b"", "road.dbf": b""}), 400, "zip slip"),
    "absolute path": (_zip({"/tmp/road.shp": b"x"}), 400, "outside"),
    "symlink member": (_zip({"road.shp": b"/etc/passwd", "road.shx": b"", "road.dbf": b""},
                            symlinks=("road.shp",)), 400, "symbolic link"),
    # 200,000 points (random index bytes, so no ratio check catches it first): the .shx gives the count
    # before anything is extracted.
    "200,000 points": (_zip({**SHAPEFILE_BITS, "road.shx": b"\x00" * 100 + os.urandom(8 * 200_000)}), 413,
                       "200,000 features"),
}


@pytest.mark.parametrize("case", sorted(ZIPS))
@pytest.mark.parametrize("form_name", ["gis import", "zone", "conflict check"])
def test_zip_checks_apply_to_every_zipped_shapefile_upload(site, form_name, case):
    post, user, _endings, _reason = FORMS[form_name]
    data, status, words = ZIPS[case]
    client = _client(site, user)
    before = _stored(site)
    response = post(site, client, data, "roads.zip")
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == status, page[:500]
    assert words in page
    assert _stored(site) == before


WORKBOOK_BOMB = _zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": b" " * (20 * 1024 * 1024)})


@pytest.mark.parametrize("form_name, status", [("gis import", 413), ("ledger", 400)])
def test_a_workbook_that_is_a_zip_bomb_is_refused_before_openpyxl(site, form_name, status):
    post, user, _endings, _reason = FORMS[form_name]
    client = _client(site, user)
    before = _stored(site)
    response = post(site, client, WORKBOOK_BOMB, "facilities.xlsx")
    assert response.status_code == status and "zip bomb" in response.get_data(as_text=True)
    assert _stored(site) == before


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels in its header and holds one empty row of data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_a_fifty_thousand_pixel_square_png_is_refused_as_a_scan(site):
    client = _client(site, "mgr")
    before = _stored(site)
    response = _scan(site, client, _png_header(50_000, 50_000), "consent.png")
    page = response.get_data(as_text=True)
    assert response.status_code == 413 and "too many pixels" in page
    assert _stored(site) == before


def test_a_picture_bomb_in_a_public_report_is_told_too_many_pixels(site):
    client = _client(site, None)
    response = _report(site, client, _png_header(50_000, 50_000), "photo.png")
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "照片像素过多" in page and "照片须为 JPEG 或 PNG 格式，且不超过 5 MB" not in page
    with site["store"].session() as s:
        assert s.scalar(select(func.count(ProblemReport.id))) == 0


def test_a_public_report_is_rate_limited_before_its_photo_is_decoded(site):
    client = _client(site, None)
    for n in range(3):  # the bucket holds three reports
        ok = _report(site, client, jpeg(), f"ok{n}.jpg")
        assert ok.status_code == 303
    # A picture bomb after the bucket is empty is answered by the rate limit: it was never looked at.
    response = _report(site, client, _png_header(50_000, 50_000), "bomb.png")
    assert response.status_code == 429 and "提交过于频繁" in response.get_data(as_text=True)


def test_an_upload_over_the_form_limit_is_a_413_naming_it(store_url, tmp_path):
    application = make_app(store_url, UPLOAD_MAX_MB="0.01")
    application.instance_path = str(tmp_path / "instance")
    store = application.extensions["registry_store"]
    people(store)
    client = application.test_client()
    client.post("/login", data={"username": "planner1", "password": "planner1-password"})
    body = b'{"type": "FeatureCollection", "features": []}' + b" " * 20_000
    response = multipart(client, "/gis/import/preview", {"kind": "facilities", "crs": "EPSG:4326",
                                                          "file": (io.BytesIO(body), "big.geojson")})
    assert response.status_code == 413 and "0.01 MB" in response.get_data(as_text=True)
    store.dispose()


def test_a_request_over_the_request_limit_is_a_413_naming_it(store_url, tmp_path):
    application = make_app(store_url, MAX_REQUEST_MB="0.01")
    application.instance_path = str(tmp_path / "instance")
    store = application.extensions["registry_store"]
    people(store)
    client = application.test_client()
    client.post("/login", data={"username": "planner1", "password": "planner1-password"})
    response = multipart(client, "/plan/checks", {"project_name": "道路",
                                                   "file": (io.BytesIO(b" " * 50_000), "road.geojson")})
    assert response.status_code == 413 and "0.01 MB" in response.get_data(as_text=True)
    store.dispose()

"""The upload checks: a file is only what its name claims, pointers are refused, GDAL is fenced, KML/XLSX traps fail."""

from __future__ import annotations

import codecs
import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from geodata.readers import ReadError, read_geometries
from geodata.sniff import Limits, UploadRefused, check_file, decode_xml, gdal_read

VRT = (b'<OGRVRTDataSource><OGRVRTLayer name="passwd"><SrcDataSource>CSV:/etc/passwd</SrcDataSource>'
       b"<SrcLayer>passwd</SrcLayer></OGRVRTLayer></OGRVRTDataSource>")
POINTERS = {
    "vrt": (VRT, "virtual dataset"),
    "vrt raster": (b'<VRTDataset rasterXSize="1" rasterYSize="1"></VRTDataset>', "virtual dataset"),
    "vrt in utf-16": (codecs.BOM_UTF16_LE + VRT.decode().encode("utf-16-le"), "virtual dataset"),
    "path": (b"/etc/passwd", "file path"),
    "windows path": (b"C:\\Windows\\win.ini", "file path"),
    "vsi": (b"/vsizip//tmp/x.zip/a.shp", "GDAL virtual file"),
    "url": (b"https://example.invalid/data.geojson", "address"),
    "ftp": (b"ftp://127.0.0.1/x", "address"),
    "postgres": (b"PG:dbname=registry host=127.0.0.1", "connection string"),
    "mysql": (b"MySQL:registry,user=root", "connection string"),
    "odbc": (b"ODBC:dsn", "connection string"),
    "driver prefix": (b"CSV:/etc/passwd", "connection string"),
}
FORMATS = ("geojson", "gpkg", "shp", "xlsx", "kml", "csv", "image", "scan")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(POINTERS))
def test_a_pointer_is_refused_whatever_format_it_claims(tmp_path, case, fmt):
    data, words = POINTERS[case]
    path = tmp_path / "upload"
    path.write_bytes(data + b"\n")
    with pytest.raises(UploadRefused) as refused:
        check_file(path, fmt)
    assert refused.value.field == "file" and refused.value.status == 400
    assert words in refused.value.reason and "root:" not in refused.value.reason


def test_gdal_opens_a_geojson_claim_only_with_the_geojson_driver(tmp_path):
    # Even past the content checks, a VRT named .geojson is opened by the GeoJSON driver alone, which fails.
    path = tmp_path / "upload.geojson"
    path.write_bytes(VRT)
    with pytest.raises(Exception) as failed:
        gdal_read(path, "geojson")
    assert "root" not in str(failed.value)


def _geojson(**extra) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [], **extra}).encode()


@pytest.mark.parametrize("data, words", [
    (b"[1, 2, 3]", "starts with '{'"),
    (b'{"type": "Topology"}', "not FeatureCollection or Feature"),
    (b'{"type": "FeatureCollection", "features": [', "not valid JSON"),
    (_geojson(crs={"type": "link", "properties": {"href": "http://127.0.0.1:9/crs"}}), "a link or a path"),
    (_geojson(crs={"type": "name", "properties": {"name": "/etc/passwd"}}), "a link or a path"),
])
def test_geojson_must_be_a_feature_collection_without_pointers(tmp_path, data, words):
    path = tmp_path / "upload.geojson"
    path.write_bytes(data)
    with pytest.raises(UploadRefused, match=words.replace("(", r"\(")):
        check_file(path, "geojson")


def test_geojson_with_a_bom_and_an_epsg_name_is_accepted(tmp_path):
    path = tmp_path / "upload.geojson"
    path.write_bytes(codecs.BOM_UTF8 + b"\n  " + _geojson(crs={"type": "name", "properties": {"name": "EPSG:4498"}}))
    assert check_file(path, "geojson") == "geojson"


def test_a_sqlite_file_without_the_gpkg_application_id_is_not_a_geopackage(tmp_path):
    path = tmp_path / "plain.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(UploadRefused, match="no GPKG application id"):
        check_file(path, "gpkg")


def test_a_geopackage_with_a_view_is_refused(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    path = tmp_path / "plot.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(116.8, 25.2)], crs=4326).to_file(path, layer="t", engine="pyogrio")
    assert check_file(path, "gpkg") == "gpkg"
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIEW v AS SELECT * FROM t")
    db.close()
    with pytest.raises(UploadRefused, match="SQL views"):
        check_file(path, "gpkg")


def test_a_kml_network_link_is_refused():
    data = (b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><NetworkLink>'
            b"<Link><href>http://127.0.0.1:9/x.kml</href></Link></NetworkLink></Document></kml>")
    with pytest.raises(ReadError, match="NetworkLink"):
        read_geometries(data, "road.kml")


def test_an_xlsx_claim_needs_a_workbook_zip(tmp_path):
    path = tmp_path / "upload.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "hello")
    with pytest.raises(UploadRefused, match=r"no \[Content_Types\].xml"):
        check_file(path, "xlsx")


def test_too_many_zip_members_is_a_413(tmp_path):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for n in range(6):
            zf.writestr(f"f{n}.txt", "x")
    with pytest.raises(UploadRefused) as refused:
        check_file(path, "zip", Limits(zip_members=5))
    assert refused.value.status == 413 and "at most 5" in refused.value.reason


KML_DOCTYPE = ('<?xml version="1.0" encoding="{enc}"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>&x;</name></Document></kml>')


@pytest.mark.parametrize("encoding, bom", [("UTF-16", b""), ("UTF-16-LE", codecs.BOM_UTF16_LE),
                                           ("UTF-16-BE", codecs.BOM_UTF16_BE), ("UTF-8", codecs.BOM_UTF8)])
def test_a_kml_doctype_is_refused_in_every_encoding(encoding, bom):
    data = bom + KML_DOCTYPE.format(enc=encoding.split("-")[0] + "-" + encoding.split("-")[1]).encode(encoding)
    with pytest.raises(ReadError) as refused:
        read_geometries(data, "road.kml")
    assert refused.value.field == "file" and "entities" in str(refused.value)


ROAD_KML = ('<?xml version="1.0" encoding="UTF-16"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            "<Placemark><name>道路</name><LineString><coordinates>116.80,25.22 116.84,25.23</coordinates>"
            "</LineString></Placemark></Document></kml>")


def test_a_utf16_kml_without_a_doctype_is_read():
    result = read_geometries(ROAD_KML.encode("utf-16"), "road.kml")
    assert result.geometries[0].geom_type == "MultiLineString"


def test_a_kml_naming_a_vrt_in_a_comment_is_refused():
    data = b'<?xml version="1.0"?><kml><!-- <OGRVRTDataSource> --><Document/></kml>'
    with pytest.raises(ReadError, match="virtual dataset"):
        read_geometries(data, "road.kml")


def test_xml_is_decoded_by_its_bom_and_declaration():
    assert decode_xml(codecs.BOM_UTF8 + b"<kml/>") == "<kml/>"
    text = '<?xml version="1.0" encoding="GB18030"?><kml>道路</kml>'
    assert decode_xml(text.encode("gb18030")) == text


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, "PNG")
    return out.getvalue()


def test_an_image_claim_checks_the_signature(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(b"GIF89a" + b"\0" * 20)
    with pytest.raises(UploadRefused, match="not a JPEG, PNG or HEIC photo"):
        check_file(path, "image")
    path.write_bytes(_png(10, 10))
    assert check_file(path, "image") == "png"
    assert check_file(Path(path), "scan") == "png"

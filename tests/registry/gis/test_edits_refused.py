"""Edits made in QGIS: uploads refused naming the layer, the CRS or the row and field; nothing stored (both stores)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.models import EditBatch, ProvisionalEdit
from tests.registry.gis.test_edits_roundtrip import export, gdal_sql, signed_in, upload
from tests.registry.gis.test_edits_roundtrip import world as world  # noqa: F401 - the fixture


def _copy_export_record(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        rows = src.execute("SELECT key, value FROM registry_edit_export").fetchall()
        dst.execute("CREATE TABLE registry_edit_export (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        dst.executemany("INSERT INTO registry_edit_export VALUES (?, ?)", rows)
        dst.commit()


def _translated(path: Path, tmp_path: Path, *options: str) -> Path:
    """The export rewritten by ogr2ogr (another CRS, geometry type…) with its export record kept."""
    target = tmp_path / "rewritten.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", *options, str(target), str(path), "facilities"], check=True,
                   capture_output=True)
    _copy_export_record(path, target)
    return target


def _refused(client, store, path: Path, *expected: str) -> str:
    response = upload(client, path)
    text = response.get_data(as_text=True)
    assert response.status_code in (400, 404, 413), text
    assert 'id="upload-error"' in text
    for part in expected:
        assert part in text, f"{part!r} not in the refusal"
    with store.session() as s:
        assert s.scalar(select(func.count(ProvisionalEdit.id))) == 0
        assert set(s.scalars(select(EditBatch.state))) <= {"exported"}
    return text


def test_a_layer_that_was_not_exported(world, tmp_path):  # noqa: F811
    app, store, _ids, _other = world
    mgr = signed_in(app, "mgr")
    path = export(mgr, tmp_path)
    extra = tmp_path / "roads.geojson"
    extra.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"n": 1},
                     "geometry": {"type": "LineString", "coordinates": [[116.4, 25.0], [116.5, 25.1]]}}]}))
    subprocess.run(["ogr2ogr", "-update", "-nln", "roads", str(path), str(extra)], check=True, capture_output=True)
    _refused(mgr, store, path, "layer &#39;roads&#39; is not one that was exported")


def test_another_crs(world, tmp_path):  # noqa: F811
    app, store, _ids, _other = world
    mgr = signed_in(app, "mgr")
    path = _translated(export(mgr, tmp_path), tmp_path, "-t_srs", "EPSG:3857")
    _refused(mgr, store, path, "CRS EPSG:3857", "facilities")


def test_another_geometry_type(world, tmp_path):  # noqa: F811
    app, store, _ids, _other = world
    mgr = signed_in(app, "mgr")
    path = _translated(export(mgr, tmp_path), tmp_path, "-nlt", "MULTIPOINT")
    _refused(mgr, store, path, "MULTIPOINT geometries")


@pytest.mark.parametrize("column", ["id", "version"])
def test_missing_id_or_version(world, tmp_path, column):  # noqa: F811
    app, store, _ids, _other = world
    mgr = signed_in(app, "mgr")
    path = export(mgr, tmp_path)
    gdal_sql(path, f"ALTER TABLE facilities DROP COLUMN {column}")
    _refused(mgr, store, path, f"has no {column} column")


def test_a_row_of_another_county(world, tmp_path):  # noqa: F811
    app, store, ids, other = world
    mgr = signed_in(app, "mgr")
    path = export(mgr, tmp_path)
    gdal_sql(path, f"UPDATE facilities SET id = {other} WHERE id = {ids[2]}")
    _refused(mgr, store, path, "field id", f"{other} is a facility of county 350821")


def test_a_code_not_in_the_vocabulary(world, tmp_path):  # noqa: F811
    app, store, ids, _other = world
    mgr = signed_in(app, "mgr")
    path = export(mgr, tmp_path)
    gdal_sql(path, f"UPDATE facilities SET category = 'pagoda' WHERE id = {ids[1]}",
             f"UPDATE facilities SET level = 'galactic' WHERE id = {ids[3]}")
    _refused(mgr, store, path, "row 2, field category", "&#39;pagoda&#39;", "row 4, field level")


def test_a_renamed_row(world, tmp_path):  # noqa: F811
    app, store, ids, _other = world
    mgr = signed_in(app, "mgr")
    path = export(mgr, tmp_path)
    gdal_sql(path, f"UPDATE facilities SET name = '改名' WHERE id = {ids[0]}")
    _refused(mgr, store, path, "row 1, field name", "approved renaming")


def test_not_a_geopackage_and_not_an_export(world, tmp_path):  # noqa: F811
    app, store, _ids, _other = world
    mgr = signed_in(app, "mgr")
    fake = tmp_path / "fake.gpkg"
    fake.write_text("code,name\n1,a\n")
    _refused(mgr, store, fake, "not a GeoPackage")
    plain = _translated(export(mgr, tmp_path), tmp_path)
    with closing(sqlite3.connect(plain)) as db:
        db.execute("DROP TABLE registry_edit_export")
        db.commit()
    _refused(mgr, store, plain, "no export record")


def test_an_export_uploaded_twice(world, tmp_path):  # noqa: F811
    app, store, ids, _other = world
    mgr = signed_in(app, "mgr")
    path = export(mgr, tmp_path)
    gdal_sql(path, f"UPDATE facilities SET caretaker = '甲' WHERE id = {ids[0]}")
    assert upload(mgr, path).status_code == 303
    response = upload(mgr, path)
    assert response.status_code == 400 and "already uploaded" in response.get_data(as_text=True)
    with store.session() as s:
        assert s.scalar(select(func.count(ProvisionalEdit.id))) == 1



def test_a_new_row_with_a_code_already_used(world, tmp_path):  # noqa: F811
    app, store, ids, _other = world
    mgr = signed_in(app, "mgr")
    path = export(mgr, tmp_path)
    with store.session() as s:
        from registry.models import Facility

        code = s.get(Facility, ids[0]).code
    gdal_sql(path, "INSERT INTO facilities (geom, code, name, category, sign_present, land_title_registered, "
             "position_approximate) VALUES (AsGPB(ST_GeomFromText('POINT(116.45 25.06)', 4326)), "
             f"'{code}', '重复', 'monument', 0, 0, 0)")
    _refused(mgr, store, path, "row 6, field code", "is already the code of facility")

"""The embedded store is a valid GeoPackage that GDAL reads; bad stores get a clear message and stay untouched."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import psycopg
import pytest
from shapely import LineString, MultiPolygon, Point, box
from sqlalchemy.engine import make_url

from registry import StoreError, create_app
from registry.db import Store
from registry.migrate import head_revision, upgrade
from registry.models import Facility, FacilityZone, Relocation
from tests.conftest import PG_ADMIN_URL, make_app

REQUIRE_TOOLS = os.environ.get("REGISTRY_REQUIRE_TOOLS") == "1"


def validate(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(path)],
                          capture_output=True, text=True, timeout=120)


def ogrinfo(*args) -> str:
    if shutil.which("ogrinfo") is None:
        if REQUIRE_TOOLS:
            pytest.fail("ogrinfo is required in CI (apt-get install gdal-bin)")
        pytest.skip("ogrinfo not installed (apt-get install gdal-bin)")
    return subprocess.run(["ogrinfo", *args], capture_output=True, text=True, timeout=120, check=True).stdout


def write_sample(store: Store) -> None:
    with store.write_session() as session:
        facility = Facility(code="T-1", name="古田会议会址", category="memorial_hall", level="national",
                            county_code="350823", geom=Point(116.818, 25.225))
        session.add(facility)
        session.flush()
        session.add(FacilityZone(facility_id=facility.id, kind="protection_range",
                                 geom=MultiPolygon([box(116.815, 25.223, 116.821, 25.227)])))
        session.add(Relocation(code="R-1", geom=LineString([(116.6, 25.1), (116.818, 25.225)]), effects=["铜扣"]))
        session.commit()
        facility.name = "古田会议旧址"
        session.commit()


def test_new_registry_is_a_valid_geopackage_after_writes(tmp_path):
    path = tmp_path / "registry.gpkg"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    write_sample(store)
    store.dispose()
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert con.execute("PRAGMA user_version").fetchone()[0] == 10400
    layers = {r[0]: r[1] for r in con.execute("SELECT table_name, data_type FROM gpkg_contents")}
    con.close()
    assert {"facilities", "facility_zones", "tombs", "relocations", "heritage_sites", "inspections",
            "plan_zones"} <= set(layers)
    assert "users" not in layers and "audit_events" not in layers


def test_gdal_reads_the_layers_and_counts(tmp_path):
    path = tmp_path / "registry.gpkg"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    write_sample(store)
    out = ogrinfo("-ro", "-so", "-oo", "LIST_ALL_TABLES=NO", str(path), "facilities")
    assert "Feature Count: 1" in out and "Geometry: Point" in out
    out = ogrinfo("-ro", "-oo", "LIST_ALL_TABLES=NO", str(path), "facilities")
    assert "古田会议旧址" in out
    out = ogrinfo("-ro", "-so", "-oo", "LIST_ALL_TABLES=NO", str(path), "relocations")
    assert "Geometry: Line String" in out and "Feature Count: 1" in out
    # A spatial filter through the GeoPackage R*Tree finds the facility and misses it elsewhere.
    inside = ogrinfo("-ro", "-so", "-spat", "116.8", "25.2", "116.9", "25.3", str(path), "facilities")
    outside = ogrinfo("-ro", "-so", "-spat", "117.0", "25.0", "117.1", "25.1", str(path), "facilities")
    assert "Feature Count: 1" in inside and "Feature Count: 0" in outside


def test_rtree_follows_geometry_edits_made_outside_the_app(tmp_path):
    path = tmp_path / "registry.gpkg"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    write_sample(store)
    store.dispose()
    # GDAL edits the file the way QGIS would; the triggers must keep the index current.
    if shutil.which("ogrinfo") is None:
        pytest.skip("ogrinfo not installed (apt-get install gdal-bin)")
    moved = "AsGPB(ST_GeomFromText('POINT(117.5 26.5)', 4326))"
    subprocess.run(["ogrinfo", str(path), "-sql", f"UPDATE facilities SET geom = {moved} WHERE code = 'T-1'"],
                   capture_output=True, text=True, check=True)
    con = sqlite3.connect(path)
    minx, miny = con.execute("SELECT minx, miny FROM rtree_facilities_geom").fetchone()
    con.close()
    assert abs(minx - 117.5) < 1e-4 and abs(miny - 26.5) < 1e-4


def test_a_text_file_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "registry.gpkg"
    path.write_bytes(b"name,lon,lat\n")
    with pytest.raises(StoreError, match="not a SQLite/GeoPackage file"):
        make_app(f"sqlite:///{path}")
    assert path.read_bytes() == b"name,lon,lat\n"


def test_a_plain_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a GeoPackage"):
        make_app(f"sqlite:///{path}")


def test_a_foreign_geopackage_is_refused(tmp_path):
    from registry import gpkg

    path = tmp_path / "roads.gpkg"
    gpkg.create_file(path)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE roads (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="is a GeoPackage but not a registry"):
        make_app(f"sqlite:///{path}")


def test_a_missing_registry_is_never_created_silently(tmp_path):
    path = tmp_path / "typo" / "registy.gpkg"
    app = make_app(f"sqlite:///{path}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "There is no registry at" in response.get_json()["message"]
    assert not path.exists() and not path.parent.exists()


@pytest.mark.parametrize("url, message", [
    ("not a url", "is not a database URL"),
    ("mysql://root@127.0.0.1/test", "names a 'mysql' database"),
    ("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "Cannot connect to the PostgreSQL registry"),
])
def test_a_wrong_database_url_gets_a_clear_message(url, message):
    with pytest.raises(StoreError, match=message):
        create_app({"DATABASE_URL": url})


def test_the_cli_exits_non_zero_with_the_message(tmp_path):
    path = tmp_path / "registry.gpkg"
    path.write_text("hello")
    env = {**os.environ, "REGISTRY_DATABASE_URL": f"sqlite:///{path}"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "registry", "db", "check"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "not a SQLite/GeoPackage file" in result.stderr
    assert "Traceback" not in result.stderr


def test_postgres_where_postgis_cannot_be_enabled(postgis_template):
    """A role that may not create the extension gets told how to fix it, and nothing is created."""
    admin = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS registry_nopostgis")
        con.execute("DROP ROLE IF EXISTS registry_plain")
        con.execute("CREATE ROLE registry_plain LOGIN")
        con.execute("CREATE DATABASE registry_nopostgis OWNER postgres")
    try:
        url = make_url(PG_ADMIN_URL).set(username="registry_plain", database="registry_nopostgis")
        store = Store(url.render_as_string(hide_password=False))
        with pytest.raises(StoreError, match="could not be enabled"):
            upgrade(store)
        store.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute("DROP DATABASE IF EXISTS registry_nopostgis WITH (FORCE)")
            con.execute("DROP ROLE IF EXISTS registry_plain")


def test_healthz_names_the_store_and_revision(any_app):
    body = any_app.test_client().get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["schema_revision"] == head_revision()
    assert body["store"] == any_app.extensions["registry_store"].kind


def test_demo_load_command_builds_a_registry_gdal_reads(tmp_path):
    """`flask demo load` on a fresh path: a valid GeoPackage whose relocations layer holds every journey."""
    from registry.demo import generate

    journeys = generate().counts["relocations"]  # Longyan's 4,377 and the second city's few
    path = tmp_path / "instance" / "registry.gpkg"
    app = make_app(f"sqlite:///{path}")
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert f"relocations {journeys}" in result.output
    again = app.test_cli_runner().invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and "already holds data" in again.output
    app.extensions["registry_store"].dispose()
    out = ogrinfo("-ro", "-so", "-oo", "LIST_ALL_TABLES=NO", str(path), "relocations")
    assert f"Feature Count: {journeys}" in out
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_users_can_sign_in_only_in_the_demo(tmp_path):
    path = tmp_path / "registry.gpkg"
    app = make_app(f"sqlite:///{path}")
    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    client = app.test_client()
    response = client.post("/login", data={"username": "manager", "password": "demo-manager-pass"})
    assert response.status_code == 302
    app.extensions["registry_store"].dispose()
    with pytest.raises(Exception, match="demo users"):
        make_app(f"sqlite:///{path}", ENV="production", SECRET_KEY="a-long-random-production-secret")


def test_an_oversized_upload_is_refused_with_a_message(gpkg_url):
    app = make_app(gpkg_url, MAX_CONTENT_LENGTH=1024 * 1024)
    response = app.test_client().post("/login", data={"username": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "larger than the 1 MB" in response.get_data(as_text=True)

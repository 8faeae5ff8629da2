"""The demo's service stations: Longyan's figures (2,086 stations, 92 national models, 23 provincial advanced
units), a centre per county and a station per township, marked demo; and the layer GDAL lists in the file."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import func, select

from registry import demo as demo_data
from registry.models import ServiceStation
from registry.services.demo import load_demo
from tests.factories import assert_valid_geopackage


def _count(store, *where) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(ServiceStation).where(*where))


def test_longyan_has_the_seed_figures(demo):
    _app, store, _people = demo
    longyan = tuple(c.code for c in demo_data.longyan_counties())
    in_longyan = ServiceStation.county_code.in_(longyan)
    assert _count(store, in_longyan) == 2086
    assert _count(store, in_longyan, ServiceStation.demonstration == "national_model") == 92
    assert _count(store, in_longyan, ServiceStation.demonstration == "provincial_advanced") == 23
    assert _count(store, in_longyan, ServiceStation.level == "city") == 1
    assert _count(store, in_longyan, ServiceStation.level == "county") == 7
    townships = sum(len(c.townships) for c in demo_data.longyan_counties())
    assert _count(store, in_longyan, ServiceStation.level == "township") == townships
    assert _count(store, in_longyan, ServiceStation.level == "village") == 2086 - 1 - 7 - townships
    # Everything is demo data with an approximate position, its name marked as such.
    assert _count(store, ServiceStation.is_demo.is_(False)) == 0
    assert _count(store, ServiceStation.position_approximate.is_(False)) == 0
    assert _count(store, ~ServiceStation.name.contains(demo_data.DEMO_MARK)) == 0


def test_every_county_has_its_centre_and_every_township_its_station(demo):
    _app, store, _people = demo
    with store.session() as s:
        centres = s.scalars(select(ServiceStation.county_code).where(ServiceStation.level == "county")).all()
        townships = set(s.execute(select(ServiceStation.county_code, ServiceStation.township)
                                  .where(ServiceStation.level == "township")).all())
    counties = demo_data.generate().county_list
    assert sorted(centres) == sorted(c.code for c in counties)
    assert townships == {(c.code, t) for c in counties for t in c.townships}


def test_gdal_lists_the_stations_layer_of_a_demo_file(store, tmp_path):
    if shutil.which("ogrinfo") is None:
        pytest.skip("ogrinfo not installed (apt-get install gdal-bin)")
    counts = load_demo(store)
    path = store.path
    store.dispose()  # GDAL reads the file in its own process once the app has let go of it
    listed = subprocess.run(["ogrinfo", "-ro", "-q", "-oo", "LIST_ALL_TABLES=NO", str(path)],
                            capture_output=True, text=True, timeout=120, check=True).stdout
    assert "service_stations (Point)" in listed
    summary = subprocess.run(["ogrinfo", "-ro", "-so", "-oo", "LIST_ALL_TABLES=NO", str(path), "service_stations"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    assert f"Feature Count: {counts['service_stations']}" in summary and "Geometry: Point" in summary
    # The R*Tree answers a box around the demo's first city centre.
    near = subprocess.run(["ogrinfo", "-ro", "-so", "-spat", "117.01", "25.07", "117.02", "25.08", str(path),
                           "service_stations"], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "Feature Count: 0" not in near
    assert_valid_geopackage(path)

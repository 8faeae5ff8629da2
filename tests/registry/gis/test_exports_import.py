"""Imports of facilities and tombs from GIS files: dry-run preview, atomic writes, problems named by row."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point
from sqlalchemy import func, select

from geodata.exports import export
from registry.models import AuditEvent, Facility, Tomb
from registry.services import Actor
from registry.services.base import Forbidden, InvalidInput
from registry.services.gis.imports import import_features

ADMIN = Actor.system("admin")


def _facilities(**overrides) -> gpd.GeoDataFrame:
    data = {"code": ["I1", "I2"], "name": ["才溪乡调查纪念馆", "瞿秋白烈士纪念碑"],
            "category": ["memorial_hall", "monument"], "county_code": ["350823", "350821"],
            "level": ["national", "national"]}
    data.update(overrides)
    return gpd.GeoDataFrame(data, geometry=[Point(116.45, 25.0), Point(116.37, 25.83)], crs=4326)


def _count(store, model) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "csv"])
def test_dry_run_then_import_facilities(any_store, fmt):
    data = export(_facilities(), fmt, "facilities")
    preview = import_features(any_store, ADMIN, "facilities", data, fmt, dry_run=True)
    assert preview.ok and preview.rows == 2 and preview.created == 0
    assert _count(any_store, Facility) == 0
    done = import_features(any_store, ADMIN, "facilities", data, fmt, dry_run=False)
    assert done.created == 2
    with any_store.session() as s:
        names = sorted(s.scalars(select(Facility.name)))
        assert names == ["才溪乡调查纪念馆", "瞿秋白烈士纪念碑"]
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import")) == 2


def test_tombs_by_facility_code(any_store):
    import_features(any_store, ADMIN, "facilities", export(_facilities(), "gpkg", "f"), "gpkg", dry_run=False)
    tombs = gpd.GeoDataFrame({"facility_code": ["I1", "I1"], "plot_row": ["1", "1"], "plot_number": ["1", "2"]},
                             geometry=[Point(116.4501, 25.0001), Point(116.4502, 25.0001)], crs=4326)
    report = import_features(any_store, ADMIN, "tombs", export(tombs, "gpkg", "t"), "gpkg", dry_run=False)
    assert report.created == 2 and _count(any_store, Tomb) == 2


@pytest.mark.parametrize("overrides, field", [
    ({"category": ["memorial_hall", "castle"]}, "category"),
    ({"county_code": ["350823", "999999"]}, "county_code"),
    ({"code": ["I1", "I1"]}, "code"),
    ({"name": ["才溪", None]}, "name"),
])
def test_one_bad_row_writes_nothing(any_store, overrides, field):
    data = export(_facilities(**overrides), "gpkg", "facilities")
    report = import_features(any_store, ADMIN, "facilities", data, "gpkg", dry_run=False)
    assert not report.ok and report.created == 0
    assert [p[1] for p in report.problems] == [field]
    assert "row 2" in report.problems[0][2]
    assert _count(any_store, Facility) == 0


def test_bad_files_and_callers(store):
    with pytest.raises(InvalidInput, match="cannot be read"):
        import_features(store, ADMIN, "facilities", b"not a geopackage", "gpkg")
    with pytest.raises(InvalidInput, match="format"):
        import_features(store, ADMIN, "facilities", b"", "dxf")
    with pytest.raises(Forbidden):
        import_features(store, Actor(name="visitor"), "facilities", b"", "gpkg")
    report = import_features(store, ADMIN, "facilities", export(_facilities(colour=["红", "蓝"]), "gpkg", "x"), "gpkg")
    assert report.problems[0][1] == "colour"
    outside = _facilities()
    outside.geometry = [Point(0.0, 0.0), Point(116.37, 25.83)]
    report = import_features(store, ADMIN, "facilities", export(outside, "gpkg", "x"), "gpkg", dry_run=False)
    assert report.problems[0][1] == "position" and _count(store, Facility) == 0

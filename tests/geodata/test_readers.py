"""Reading uploaded outlines: every format, and every bad input refused with a clear message."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Polygon

from geodata.readers import ReadError, list_layers, read_geometries

ROAD = LineString([(116.80, 25.22), (116.84, 25.23)])
PLOT = Polygon([(116.81, 25.22), (116.82, 25.22), (116.82, 25.23), (116.81, 25.23)])
BOWTIE = Polygon([(116.81, 25.22), (116.82, 25.23), (116.82, 25.22), (116.81, 25.23)])


def _geojson(*geoms) -> bytes:
    features = [{"type": "Feature", "properties": {"name": f"f{i}"}, "geometry": g.__geo_interface__}
                for i, g in enumerate(geoms)]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _written(tmp_path, frame: gpd.GeoDataFrame, name: str, **kwargs) -> bytes:
    path = tmp_path / name
    frame.to_file(path, engine="pyogrio", **kwargs)
    return path.read_bytes()


def _zipped_shapefile(tmp_path, frame: gpd.GeoDataFrame) -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "road.shp", engine="pyogrio")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in folder.iterdir():
            zf.write(part, f"road/{part.name}")
    return buffer.getvalue()


def test_geojson_line_is_read_as_lonlat():
    result = read_geometries(_geojson(ROAD), "road.geojson")
    assert result.geometries[0].geom_type == "MultiLineString"
    assert result.geometries[0].equals(ROAD)
    assert result.attributes[0]["name"] == "f0"


def test_projected_geopackage_is_converted(tmp_path):
    frame = gpd.GeoDataFrame({"name": ["plot"]}, geometry=[PLOT], crs="EPSG:4326").to_crs("EPSG:4498")
    result = read_geometries(_written(tmp_path, frame, "plot.gpkg", layer="plots"), "plot.gpkg")
    assert result.source_crs == "EPSG:4498"
    assert result.geometries[0].symmetric_difference(PLOT).area < 1e-12
    assert "converted from EPSG:4498" in result.notes[0]


def test_zipped_shapefile_is_read(tmp_path):
    frame = gpd.GeoDataFrame({"name": ["road"]}, geometry=[ROAD], crs="EPSG:4326")
    result = read_geometries(_zipped_shapefile(tmp_path, frame), "road.zip")
    assert result.format == "zipped Shapefile"
    assert result.geometries[0].hausdorff_distance(ROAD) < 1e-9


def test_kml_is_read(tmp_path):
    kml = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>road</name>
<LineString><coordinates>{" ".join(f"{x},{y}" for x, y in ROAD.coords)}</coordinates></LineString>
</Placemark></Document></kml>""".encode()
    result = read_geometries(kml, "road.kml")
    assert result.geometries[0].hausdorff_distance(ROAD) < 1e-9


def test_gcj02_declared_by_the_planner_is_shifted():
    result = read_geometries(_geojson(ROAD), "road.geojson", crs="GCJ-02")
    # GCJ-02 is offset by a few hundred metres here: the stored line moves back by that much.
    assert 0.001 < result.geometries[0].hausdorff_distance(ROAD) < 0.01


def test_self_intersection_repaired_on_request():
    result = read_geometries(_geojson(BOWTIE), "plot.geojson", repair=True)
    assert result.geometries[0].is_valid
    assert "repaired" in result.notes[0]


def test_multilayer_geopackage_lists_and_reads_the_chosen_layer(tmp_path):
    path = tmp_path / "two.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[ROAD], crs="EPSG:4326").to_file(path, layer="roads")
    gpd.GeoDataFrame({"n": [2]}, geometry=[PLOT], crs="EPSG:4326").to_file(path, layer="plots")
    data = path.read_bytes()
    assert sorted(list_layers(data, "two.gpkg")) == ["plots", "roads"]
    with pytest.raises(ReadError) as err:
        read_geometries(data, "two.gpkg")
    assert err.value.field == "layer" and "choose" in str(err.value)
    assert sorted(err.value.choices) == ["plots", "roads"]
    assert read_geometries(data, "two.gpkg", layer="plots").geometries[0].geom_type == "MultiPolygon"


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


BAD = [
    ("empty", b"", "road.geojson", "file", "empty"),
    ("zip slip", _zip({"../../evil.shp": b"x"}), "road.zip", "file", "zip slip"),
    ("absolute path", _zip({"/etc/evil.shp": b"x"}), "road.zip", "file", "outside"),
    ("zip bomb", _zip({"bomb.shp": b"\0" * (30 * 1024 * 1024)}), "road.zip", "file", "zip bomb"),
    ("kml entity", b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   b'<kml><Document><name>&x;</name></Document></kml>', "road.kml", "file", "entities"),
    ("projected in lon/lat", _geojson(LineString([(20480000.0, 2790000.0), (20484000.0, 2791000.0)])),
     "road.geojson", "crs", "projected metres"),
    ("self-intersection", _geojson(BOWTIE), "plot.geojson", "geometry (feature 1)", "crosses itself"),
    ("unknown format", b"hello", "road.txt", "file", "not a supported file"),
    ("not a zip", b"PK-not-really", "road.zip", "file", "damaged"),
    ("zip without shapefile", _zip({"readme.txt": b"hello"}), "road.zip", "file", "no Shapefile"),
    ("no features", _geojson(), "road.geojson", "file", "no geometry"),
    ("not a geopackage", b"hello world", "road.gpkg", "file", "not a GeoPackage"),
]


@pytest.mark.parametrize(("data", "filename", "field", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_uploads_are_refused_with_a_clear_message(data, filename, field, words):
    with pytest.raises(ReadError) as err:
        read_geometries(data, filename)
    assert err.value.field == field
    assert words in str(err.value)


def test_self_intersection_names_the_place():
    with pytest.raises(ReadError) as err:
        read_geometries(_geojson(BOWTIE), "plot.geojson")
    lon, lat = err.value.location
    assert abs(lon - 116.815) < 1e-6 and abs(lat - 25.225) < 1e-6

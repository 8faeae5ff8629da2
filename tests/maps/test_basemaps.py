"""Base maps chosen by configuration, and the settings they refuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import folium
import pytest

from maps.basemaps import BasemapConfigError, add_basemap, basemap_from_settings
from maps.shell import build_overview_map, render_parts

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("settings", "kind", "layers", "shift", "hosts"),
    [
        ({}, "osm", 1, False, {"tile.openstreetmap.org", "www.openstreetmap.org"}),
        ({"BASEMAP": "none"}, "none", 0, False, set()),
        ({"BASEMAP": "NONE", "BASEMAP_CRS": "GCJ-02"}, "none", 0, False, set()),
        ({"BASEMAP": "osm", "BASEMAP_CRS": "EPSG:4490"}, "osm", 1, False, {"tile.openstreetmap.org",
                                                                            "www.openstreetmap.org"}),
        ({"BASEMAP": "tianditu", "TIANDITU_KEY": "abc123"}, "tianditu", 2, False,
         {"t{s}.tianditu.gov.cn", "www.tianditu.gov.cn"}),
        ({"BASEMAP": "xyz", "BASEMAP_URL": "http://10.1.2.3:8080/wmts/{z}/{y}/{x}.png"}, "xyz", 1, False,
         {"10.1.2.3:8080"}),
        ({"BASEMAP": "xyz", "BASEMAP_URL": "https://gis.example/{z}/{x}/{y}.png", "BASEMAP_CRS": "gcj02"}, "xyz", 1,
         True, {"gis.example"}),
        ({"BASEMAP": "xyz", "BASEMAP_URL": "/tiles/{z}/{x}/{-y}.png", "BASEMAP_CRS": "GCJ-02"}, "xyz", 1, True, set()),
    ],
)
def test_basemap_from_settings(settings, kind, layers, shift, hosts):
    basemap = basemap_from_settings(settings)

    assert (basemap.kind, len(basemap.layers), basemap.needs_gcj_shift, set(basemap.hosts)) == (
        kind, layers, shift, hosts)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"BASEMAP": "google"}, "REGISTRY_BASEMAP='google' is not one of osm, tianditu, xyz, mbtiles, none"),
        ({"BASEMAP": "tianditu"}, "needs REGISTRY_TIANDITU_KEY"),
        ({"BASEMAP": "tianditu", "TIANDITU_KEY": "abc&evil=1"}, "REGISTRY_TIANDITU_KEY holds characters"),
        ({"BASEMAP": "tianditu", "TIANDITU_KEY": "k", "BASEMAP_CRS": "GCJ-02"}, "serves WGS 84 / CGCS2000 tiles"),
        ({"BASEMAP": "osm", "BASEMAP_CRS": "GCJ-02"}, "REGISTRY_BASEMAP=osm serves WGS 84"),
        ({"BASEMAP": "xyz"}, "needs REGISTRY_BASEMAP_URL"),
        ({"BASEMAP": "xyz", "BASEMAP_URL": "http://gis/tiles.png"}, "lacks {z}, {x} or {y}"),
        ({"BASEMAP": "xyz", "BASEMAP_URL": "ftp://gis/{z}/{x}/{y}.png"}, "must start with http://, https:// or /"),
        ({"BASEMAP": "osm", "BASEMAP_CRS": "BD-09"}, "BD-09 base maps are not supported"),
    ],
)
def test_bad_settings_say_which_setting(settings, message):
    with pytest.raises(BasemapConfigError) as info:
        basemap_from_settings(settings)

    assert message in str(info.value)


def test_tianditu_layers_are_vector_then_labels_with_the_key():
    basemap = basemap_from_settings({"BASEMAP": "tianditu", "TIANDITU_KEY": "abc123"})
    vector, labels = basemap.layers

    assert "/vec_w/wmts?" in vector.url and "LAYER=vec" in vector.url and vector.url.endswith("tk=abc123")
    assert "/cva_w/wmts?" in labels.url and "LAYER=cva" in labels.url and labels.url.endswith("tk=abc123")
    assert "{z}" in vector.url and "TILEROW={y}" in vector.url and "TILECOL={x}" in vector.url
    assert (vector.overlay, labels.overlay) == (False, True)
    assert "天地图" in vector.attribution
    assert vector.subdomains == "01234567"


def test_layer_names_follow_the_labels_given():
    labels = {"tianditu": "Tianditu map", "tianditu_labels": "Tianditu labels"}
    basemap = basemap_from_settings({"BASEMAP": "tianditu", "TIANDITU_KEY": "k"}, labels)

    script = render_parts(build_overview_map({}, basemap=basemap)).script

    assert '"Tianditu map" : tile_layer_' in script
    assert '"Tianditu labels" : tile_layer_' in script


def test_add_basemap_puts_each_tile_url_in_the_page():
    m = folium.Map(tiles=None)
    added = add_basemap(m, basemap_from_settings({"BASEMAP": "xyz", "BASEMAP_URL": "/tiles/{z}/{x}/{y}.png"}))

    assert len(added) == 1
    assert '"/tiles/{z}/{x}/{y}.png"' in m.get_root().render()


def test_overview_map_has_scale_and_layer_control_but_no_features():
    parts = render_parts(build_overview_map({"BASEMAP": "none"}, center=(25.07, 117.02), zoom=11))

    assert "center: [25.07, 117.02]" in parts.script
    assert '"zoom": 11' in parts.script
    assert "L.control.scale(" in parts.script and '"imperial": false' in parts.script
    assert "L.control.layers(" in parts.script
    for feature in ("L.marker(", "L.geoJson(", "L.circleMarker(", "L.polygon("):
        assert feature not in parts.script
    assert f'id="{parts.map_id}"' in parts.html


def test_maps_imports_neither_flask_nor_a_database_nor_the_app():
    code = (
        "import sys, maps; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'sqlalchemy', 'registry', 'werkzeug'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)

    assert result.stdout.strip() == "[]"

"""A rendered map loads its scripts, stylesheets, fonts and icons from this server and nowhere else."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import folium
import pytest
from folium import plugins

from maps.assets import LOCAL_ASSETS, UnknownAssetError, asset_url, use_local_assets, vendor_paths
from maps.basemaps import basemap_from_settings
from maps.drawing import DrawOutline
from maps.shell import build_overview_map, render_parts
from tests.factories import installed_vendor

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL_URL = re.compile(r"https?://[^\s\"'<>\\)]+")
VENDOR_URL = re.compile(r"/static/vendor/[^\s\"'<>\\)?#]+")
# A quoted data: URI fetches nothing, and a url(%23...) inside an inline SVG (geoman's icons) points
# into that SVG, not at a file: such URIs are dropped whole before a stylesheet's references are read.
DATA_URI = re.compile(r"""url\(\s*(['"])data:.*?\1\s*\)""", re.S)
CSS_REF = re.compile(r"url\(\s*['\"]?([^'\")]+)")

BASEMAP_SETTINGS = [
    {"BASEMAP": "none"},
    {"BASEMAP": "osm"},
    {"BASEMAP": "tianditu", "TIANDITU_KEY": "0123456789abcdef"},
    {"BASEMAP": "xyz", "BASEMAP_URL": "http://tiles.intranet.example/{z}/{x}/{y}.png", "BASEMAP_CRS": "GCJ-02"},
    {"BASEMAP": "xyz", "BASEMAP_URL": "/tiles/base/{z}/{x}/{y}.png"},
]


def page_of(parts) -> str:
    return "\n".join([parts.header, parts.html, parts.script])


def with_drawing(m: folium.Map) -> folium.Map:
    """The planners' drawing tools (leaflet-geoman), as the zone and conflict-check pages add them."""
    DrawOutline("geojson", ("line", "polygon")).add_to(m)
    return m


def with_markers(m: folium.Map) -> folium.Map:
    """The kinds of content other pages add: default and Font Awesome icons, a rotated icon, a cluster."""
    cluster = plugins.MarkerCluster(name="cluster").add_to(m)
    folium.Marker((25.08, 117.02), icon=folium.Icon()).add_to(cluster)
    folium.Marker((25.1, 116.9), icon=folium.Icon(icon="monument", prefix="fa", angle=45)).add_to(m)
    return m


@pytest.mark.parametrize("settings", BASEMAP_SETTINGS, ids=lambda s: s["BASEMAP"] + ":" + s.get("BASEMAP_URL", ""))
def test_rendered_map_names_no_host_but_the_base_map(settings):
    basemap = basemap_from_settings(settings)
    page = page_of(render_parts(with_markers(build_overview_map(settings))))

    hosts = {urlsplit(url).netloc for url in EXTERNAL_URL.findall(page)}

    assert hosts <= basemap.hosts, f"unexpected hosts {hosts - basemap.hosts}"
    assert "/static/vendor/leaflet/leaflet.js" in page


def test_no_base_map_means_no_external_url_at_all():
    page = page_of(render_parts(build_overview_map({"BASEMAP": "none"})))

    assert EXTERNAL_URL.findall(page) == []


def test_layout_keeps_its_own_viewport_and_charset():
    header = render_parts(build_overview_map({"BASEMAP": "none"})).header

    assert "user-scalable" not in header
    assert "charset" not in header
    assert "html, body" not in header


@pytest.mark.parametrize("settings", BASEMAP_SETTINGS[:2], ids=lambda s: s["BASEMAP"])
def test_drawing_tools_load_from_this_server(settings):
    basemap = basemap_from_settings(settings)
    page = page_of(render_parts(with_drawing(build_overview_map(settings))))

    hosts = {urlsplit(url).netloc for url in EXTERNAL_URL.findall(page)}

    assert hosts <= basemap.hosts, f"unexpected hosts {hosts - basemap.hosts}"
    assert '<script src="/static/vendor/leaflet-geoman-free/leaflet-geoman.min.js"></script>' in page
    assert "/static/vendor/leaflet-geoman-free/leaflet-geoman.css" in page


def test_folium_own_geoman_plugin_is_served_locally_too():
    m = build_overview_map({"BASEMAP": "none"})
    plugins.GeoMan().add_to(m)

    page = page_of(render_parts(m))

    assert EXTERNAL_URL.findall(page) == []
    assert "/static/vendor/leaflet-geoman-free/leaflet-geoman.min.js" in page


def test_stylesheet_scan_skips_inline_svg_but_not_files():
    """The data: URI rule above must not hide a real reference written after an inline SVG."""
    css = """a { background: url('data:image/svg+xml,<svg><use href="url(%23x)"/></svg>'); }
b { background: url(images/missing.png); }"""
    assert CSS_REF.findall(DATA_URI.sub("url(data:)", css)) == ["data:", "images/missing.png"]


def test_localizing_one_map_leaves_folium_defaults_alone():
    before = list(folium.Map.default_js)

    render_parts(build_overview_map({"BASEMAP": "none"}))

    assert folium.Map.default_js == before
    assert folium.Map().default_js[0][1].startswith("https://")


def test_a_plugin_without_a_local_copy_is_refused_by_name():
    m = build_overview_map({"BASEMAP": "none"})
    plugins.Fullscreen().add_to(m)

    with pytest.raises(UnknownAssetError, match=r"Fullscreen loads https://.*add its npm package"):
        use_local_assets(m)


def test_asset_url_joins_base_and_path():
    assert asset_url("markerclusterjs", base_url="/assets/") == "/assets/leaflet.markercluster/leaflet.markercluster.js"
    with pytest.raises(UnknownAssetError, match="'nope'"):
        asset_url("nope")


def test_every_vendor_url_of_a_map_exists_when_installed():
    vendor = installed_vendor()
    page = page_of(render_parts(with_drawing(with_markers(build_overview_map({"BASEMAP": "none"})))))

    referenced = {url.removeprefix("/static/vendor/") for url in VENDOR_URL.findall(page)}

    assert {"leaflet-geoman-free/leaflet-geoman.min.js", "leaflet-geoman-free/leaflet-geoman.css"} <= referenced
    assert sorted(p for p in referenced if not (vendor / p).is_file()) == []


def test_every_known_asset_is_in_the_manifest():
    vendor = installed_vendor()
    manifest = json.loads((vendor / "manifest.json").read_text(encoding="utf-8"))

    assert sorted(set(vendor_paths()) - set(manifest["files"])) == []
    assert set(LOCAL_ASSETS.values()) == set(vendor_paths())


def test_every_stylesheet_reference_resolves_to_an_installed_file():
    vendor = installed_vendor()
    manifest = json.loads((vendor / "manifest.json").read_text(encoding="utf-8"))
    missing = []
    for name in manifest["files"]:
        if not name.endswith(".css"):
            continue
        css = re.sub(r"/\*.*?\*/", "", (vendor / name).read_text(encoding="utf-8"), flags=re.S)
        css = DATA_URI.sub("url(data:)", css)
        # @import would fetch too; data: URIs (Bootstrap's inline SVG) fetch nothing.
        assert "@import" not in css, name
        for ref in CSS_REF.findall(css):
            if ref.startswith(("data:", "#")):
                continue
            if re.match(r"(?:[a-z]+:)?//", ref):
                missing.append(f"{name} -> {ref} (another host)")
                continue
            target = (vendor / name).parent / ref.split("?")[0].split("#")[0]
            if not target.is_file():
                missing.append(f"{name} -> {ref}")

    assert missing == []


def test_no_source_map_comment_is_left_to_fetch():
    vendor = installed_vendor()
    offenders = [
        str(p.relative_to(vendor)) for p in vendor.rglob("*") if p.suffix in (".js", ".css")
        and b"sourceMappingURL" in p.read_bytes()
    ]

    assert offenders == []


def load_installer():
    """scripts/ is not a package: load the installer from its file (dataclasses need it in sys.modules)."""
    name = "install_assets"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "install_assets.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_installer_is_idempotent_and_repairs_a_missing_file(tmp_path):
    installer = load_installer()
    if not (ROOT / "node_modules" / "leaflet" / "package.json").is_file():
        if os.environ.get("CI"):
            pytest.fail("node_modules is missing: the set-up must run npm ci")
        pytest.skip("node_modules not installed (npm ci)")
    dest = tmp_path / "vendor"

    changed, manifest = installer.install(dest=dest)
    again, _ = installer.install(dest=dest)
    (dest / "leaflet" / "leaflet.js").unlink()
    repaired, _ = installer.install(dest=dest)

    assert (changed, again, repaired) == (True, False, True)
    assert (dest / "leaflet" / "leaflet.js").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vendor"]  # no staging folder left behind
    assert manifest["packages"]["leaflet"] and manifest["files"]["leaflet/leaflet.js"]["from"] == "dist/leaflet.js"
    assert manifest["files"]["leaflet-geoman-free/leaflet-geoman.min.js"]["package"] == "@geoman-io/leaflet-geoman-free"
    assert (dest / "leaflet-geoman-free" / "LICENSE").is_file()


def test_installer_says_what_to_run_without_node_modules(tmp_path):
    installer = load_installer()

    with pytest.raises(installer.InstallError, match="run 'npm ci --no-audit --no-fund' first"):
        installer.install(node_modules=tmp_path / "node_modules", dest=tmp_path / "vendor")
    assert not (tmp_path / "vendor").exists()


def test_glyphicons_are_cut_from_bootstrap3_without_other_rules():
    installer = load_installer()
    icons = "".join(f".glyphicon-i{n}:before {{ content: '{n}'; }}\n" for n in range(210))
    css = (
        "/*! header { with a brace */\nhtml { font-size: 10px; }\n"
        "@font-face { font-family: 'Glyphicons Halflings'; src: url(old.eot); }\n"
        ".glyphicon { display: inline-block; }\n" + icons
        + ".carousel-control .glyphicon-chevron-left { left: 50%; }\n"
        + "@media print { .glyphicon-x { color: red; } }\n"
    )

    out = installer.glyphicons_css(css)

    assert out.count(".glyphicon-i") == 210 and ".glyphicon {" in out
    assert "html {" not in out and "carousel" not in out and "@media" not in out and "old.eot" not in out
    assert 'url("../fonts/glyphicons-halflings-regular.woff2")' in out

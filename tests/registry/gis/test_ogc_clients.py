"""Real GIS clients against a live server: GDAL's OAPIF driver (ogrinfo, pyogrio) and OWSLib."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import make_app
from tests.factories import GRID_X0, GRID_Y0, N_TOMBS, PUBLIC, STEP, seed_ogc
from tests.servers import serving

OGRINFO = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"


@pytest.fixture
def ogc_server(store_url):
    """A seeded registry served on 127.0.0.1 at a free port in a thread; yields the /ogc URL."""
    app = make_app(store_url)
    seed_ogc(app.extensions["registry_store"])
    with serving(app, "ogc-live-server") as base:
        yield f"{base}/ogc"


def ogrinfo(*args: str) -> str:
    if not shutil.which(OGRINFO):
        pytest.skip("GDAL's ogrinfo is not installed")
    done = subprocess.run([OGRINFO, "-ro", *args], capture_output=True, text=True, timeout=120,
                          env={"GDAL_HTTP_TIMEOUT": "60", "CPL_DEBUG": "OFF", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ogrinfo_lists_public_collections(ogc_server):
    listing = ogrinfo(f"OAPIF:{ogc_server}")
    layers = re.findall(r"^\d+: (\S+)", listing, flags=re.M)
    assert layers == list(PUBLIC)


@pytest.mark.parametrize("layer, count", [("facilities", 2), ("heritage_sites", 1), ("tombs", N_TOMBS),
                                          ("relocations", 2), ("protection_ranges", 1)])
def test_ogrinfo_counts(ogc_server, layer, count):
    summary = ogrinfo("-so", f"OAPIF:{ogc_server}", layer)
    assert f"Feature Count: {count}" in summary


def test_ogrinfo_spatial_filter_and_paging(ogc_server):
    # -spat is sent as bbox; a page size of 10 makes GDAL follow next links to read all four pages' worth.
    spat = [str(v) for v in (GRID_X0 - 0.001, GRID_Y0 - 0.001, GRID_X0 + STEP + 0.001, GRID_Y0 + STEP + 0.001)]
    out = ogrinfo("-al", "-q", "-spat", *spat, f"OAPIF:{ogc_server}", "tombs")
    assert len(re.findall(r"OGRFeature\(tombs\)", out)) == 4
    out = ogrinfo("-al", "-q", "-oo", "PAGE_SIZE=10", f"OAPIF:{ogc_server}", "tombs")
    assert len(re.findall(r"OGRFeature\(tombs\)", out)) == N_TOMBS
    assert "烈士0" in out


def test_pyogrio_reads_chinese_text(ogc_server):
    # In a child process: pyogrio holds the GIL while GDAL waits for HTTP, which would starve the
    # server thread of this process (and it keeps GDAL away from the registry file, as it must).
    script = ("import pyogrio, sys; gdf = pyogrio.read_dataframe(sys.argv[1], layer='facilities'); "
              "print('|'.join(sorted(gdf['name'])))")
    done = subprocess.run([sys.executable, "-c", script, f"OAPIF:{ogc_server}"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "古田会议烈士纪念碑|长汀烈士陵园"


def test_owslib_collections_conformance_queryables_paging(ogc_server):
    features_mod = pytest.importorskip("owslib.ogcapi.features")
    api = features_mod.Features(ogc_server)
    assert [c["id"] for c in api.collections()["collections"]] == list(PUBLIC)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    queryables = api.collection_queryables("facilities")
    assert {"name", "level", "county_code"} <= set(queryables["properties"])
    seen, offset = [], 0
    while True:
        page = api.collection_items("tombs", limit=7, offset=offset)
        assert page["numberMatched"] == N_TOMBS
        seen += [f["id"] for f in page["features"]]
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += 7
    assert len(set(seen)) == N_TOMBS
    bbox_page = api.collection_items("tombs", bbox=[GRID_X0, GRID_Y0, GRID_X0 + STEP, GRID_Y0 + STEP])
    assert bbox_page["numberMatched"] == 4
    filtered = api.collection_items("facilities", filter="level = 'provincial'")
    assert [f["properties"]["code"] for f in filtered["features"]] == ["F1"]

"""Base maps from configuration: OpenStreetMap, 天地图, an intranet tile URL, or none."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import folium

KINDS = ("osm", "tianditu", "xyz", "mbtiles", "none")

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'

# 天地图's WMTS in Web Mercator ("_w"), asked for by KVP so Leaflet's {z}/{x}/{y} fill the tile matrix;
# the service spreads load over the hosts t0..t7.
TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
TIANDITU_ATTRIBUTION = '&copy; <a href="https://www.tianditu.gov.cn/">天地图</a>'

# Spellings of the base map CRS setting. 天地图 and OpenStreetMap are in CGCS2000 / WGS 84, which agree
# to well under a metre here, so only a GCJ-02 ("Mars") base map asks for the overlays to be moved.
GCJ02_NAMES = {"GCJ-02", "GCJ02"}
UNSHIFTED_NAMES = {"EPSG:4326", "EPSG:4490", "WGS84", "WGS 84", "CGCS2000", "EPSG:3857"}

DEFAULT_LABELS = {"osm": "OpenStreetMap", "tianditu": "天地图", "tianditu_labels": "天地图注记", "xyz": "底图"}


class BasemapConfigError(ValueError):
    """The base map settings are incomplete or contradictory; the message names the setting."""


@dataclass(frozen=True)
class TileSpec:
    """One tile layer: a Leaflet URL template and how to show it."""

    url: str
    attribution: str
    name: str
    overlay: bool = False
    subdomains: str = "abc"
    max_zoom: int = 18
    # A tile package of limited extent (MBTiles): no tile is asked for outside these zooms and bounds.
    min_zoom: int = 0
    max_native_zoom: int | None = None
    bounds: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class LocalTiles:
    """Tiles the application serves itself (an MBTiles file): URL template on this server and the file's metadata.

    ``bounds`` is west, south, east, north in degrees; ``url`` a path such as ``/basemap/{z}/{x}/{y}.png``.
    """

    url: str
    name: str
    attribution: str = ""
    min_zoom: int = 0
    max_zoom: int = 18
    bounds: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Basemap:
    """The configured base map: its tile layers, and whether overlays must be shifted to GCJ-02."""

    kind: str
    layers: tuple[TileSpec, ...] = ()
    crs: str = "EPSG:4326"
    needs_gcj_shift: bool = False
    # Hosts the page may name (tile templates and attribution links): tests allow these and no other.
    hosts: frozenset[str] = field(default_factory=frozenset)


def _hosts(*urls: str) -> frozenset[str]:
    found = set()
    for url in urls:
        for match in re.findall(r"https?://[^\s\"'<>/]+", url):
            found.add(urlsplit(match).netloc)
    return frozenset(found)


def _normalise_crs(value: str | None) -> str:
    crs = (value or "EPSG:4326").strip().upper()
    if crs in GCJ02_NAMES:
        return "GCJ-02"
    if crs in UNSHIFTED_NAMES:
        return crs
    raise BasemapConfigError(
        f"REGISTRY_BASEMAP_CRS={value!r} is not understood: use EPSG:4326 (WGS 84), EPSG:4490 (CGCS2000) "
        "or GCJ-02 (BD-09 base maps are not supported)"
    )


def basemap_from_settings(settings: Mapping, labels: Mapping[str, str] | None = None,
                          local: LocalTiles | None = None) -> Basemap:
    """Describe the base map chosen by the settings ``BASEMAP``, ``BASEMAP_URL``, ``BASEMAP_CRS`` and ``TIANDITU_KEY``.

    Parameters
    ----------
    settings : Mapping
        The application's settings (a Flask ``app.config`` or a plain dict). ``BASEMAP`` is one of
        ``osm``, ``tianditu``, ``xyz`` or ``none``.
    labels : Mapping of str to str, optional
        Names shown in the layer control, keyed ``osm``, ``tianditu``, ``tianditu_labels`` and
        ``xyz`` (the caller translates them); missing keys keep the defaults.
    local : LocalTiles, optional
        For ``mbtiles``: the tiles the application serves from the file at ``BASEMAP_PATH`` (the
        application reads the file and passes its URL and metadata; this module opens nothing).

    Returns
    -------
    Basemap
        Its tile layers (none for ``none``), its CRS and ``needs_gcj_shift``.

    Raises
    ------
    BasemapConfigError
        When the kind is unknown, 天地图 has no key, ``xyz`` has no usable URL template, ``mbtiles``
        comes without ``local`` (its file cannot serve), or a
        GCJ-02 CRS is claimed for OpenStreetMap or 天地图 (which are not GCJ-02).

    Examples
    --------
    >>> basemap_from_settings({"BASEMAP": "none"}).layers
    ()
    >>> bm = basemap_from_settings({"BASEMAP": "tianditu", "TIANDITU_KEY": "k"})
    >>> [layer.overlay for layer in bm.layers], bm.needs_gcj_shift
    ([False, True], False)
    >>> bm = basemap_from_settings({"BASEMAP": "xyz", "BASEMAP_CRS": "GCJ-02",
    ...                             "BASEMAP_URL": "http://gis.intranet/tiles/{z}/{x}/{y}.png"})
    >>> bm.needs_gcj_shift, sorted(bm.hosts)
    (True, ['gis.intranet'])
    >>> bm = basemap_from_settings({"BASEMAP": "mbtiles"},
    ...                            local=LocalTiles("/basemap/{z}/{x}/{y}.png", "Streets", max_zoom=16))
    >>> bm.layers[0].url, bm.layers[0].max_native_zoom, bm.hosts
    ('/basemap/{z}/{x}/{y}.png', 16, frozenset())
    """
    names = {**DEFAULT_LABELS, **(labels or {})}
    kind = str(settings.get("BASEMAP") or "osm").strip().lower()
    if kind not in KINDS:
        raise BasemapConfigError(f"REGISTRY_BASEMAP={kind!r} is not one of {', '.join(KINDS)}")
    crs = _normalise_crs(settings.get("BASEMAP_CRS"))
    if kind == "none":
        return Basemap(kind="none", crs=crs)
    if kind == "mbtiles":
        return _local_basemap(local, crs)
    if kind in ("osm", "tianditu") and crs == "GCJ-02":
        raise BasemapConfigError(
            f"REGISTRY_BASEMAP_CRS=GCJ-02 but REGISTRY_BASEMAP={kind} serves WGS 84 / CGCS2000 tiles: "
            "set REGISTRY_BASEMAP_CRS=EPSG:4326, or use REGISTRY_BASEMAP=xyz for a GCJ-02 tile service"
        )
    if kind == "osm":
        layers = (TileSpec(OSM_URL, OSM_ATTRIBUTION, names["osm"], subdomains="abc", max_zoom=19),)
        return Basemap(kind, layers, crs, False, _hosts(OSM_URL, OSM_ATTRIBUTION))
    if kind == "tianditu":
        key = str(settings.get("TIANDITU_KEY") or "").strip()
        if not key:
            raise BasemapConfigError(
                "REGISTRY_BASEMAP=tianditu needs REGISTRY_TIANDITU_KEY (a 天地图 browser key from "
                "console.tianditu.gov.cn)"
            )
        if not re.fullmatch(r"[A-Za-z0-9]+", key):
            raise BasemapConfigError("REGISTRY_TIANDITU_KEY holds characters other than letters and digits")
        vector = TileSpec(TIANDITU_URL.format(layer="vec", key=key), TIANDITU_ATTRIBUTION, names["tianditu"],
                          subdomains="01234567", max_zoom=18)
        labels_layer = TileSpec(TIANDITU_URL.format(layer="cva", key=key), TIANDITU_ATTRIBUTION,
                                names["tianditu_labels"], overlay=True, subdomains="01234567", max_zoom=18)
        return Basemap(kind, (vector, labels_layer), crs, False,
                       _hosts(vector.url, labels_layer.url, TIANDITU_ATTRIBUTION))
    url = str(settings.get("BASEMAP_URL") or "").strip()
    if not url:
        raise BasemapConfigError("REGISTRY_BASEMAP=xyz needs REGISTRY_BASEMAP_URL, a tile URL with {z}, {x} and {y}")
    if not all(part in url for part in ("{z}", "{x}")) or not ("{y}" in url or "{-y}" in url):
        raise BasemapConfigError(f"REGISTRY_BASEMAP_URL={url!r} lacks {{z}}, {{x}} or {{y}}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") and not url.startswith("/"):
        raise BasemapConfigError(
            f"REGISTRY_BASEMAP_URL={url!r} must start with http://, https:// or / (a path on this server)"
        )
    attribution = parts.netloc or "本站"
    layer = TileSpec(url, attribution, names["xyz"], subdomains="abc", max_zoom=19)
    return Basemap(kind, (layer,), crs, crs == "GCJ-02", _hosts(url))


def _local_basemap(local: LocalTiles | None, crs: str) -> Basemap:
    if local is None:
        raise BasemapConfigError("REGISTRY_BASEMAP=mbtiles but the tile file at REGISTRY_BASEMAP_PATH cannot "
                                 "serve (/healthz says why)")
    if not local.url.startswith("/"):
        raise BasemapConfigError(f"the MBTiles tile URL {local.url!r} must be a path on this server")
    # The file's metadata is outside data and Leaflet shows attribution and layer names as HTML: escape both.
    name = html.escape(local.name)
    layer = TileSpec(local.url, html.escape(local.attribution) or name, name, subdomains="abc",
                     max_zoom=max(18, local.max_zoom), min_zoom=local.min_zoom, max_native_zoom=local.max_zoom,
                     bounds=local.bounds)
    return Basemap("mbtiles", (layer,), crs, crs == "GCJ-02", frozenset())


def add_basemap(m: folium.Map, basemap: Basemap) -> list[folium.TileLayer]:
    """Add the base map's tile layers to a map, base layer first.

    Parameters
    ----------
    m : folium.Map
        A map made with ``tiles=None``.
    basemap : Basemap
        From :func:`basemap_from_settings`.

    Returns
    -------
    list of folium.TileLayer
        The layers added (empty for ``none``).

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> [t.layer_name for t in add_basemap(m, basemap_from_settings({"BASEMAP": "osm"}))]
    ['OpenStreetMap']
    """
    added = []
    for spec in basemap.layers:
        extent = {}
        if spec.max_native_zoom is not None:
            extent["max_native_zoom"] = spec.max_native_zoom
        if spec.bounds is not None:
            west, south, east, north = spec.bounds
            extent["bounds"] = [[south, west], [north, east]]
        layer = folium.TileLayer(
            tiles=spec.url,
            attr=spec.attribution,
            name=spec.name,
            overlay=spec.overlay,
            control=True,
            max_zoom=spec.max_zoom,
            subdomains=spec.subdomains,
            min_zoom=spec.min_zoom,
            **extent,
        )
        layer.add_to(m)
        added.append(layer)
    return added

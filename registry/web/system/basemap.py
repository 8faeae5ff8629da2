"""The configured base map for every map page, and an MBTiles file's tiles served at /basemap/{z}/{x}/{y}.{ext}."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from flask_babel import gettext as _

from maps.basemaps import Basemap, BasemapConfigError, LocalTiles, basemap_from_settings
from registry.extensions import get_read_store, get_store
from registry.services.division_outlines import LEVELS, outlines
from registry.services.mbtiles import MBTilesError, MBTilesFile, TileSets

bp = Blueprint("basemap", __name__)

# Tile URLs carry the file's version (?v=), so a replaced file is a new URL: browsers may keep a tile a week.
TILE_MAX_AGE = 7 * 24 * 3600


def _tilesets() -> TileSets:
    return current_app.extensions.setdefault("registry_basemap_tiles", TileSets())


def mbtiles_file() -> MBTilesFile:
    """The configured MBTiles file, open; raises MBTilesError naming the file and what is wrong with it."""
    store = get_store()
    return _tilesets().get(str(current_app.config.get("BASEMAP_PATH") or ""), forbidden=store.path)


def basemap_health() -> dict:
    """The base map's part of /healthz: its kind, and for an MBTiles file its name and format or what is wrong."""
    kind = str(current_app.config.get("BASEMAP") or "osm").strip().lower()
    if kind != "mbtiles":
        return {"kind": kind}
    try:
        tiles = mbtiles_file().tileset
    except MBTilesError as exc:
        return {"kind": kind, "status": "unavailable", "message": str(exc)}
    return {"kind": kind, "status": "ok", "name": tiles.name, "format": tiles.format,
            "min_zoom": tiles.min_zoom, "max_zoom": tiles.max_zoom}


def local_tiles() -> LocalTiles | None:
    if str(current_app.config.get("BASEMAP") or "").strip().lower() != "mbtiles":
        return None
    try:
        tiles = mbtiles_file().tileset
    except MBTilesError as exc:
        current_app.logger.error("base map disabled: %s", exc)
        return None
    url = f"/basemap/{{z}}/{{x}}/{{y}}.{tiles.extensions[0]}?v={tiles.version}"
    return LocalTiles(url, tiles.name, tiles.attribution, tiles.min_zoom, tiles.max_zoom, tiles.bounds)


def configured_basemap(labels: dict[str, str] | None = None) -> tuple[Basemap, bool]:
    """The base map for a map page, and whether the configured one could not be used (then none is shown).

    A wrong setting or a tile file that cannot serve never takes a page down: the log says why, /healthz
    too for an MBTiles file, and the page shows its overlays without a base layer.
    """
    try:
        return basemap_from_settings(current_app.config, labels, local=local_tiles()), False
    except BasemapConfigError as exc:
        current_app.logger.error("base map disabled: %s", exc)
        return basemap_from_settings({"BASEMAP": "none"}), True


@bp.get("/basemap/<int:z>/<int:x>/<int:y>.<ext>")
def tile(z: int, x: int, y: int, ext: str):
    """One tile of the MBTiles base map; 404 when the file has none there (the map asks only inside its extent)."""
    if str(current_app.config.get("BASEMAP") or "").strip().lower() != "mbtiles":
        abort(404, description=_("没有配置 MBTiles 底图。"))
    try:
        source = mbtiles_file()
    except MBTilesError:
        abort(404, description=_("底图文件不可用。"))
    tiles = source.tileset
    if ext.lower() not in tiles.extensions:
        abort(404, description=_("底图瓦片格式为 %(format)s。", format=tiles.format))
    etag = f"{tiles.version}-{z}-{x}-{y}"
    if request.if_none_match.contains(etag):
        return _cached(Response(status=304), etag)
    data = source.tile(z, x, y)
    if data is None:
        abort(404, description=_("此处没有底图瓦片。"))
    return _cached(Response(data, mimetype=tiles.media_type), etag)


def _cached(response: Response, etag: str) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={TILE_MAX_AGE}"
    return response


@bp.get("/api/boundaries/<level>.geojson")
def boundaries(level: str):
    """The county or township boundaries the registry holds, simplified: one small cached GeoJSON per level."""
    body, etag = outlines(get_read_store(), level)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/geo+json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


def boundary_layer(basemap: Basemap) -> dict | None:
    """The division outlines for a map without a base map (none configured, or the configured one failed)."""
    if basemap.layers:
        return None
    return {"name": _("县、乡镇界线"), "approximate": _("示意"),
            "urls": {level: f"/api/boundaries/{level}.geojson" for level in LEVELS}}

"""Mapbox vector tiles of the public collections, with ETag and cache headers, and a TileJSON per collection."""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for

from registry.extensions import db_session, get_store
from registry.services.base import ServiceError
from registry.services.gis.ogc.items import extent
from registry.services.gis.ogc.parameters import check_params
from registry.services.gis.ogc.tiles import CLUSTER_BELOW_ZOOM, get_tile_collection, tile_etag
from registry.services.gis.ogc.tiles import tile as read_tile
from registry.web.gis.ogc_json import exception_response, json_response

bp = Blueprint("tiles", __name__, url_prefix="/tiles")

MVT = "application/vnd.mapbox-vector-tile"
# Tiles change when the registry does; five minutes of caching is a fair trade for a Qingming crowd.
MAX_AGE = 300


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    return exception_response(exc.status, exc.message, exc.field)


@bp.get("/<collection_id>/<z>/<x>/<y>.mvt")
def tile(collection_id: str, z: str, x: str, y: str):
    """One vector tile; 204 when the tile is empty, 304 when the client's copy is current."""
    check_params(request.args.to_dict(flat=False), set())
    coll = get_tile_collection(collection_id)
    data = read_tile(get_store(), db_session(), coll, z, x, y)
    etag = tile_etag(data)
    if etag in request.if_none_match:
        response = Response(status=304)
    elif not data:
        response = Response(status=204)
    else:
        response = Response(data, mimetype=MVT)
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


@bp.get("/<collection_id>/tilejson.json")
def tilejson(collection_id: str):
    """The TileJSON 3.0.0 of a tiled collection."""
    check_params(request.args.to_dict(flat=False), set())
    coll = get_tile_collection(collection_id)
    box = extent(db_session(), get_store(), coll)["spatial"]["bbox"][0]
    template = url_for("tiles.tile", collection_id=collection_id, z=0, x=0, y=0, _external=True)
    template = template.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    fields = {"id": "Number"}
    fields.update({name: "String" for name in coll.tile_fields})
    body = {
        "tilejson": "3.0.0",
        "name": f"{coll.title} {coll.title_en}",
        "description": coll.description,
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": 0,
        "maxzoom": 22,
        "bounds": box,
        "center": [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 10],
        "vector_layers": [{"id": coll.id, "fields": fields, "minzoom": 0, "maxzoom": 22,
                           "description": f"points thinned to one per 64 px cell (with count) below zoom "
                                          f"{CLUSTER_BELOW_ZOOM}" if coll.geometry_type == "POINT" else ""}],
    }
    return json_response(body)

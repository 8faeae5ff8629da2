"""The JSON API of the public map: features by viewport (GeoJSON) and search by name."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from registry.extensions import get_store
from registry.services.public.features import DEFAULT_LIMIT, features_by_name, features_in_bbox
from registry.services.stations import viewport as stations

bp = Blueprint("api", __name__, url_prefix="/api")

# URL segment -> layer of registry.services.public.features
_LAYERS = {"facilities": "facilities", "heritage-sites": "heritage_sites", "cemeteries": "cemeteries",
           "tombs": "tombs"}


def _geojson(body: dict):
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    # Short public caching: a Qingming crowd looking at the same county shares one answer for a minute.
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


@bp.get("/<any(facilities, 'heritage-sites', cemeteries, tombs):segment>")
def layer_in_bbox(segment: str):
    """Features of one layer in ``bbox`` (GeoJSON), or matching ``q`` by name for facilities."""
    args = request.args
    if segment == "facilities" and "q" in args and "bbox" not in args:
        return _geojson(features_by_name(get_store(), args.get("q", ""), args.get("limit", 20),
                                         crs=args.get("crs")))
    categories = tuple(c for c in args.get("category", "").split(",") if c) or None
    return _geojson(features_in_bbox(get_store(), _LAYERS[segment], args.get("bbox"),
                                     args.get("limit", DEFAULT_LIMIT), zoom=args.get("zoom"),
                                     crs=args.get("crs"), categories=categories))


@bp.get("/stations")
def stations_in_bbox():
    """Veterans service stations in ``bbox`` (GeoJSON), at most ``limit``: the public map's optional layer."""
    args = request.args
    return _geojson(stations.stations_in_bbox(get_store(), args.get("bbox"), args.get("limit", stations.DEFAULT_LIMIT),
                                              crs=args.get("crs")))

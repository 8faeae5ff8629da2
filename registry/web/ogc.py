"""OGC API – Features: the registry as a GIS data source."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for

bp = Blueprint("ogc", __name__, url_prefix="/ogc")


@bp.get("")
def landing():
    """The landing page."""
    return jsonify({
        "title": "Memorial Facility Registry",
        "links": [{"href": url_for("ogc.landing", _external=True), "rel": "self", "type": "application/json"}],
    })

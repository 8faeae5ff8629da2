"""The browser assets installed from npm (Leaflet and folium's other scripts), served by the app itself."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, request, send_from_directory

from registry.web.map_cache import vendor_versions

bp = Blueprint("assets", __name__)

# A URL without its fingerprint (a stylesheet's own relative links, an old bookmark) is kept a week, so an
# upgrade reaches browsers; past that, ETag and Last-Modified make revalidation a cheap 304.
MAX_AGE = 7 * 24 * 3600
# A URL carrying the file's content hash (?v=, as the pages write it) names those bytes forever.
IMMUTABLE_AGE = 365 * 24 * 3600
NOT_INSTALLED = (
    "The map's browser assets are not installed in {path}: run 'npm ci --no-audit --no-fund' and "
    "'python scripts/install_assets.py' (or 'make setup'), then reload."
)


@bp.get("/static/vendor/<path:filename>")
def vendor(filename: str):
    """One file from the vendor folder: for a year when the URL carries its fingerprint, else for a week."""
    folder = Path(current_app.config["ASSETS_DIR"])
    if not (folder / "manifest.json").is_file():
        abort(404, description=NOT_INSTALLED.format(path=folder))
    if any(part.startswith(".") for part in filename.split("/")):
        abort(404)  # the install stamp and any editor leftovers are not assets
    version = request.args.get("v")
    fingerprinted = version is not None and version == vendor_versions().get(filename)
    response = send_from_directory(folder, filename, max_age=IMMUTABLE_AGE if fingerprinted else MAX_AGE)
    response.cache_control.public = True
    if fingerprinted:
        response.cache_control.immutable = True
    return response

"""The browser assets installed from npm (Leaflet and folium's other scripts), served by the app itself."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__)

# The URLs carry no version, so a week (not a year) bounds how long a browser keeps a file after an
# upgrade; past that, ETag and Last-Modified make revalidation a cheap 304.
MAX_AGE = 7 * 24 * 3600
NOT_INSTALLED = (
    "The map's browser assets are not installed in {path}: run 'npm ci --no-audit --no-fund' and "
    "'python scripts/install_assets.py' (or 'make setup'), then reload."
)


@bp.get("/static/vendor/<path:filename>")
def vendor(filename: str):
    """One file from the vendor folder, cacheable for a week."""
    folder = Path(current_app.config["ASSETS_DIR"])
    if not (folder / "manifest.json").is_file():
        abort(404, description=NOT_INSTALLED.format(path=folder))
    if any(part.startswith(".") for part in filename.split("/")):
        abort(404)  # the install stamp and any editor leftovers are not assets
    response = send_from_directory(folder, filename, max_age=MAX_AGE)
    response.cache_control.public = True
    return response

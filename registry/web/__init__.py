"""Blueprints, one module per area of the site, registered here in one place."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from registry.web import (
        api,
        assets,
        auth,
        gis_import,
        history,
        manage,
        ogc,
        plan,
        public,
        public_pages,
        relocations,
        rights,
        system,
        tiles,
    )

    for module in (assets, system, auth, public, public_pages, api, history, manage, relocations, plan, ogc, tiles,
                   gis_import):
        app.register_blueprint(module.bp)
    # Every request passes the rights table (web/rights.py) before its view runs.
    rights.init_app(app)

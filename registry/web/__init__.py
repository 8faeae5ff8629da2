"""Blueprints, one module per area of the site, registered here in one place."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from registry.web import (
        api,
        assets,
        auth,
        calendar,
        gis_import,
        headers,
        history,
        manage,
        offline,
        ogc,
        plan,
        public,
        public_pages,
        relocations,
        rights,
        serving,
        system,
        tiles,
    )

    for module in (assets, system, auth, public, public_pages, api, history, manage, relocations, plan, ogc, tiles,
                   gis_import, offline, calendar):
        app.register_blueprint(module.bp)
    serving.init_app(app)
    headers.init_app(app)
    # Every request passes the rights table (web/rights.py) before its view runs.
    rights.init_app(app)

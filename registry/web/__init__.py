"""Blueprints, one module per area of the site, registered here in one place."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from registry.web import headers, language, rights
    from registry.web.corrections import pages as corrections
    from registry.web.gis import edits as gis_edits
    from registry.web.gis import imports as gis_import
    from registry.web.gis import ogc, tiles
    from registry.web.manage import calendar, offline
    from registry.web.manage import pages as manage
    from registry.web.plan import pages as plan
    from registry.web.public import api
    from registry.web.public import map as public
    from registry.web.public import pages as public_pages
    from registry.web.relocations import pages as relocations
    from registry.web.stations import pages as stations
    from registry.web.system import assets, auth, basemap, history, serving
    from registry.web.system import health as system

    for module in (assets, system, auth, public, public_pages, api, history, manage, relocations, plan, ogc, tiles,
                   gis_import, offline, calendar, stations, corrections, gis_edits,
                   basemap):
        app.register_blueprint(module.bp)
    serving.init_app(app)
    headers.init_app(app)
    language.init_app(app)  # the one `label` template global
    # Every request passes the rights table (web/rights.py) before its view runs.
    rights.init_app(app)

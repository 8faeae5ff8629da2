"""Blueprints, one module per area of the site, registered here in one place."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from registry.web import assets, auth, history, manage, ogc, plan, public, relocations, system

    for module in (assets, system, auth, public, history, manage, relocations, plan, ogc):
        app.register_blueprint(module.bp)

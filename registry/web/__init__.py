"""Blueprints, one package or module per area of the site, registered here in one place."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from registry.web import assets, auth, history, public, system

    app.register_blueprint(assets.bp)
    app.register_blueprint(system.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(history.bp)

"""Extensions, created unbound here and bound to an application by init_app."""

from __future__ import annotations

from flask import Flask, current_app, g, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from registry import config as settings
from registry.db import Store

babel = Babel()
csrf = CSRFProtect()
LOCALES = ("zh_CN", "en")
DOMAINS = ("messages", "public", "manage", "relocations", "plan", "gis", "corrections")


def select_locale() -> str:
    chosen = session.get("locale") or request.args.get("lang")
    if chosen in LOCALES:
        return chosen
    return current_app.config.get("DEFAULT_LOCALE", "zh_CN")


def init_app(app: Flask) -> None:
    """Bind the store, CSRF protection and translations; refuse an unsafe production configuration."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # One gettext domain per area of the site, all in the same folder, so areas translate independently.
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join([app.root_path + "/translations"] * len(DOMAINS))
    app.config["BABEL_DOMAIN"] = ";".join(DOMAINS)
    store = Store(app.config["DATABASE_URL"])
    if store.exists:
        store.check()
    app.extensions["registry_store"] = store
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    if app.config.get("ENV") == "production":
        from registry.services.users import demo_usernames

        settings.check_production(app.config, demo_usernames(store) if store.exists else [])

    @app.teardown_appcontext
    def _close_session(_exc):
        db_session = g.pop("db_session", None)
        if db_session is not None:
            db_session.close()


def get_store(app: Flask | None = None) -> Store:
    """The store bound to the current (or given) application."""
    return (app or current_app).extensions["registry_store"]


def get_read_store(app: Flask | None = None) -> Store:
    """The store public read-only pages read from: the replica when one is configured, else the primary."""
    app = app or current_app
    return app.extensions.get("registry_read_store") or app.extensions["registry_store"]


def db_session():
    """The request's read session, opened on first use and closed when the request ends."""
    if "db_session" not in g:
        g.db_session = get_store().session()
    return g.db_session

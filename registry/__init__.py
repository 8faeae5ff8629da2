"""The memorial-facility registry: a Flask application over a GeoPackage or PostGIS store."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask

from registry import config as settings
from registry.config import ConfigError
from registry.db import StoreError

__all__ = ["ConfigError", "StoreError", "__version__", "create_app"]
__version__ = "0.1.0"


def create_app(config: dict | None = None) -> Flask:
    """Make an application: the only way one comes to life. ``config`` overrides the environment."""
    # The instance folder (photos, scans, imported files) may live on a data volume of its own.
    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get(settings.SETTINGS["INSTANCE_PATH"][0])
    app = Flask(__name__, instance_relative_config=False, template_folder="../templates",
                instance_path=str(Path(instance).absolute()) if instance else None)
    try:
        app.config.update(settings.load(config, instance_path=app.instance_path))
        register_extensions(app)
    except (StoreError, ConfigError) as exc:
        if click.get_current_context(silent=True) is not None:
            # Under `flask …` a bad store is the operator's to fix: one message and exit 1, no traceback.
            raise click.ClickException(str(exc)) from None
        raise
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from registry import extensions

    extensions.init_app(app)


def register_blueprints(app: Flask) -> None:
    from registry.web import register

    register(app)


def register_errorhandlers(app: Flask) -> None:
    from registry.web.errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from registry.cli import init_app

    init_app(app)

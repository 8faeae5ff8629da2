"""Schema migrations for both stores through one Alembic history."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from registry import gpkg
from registry.db import Store, StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@cache
def head_revision() -> str:
    """The head revision of the history (heads joined with '+' should a branch ever be left unmerged).

    Read once per process: the scripts do not change under a running server, and loading them on every
    health check cost more than the check itself.
    """
    return "+".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def schema_revision(store: Store) -> str | None:
    """The store's migration revision in one plain query (Alembic's own reader inspects the schema first).

    For health checks, which run often: None when the store was never migrated (no version table).
    """
    with store.engine.connect() as conn:
        try:
            heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DBAPIError:
            return None
    return "+".join(sorted(heads)) or None


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return "+".join(sorted(heads)) or None


def upgrade(store: Store, revision: str = "heads") -> str:
    """Create the store if it is a new GeoPackage path, then apply every pending migration."""
    if store.kind == "geopackage" and not store.path.exists():
        gpkg.create_file(store.path)
    store.check()
    if store.kind == "postgis":
        _ensure_postgis(store)
    with store.engine.execution_options(write=True).begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    return current_revision(store)


def _ensure_postgis(store: Store) -> None:
    with store.engine.begin() as conn:
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        except Exception as exc:  # noqa: BLE001 - any refusal becomes one clear message
            raise StoreError(
                f"PostGIS is available but could not be enabled ({str(exc).splitlines()[0]}). "
                "Ask a superuser to run 'CREATE EXTENSION postgis' in this database."
            ) from None

"""Engine and session for either store, with the per-dialect hooks (GeoPackage functions on SQLite, PostGIS checks)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from geodata.gpkg import SQL_FUNCTIONS
from registry import gpkg


class StoreError(RuntimeError):
    """The configured store is missing, unreadable, foreign or lacks PostGIS; the message says how to fix it."""


class Store:
    """One configured store: its engine, a session factory and what kind it is."""

    def __init__(self, url: str, read_only: bool = False):
        self.url = url
        self.read_only = read_only
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(
                f"REGISTRY_DATABASE_URL {url!r} is not a database URL ({exc}). Use "
                "sqlite:///path/to/registry.gpkg for the embedded store or "
                "postgresql+psycopg://user@host:5432/dbname for PostGIS."
            ) from None
        self.kind = {"sqlite": "geopackage", "postgresql": "postgis"}.get(parsed.get_backend_name())
        if self.kind is None:
            raise StoreError(
                f"REGISTRY_DATABASE_URL {url!r} names a {parsed.get_backend_name()!r} database; the registry "
                "runs on an embedded GeoPackage (sqlite:///…) or on PostgreSQL with PostGIS "
                "(postgresql+psycopg://…)."
            )
        if self.kind == "geopackage":
            self.path = Path(parsed.database or "")
            self.engine = _sqlite_engine(self.path)
        else:
            self.path = None
            # PostGIS functions carry high cost estimates, so the planner launches parallel workers even
            # for small indexed box queries; their start-up costs more than the query itself.
            options = "-c parallel_setup_cost=100000"
            if read_only:
                # A read engine refuses writes itself, so a write sent to it by mistake fails loudly even
                # where the database behind it (a copy rather than a replica) would accept it.
                options += " -c default_transaction_read_only=on"
            self.engine = create_engine(url, pool_pre_ping=True, future=True, connect_args={"options": options})
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Writers on SQLite take the lock at BEGIN: a deferred transaction that reads, then writes,
        # fails at once if another writer committed in between, instead of waiting its turn.
        self.write_sessions = sessionmaker(self.engine.execution_options(write=True), expire_on_commit=False)

    @property
    def exists(self) -> bool:
        return self.kind == "postgis" or self.path.exists()

    def session(self) -> Session:
        """A session for reading."""
        return self.sessions()

    def write_session(self) -> Session:
        """A session for a unit of work that writes (services use it)."""
        if self.read_only:
            raise StoreError("This is the read engine (REGISTRY_READ_DATABASE_URL); every write goes to the primary.")
        return self.write_sessions()

    def check(self) -> None:
        """Fail with a clear message when the store cannot serve as a registry."""
        if self.kind == "geopackage":
            _check_gpkg_file(self.path, self.engine)
        else:
            _check_postgis(self.engine, self.url)

    def read_probe(self) -> None:
        """Read one row of a registry table: raises when the store cannot answer a real query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT id FROM facilities LIMIT 1")).all()

    def dispose(self) -> None:
        self.engine.dispose()


def _register_functions(dbapi_con, _record):
    for name, fn in SQL_FUNCTIONS.items():
        dbapi_con.create_function(name, 1, fn, deterministic=True)
    cur = dbapi_con.cursor()
    # trusted_schema lets the R*Tree triggers call the functions above; foreign keys are off by default in SQLite.
    cur.execute("PRAGMA trusted_schema=ON")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Box queries read candidate rows scattered over the file: map it and keep a large page cache.
    cur.execute("PRAGMA mmap_size=1073741824")
    cur.execute("PRAGMA cache_size=-131072")
    cur.close()


def _sqlite_engine(path: Path) -> Engine:
    # mode=rw: connecting never creates a file, so a mistyped path cannot become a new empty registry.
    engine = create_engine(
        f"sqlite:///file:{path}?mode=rw&uri=true",
        connect_args={"check_same_thread": False, "timeout": 10},
        future=True,
    )
    event.listen(engine, "connect", _register_functions)

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        # Take the write lock at BEGIN, so two writers queue instead of failing mid-transaction.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_con, _record):
        dbapi_con.isolation_level = None

    return engine


def _check_gpkg_file(path: Path, engine: Engine) -> None:
    # Everything here reads through the engine's own SQLite connections. Opening the live file any other
    # way (open(), GDAL, a second SQLite library) and closing that descriptor drops every POSIX lock the
    # process holds on it, SQLite's included; another program could then delete the WAL under the server.
    if not path.exists():
        raise StoreError(
            f"There is no registry at {path}. Create it with 'flask --app registry db upgrade' (an empty "
            "registry) or 'flask --app registry demo load' (the demo registry), or point REGISTRY_DATABASE_URL "
            "at an existing registry file. The application never creates one on its own."
        )
    try:
        with engine.connect() as conn:
            app_id = conn.exec_driver_sql("PRAGMA application_id").scalar() or 0
            tables = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'").scalars())
    except DBAPIError as exc:
        orig = exc.orig
        if isinstance(orig, sqlite3.DatabaseError) and "not a database" in str(orig):
            raise StoreError(
                f"{path} is not a SQLite/GeoPackage file (its header is wrong), so it cannot be the registry. "
                "Restore it from a backup or point REGISTRY_DATABASE_URL at the right file; it has not been changed."
            ) from None
        if isinstance(orig, sqlite3.OperationalError) and "unable to open" in str(orig):
            raise StoreError(f"The registry file {path} cannot be read ({orig}). Check its permissions.") from None
        raise StoreError(f"The registry file {path} is damaged ({orig}). Restore it from a backup.") from None
    if app_id != gpkg.APPLICATION_ID:
        raise StoreError(
            f"{path} is a SQLite database but not a GeoPackage (application_id {app_id:#x}, expected 'GPKG'), "
            "so it is not a registry file. Point REGISTRY_DATABASE_URL at the registry; this file has not been changed."
        )
    ours = {"alembic_version", "facilities"}
    own_tables = {t for t in tables if not t.startswith(("gpkg_", "rtree_", "sqlite_"))}
    if own_tables and not ours <= tables:
        raise StoreError(
            f"{path} is a GeoPackage but not a registry (it holds {', '.join(sorted(own_tables)[:5])} and no "
            "registry tables). To bring its data in, use the import commands; to serve it, point "
            "REGISTRY_DATABASE_URL at the registry file instead. The file has not been changed."
        )


def _check_postgis(engine: Engine, url: str) -> None:
    safe = make_url(url).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            installed = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()
            available = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            ).scalar()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(
            f"Cannot connect to the PostgreSQL registry at {safe}: {reason}. Check REGISTRY_DATABASE_URL "
            "(host, port, user, database name) and that the server is running."
        ) from None
    if not installed and not available:
        raise StoreError(
            f"The PostgreSQL server at {safe} has no PostGIS. Install it (Debian: apt-get install "
            "postgresql-15-postgis-3), then run 'CREATE EXTENSION postgis' in the database as a superuser, "
            "or let 'flask --app registry db upgrade' create it."
        )

"""The public services' backend of a store: GeoPackage or PostGIS, chosen by the store's kind."""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.db import Store
from registry.services.public._gpkg import GeoPackageQueries
from registry.services.public._postgis import PostGISQueries
from registry.services.public.backend import PublicBackend

# The backends keep no state, so one of each serves every store and thread.
_BACKENDS: tuple[PublicBackend, ...] = (GeoPackageQueries(), PostGISQueries())
_BY_KIND = {backend.kind: backend for backend in _BACKENDS}
_BY_DIALECT = {backend.dialect: backend for backend in _BACKENDS}


def for_store(store: Store) -> PublicBackend:
    """The public backend of ``store`` (its ``kind`` is 'geopackage' or 'postgis')."""
    return _BY_KIND[store.kind]


def for_session(session: Session) -> PublicBackend:
    """The public backend of the store ``session`` is bound to."""
    return for_dialect(session.get_bind().dialect.name)


def for_dialect(name: str) -> PublicBackend:
    """The public backend of the SQLAlchemy dialect ``name`` ('sqlite' or 'postgresql')."""
    return _BY_DIALECT[name]

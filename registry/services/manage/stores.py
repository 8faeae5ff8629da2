"""The managers' query backend of a store: GeoPackage or PostGIS, chosen by the store's kind."""

from __future__ import annotations

from registry.db import Store
from registry.services.manage._gpkg import GeoPackageQueries
from registry.services.manage._postgis import PostGISQueries
from registry.services.manage.backend import ManageBackend

# The backends keep no state, so one of each serves every store and thread.
_BACKENDS: dict[str, ManageBackend] = {backend.kind: backend for backend in (GeoPackageQueries(), PostGISQueries())}


def for_store(store: Store) -> ManageBackend:
    """The managers' backend of ``store`` (its ``kind`` is 'geopackage' or 'postgis')."""
    return _BACKENDS[store.kind]

"""The OGC query backend of a store: GeoPackage or PostGIS, chosen by the store's kind."""

from __future__ import annotations

from registry.db import Store
from registry.services.gis.ogc._gpkg import GeoPackageQueries
from registry.services.gis.ogc._postgis import PostGISQueries
from registry.services.gis.ogc.backend import OgcBackend

# The backends keep no state, so one of each serves every store and thread.
_BACKENDS: dict[str, OgcBackend] = {backend.kind: backend for backend in (GeoPackageQueries(), PostGISQueries())}


def for_store(store: Store) -> OgcBackend:
    """The OGC backend of ``store`` (its ``kind`` is 'geopackage' or 'postgis')."""
    return _BACKENDS[store.kind]

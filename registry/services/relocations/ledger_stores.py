"""The ledger import's backend of a store: GeoPackage or PostGIS, chosen by the store's kind."""

from __future__ import annotations

from registry.db import Store
from registry.services.relocations._gpkg import GeoPackageLedger
from registry.services.relocations._postgis import PostGISLedger
from registry.services.relocations.ledger_backend import LedgerBackend

# The backends keep no state, so one of each serves every store and thread.
_BACKENDS = (GeoPackageLedger(), PostGISLedger())
_BY_KIND: dict[str, LedgerBackend] = {backend.kind: backend for backend in _BACKENDS}
_BY_DIALECT: dict[str, LedgerBackend] = {backend.dialect: backend for backend in _BACKENDS}


def for_store(store: Store) -> LedgerBackend:
    """The ledger backend of ``store`` (its ``kind`` is 'geopackage' or 'postgis')."""
    return _BY_KIND[store.kind]


def for_session(session) -> LedgerBackend:
    """The ledger backend of the store ``session`` is bound to."""
    return _BY_DIALECT[session.get_bind().dialect.name]

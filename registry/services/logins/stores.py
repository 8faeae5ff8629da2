"""Sign-in throttling's backend of a store: GeoPackage or PostGIS, chosen by the session's dialect."""

from __future__ import annotations

from registry.services.logins._gpkg import GeoPackageLogins
from registry.services.logins._postgis import PostGISLogins
from registry.services.logins.backend import LoginBackend

# The backends keep no state, so one of each serves every store and thread.
_BACKENDS: dict[str, LoginBackend] = {backend.dialect: backend for backend in (GeoPackageLogins(), PostGISLogins())}


def for_session(session) -> LoginBackend:
    """The backend of the store ``session`` is bound to."""
    return _BACKENDS[session.get_bind().dialect.name]

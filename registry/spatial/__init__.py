"""The spatial query surface: one interface (SpatialBackend), a GeoPackage/R*Tree and a PostGIS backend."""

from __future__ import annotations

from registry.spatial.base import LAYERS, Layer, SpatialBackend, layer_for
from registry.spatial.geopackage import GeoPackageBackend
from registry.spatial.postgis import PostGISBackend

# The backends keep no state, so one of each serves every store and thread.
_BACKENDS: dict[str, SpatialBackend] = {
    GeoPackageBackend.kind: GeoPackageBackend(),
    PostGISBackend.kind: PostGISBackend(),
}


def for_store(store) -> SpatialBackend:
    """The spatial backend for a registry Store, chosen by its ``kind`` ('geopackage' or 'postgis')."""
    kind = getattr(store, "kind", None)
    try:
        return _BACKENDS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"store kind {kind!r} has no spatial backend; kinds are: {', '.join(sorted(_BACKENDS))}"
        ) from None


__all__ = ["GeoPackageBackend", "LAYERS", "Layer", "PostGISBackend", "SpatialBackend", "for_store", "layer_for"]

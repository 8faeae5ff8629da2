"""Mapbox vector tiles of the public collections with a geometry (points thinned to one per cell below zoom 12).

Tiles on PostGIS are the one ``ST_AsMVT`` statement (``_postgis.tile_sql``); on the GeoPackage the
rows come from the R*Tree and are encoded in Python (``_gpkg``). The view adds the ETag and caching.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from geodata import mvt
from registry.db import Store
from registry.services.base import NotFound
from registry.services.gis.ogc.collections import COLLECTIONS, Collection
from registry.services.gis.ogc.stores import for_store

# Vector tiles: points at zooms below this are thinned to one per 64-unit cell, with a count.
CLUSTER_BELOW_ZOOM = 12


def tile_collections() -> list[Collection]:
    """Collections served as vector tiles: the public ones with a geometry."""
    return [c for c in COLLECTIONS.values() if c.public and c.has_geometry]


def get_tile_collection(collection_id: str) -> Collection:
    """The tiled collection called ``collection_id``, or NotFound naming those there are."""
    collection = COLLECTIONS.get(collection_id)
    if collection is None or not collection.public or not collection.has_geometry:
        raise NotFound(f"no tiles for {collection_id!r}; tiled collections are: "
                       f"{', '.join(c.id for c in tile_collections())}", field="collectionId")
    return collection


def _cluster(collection: Collection, z: int) -> bool:
    return collection.geometry_type == "POINT" and z < CLUSTER_BELOW_ZOOM


def tile(store: Store, session: Session, collection: Collection, z, x, y) -> bytes:
    """One Mapbox vector tile of a public collection (points clustered below zoom 12); empty bytes when empty."""
    try:
        z, x, y = mvt.check_tile(z, x, y)
    except ValueError as exc:
        raise NotFound(str(exc), field="tile") from None
    bounds = mvt.tile_bounds(z, x, y)
    return for_store(store).tile(store, session, collection, (z, x, y), bounds, _cluster(collection, z))


def tile_etag(data: bytes) -> str:
    """The ETag of a tile: a digest of its bytes."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()

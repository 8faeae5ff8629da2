"""OGC API – Features over the registry: collections, access, queryables, items (bbox, datetime, CRS, CQL2), tiles.

The package's modules, from the bottom up:

- ``kinds``: the kind of each published column and values coerced to it;
- ``collections``: the published collections (table, fields, rows) and who may read them;
- ``cql2_sql``: a CQL2-text filter as an SQL condition;
- ``parameters``: every query parameter checked into an ``ItemsQuery`` (a bad one is an InvalidInput naming it);
- ``sql``: a collection's published SELECT and the time condition;
- ``features``: GeoJSON features of result rows, and a page of them;
- ``backend``: what differs by store, implemented by ``_gpkg`` and ``_postgis``; ``stores.for_store`` picks one;
- ``items``: the items of a query, one feature, the extent;
- ``schema``: the JSON Schemas of features and queryables;
- ``tiles``: Mapbox vector tiles of the public collections.

Public collections publish public fields only; staff collections need a role. The names below are
what the package offers; callers may also import them from the module where each lives.
"""

from __future__ import annotations

from registry.services.gis.ogc._postgis import tile_sql
from registry.services.gis.ogc.collections import (
    COLLECTIONS,
    STAFF_ROLES,
    Collection,
    Unauthorized,
    get_collection,
    may_read,
    queryables,
    readable_collections,
)
from registry.services.gis.ogc.cql2_sql import filter_clause
from registry.services.gis.ogc.features import ItemsPage, rows_to_features
from registry.services.gis.ogc.items import extent, item, items, where_clauses
from registry.services.gis.ogc.parameters import (
    CRS,
    CRS84,
    DEFAULT_LIMIT,
    EPSG,
    ITEM_PARAMS,
    ITEMS_PARAMS,
    MAX_LIMIT,
    MAX_OFFSET,
    ItemsQuery,
    check_params,
    parse_bbox,
    parse_crs,
    parse_datetime,
    parse_items_query,
    parse_limit,
    parse_offset,
)
from registry.services.gis.ogc.schema import schema
from registry.services.gis.ogc.sql import base_select
from registry.services.gis.ogc.tiles import (
    CLUSTER_BELOW_ZOOM,
    get_tile_collection,
    tile,
    tile_collections,
    tile_etag,
)

__all__ = [
    "CLUSTER_BELOW_ZOOM", "COLLECTIONS", "CRS", "CRS84", "DEFAULT_LIMIT", "EPSG", "ITEMS_PARAMS", "ITEM_PARAMS",
    "MAX_LIMIT", "MAX_OFFSET", "STAFF_ROLES", "Collection", "ItemsPage", "ItemsQuery", "Unauthorized",
    "base_select", "check_params", "extent", "filter_clause", "get_collection", "get_tile_collection", "item",
    "items", "may_read", "parse_bbox", "parse_crs", "parse_datetime", "parse_items_query", "parse_limit",
    "parse_offset", "queryables", "readable_collections", "rows_to_features", "schema", "tile",
    "tile_collections", "tile_etag", "tile_sql", "where_clauses",
]

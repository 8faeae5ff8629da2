"""The OpenAPI 3.0 document of the registry's machine API: OGC API – Features, vector tiles and /api."""

from __future__ import annotations

from registry.services.gis.ogc.collections import COLLECTIONS
from registry.services.gis.ogc.parameters import CRS, CRS84, DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from registry.services.gis.ogc.tiles import tile_collections

_EXCEPTION = {"$ref": "#/components/responses/Exception"}


def _param(name: str, where: str, schema: dict, description: str, required: bool = False, **extra) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description, **extra}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _json_response(description: str, schema: dict | None = None, media: str = "application/json") -> dict:
    return {"description": description, "content": {media: {"schema": schema or {"type": "object"}},
                                                    "text/html": {"schema": {"type": "string"}}}}


def _op(op_id: str, summary: str, params: list, responses: dict, tags: list[str]) -> dict:
    return {"get": {"operationId": op_id, "summary": summary, "tags": tags, "parameters": params,
                    "responses": {**responses, "400": _EXCEPTION, "404": _EXCEPTION, "500": _EXCEPTION}}}


def _parameters() -> dict:
    """The parameters the operations refer to, with the collection ids as enums."""
    ids = sorted(COLLECTIONS)
    tiled = sorted(c.id for c in tile_collections())
    return {
        "f": _param("f", "query", {"type": "string", "enum": ["json", "html"]}, "Response format", style="form",
                    explode=False),
        "fItems": _param("f", "query", {"type": "string", "enum": ["json", "geojson", "html", "gpkg", "shp", "kml",
                                                                   "csv", "xlsx"]},
                         "Response format; gpkg, shp (zip), kml, csv (UTF-8 with BOM) and xlsx download every "
                         "matching feature"),
        "lang": _param("lang", "query", {"type": "string", "enum": ["zh_CN", "en"]}, "Language of HTML pages"),
        "collectionId": _param("collectionId", "path", {"type": "string", "enum": ids}, "Collection id"),
        "featureId": _param("featureId", "path", {"type": "string"}, "Feature id"),
        "bbox": _param("bbox", "query", {"type": "array", "minItems": 4, "maxItems": 6,
                                         "items": {"type": "number"}},
                       "minx,miny,maxx,maxy in bbox-crs (CRS84 by default)", style="form", explode=False),
        "bbox-crs": _param("bbox-crs", "query", {"type": "string", "format": "uri", "enum": list(CRS)},
                           "CRS of bbox"),
        "crs": _param("crs", "query", {"type": "string", "format": "uri", "enum": list(CRS)},
                      "CRS of the returned geometries"),
        "datetime": _param("datetime", "query", {"type": "string"},
                           "An RFC 3339 instant or interval (a/b, ../b, a/..)"),
        "limit": _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                           "default": DEFAULT_LIMIT}, "Features per page"),
        "offset": _param("offset", "query", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                             "default": 0},
                         "Features to skip (follow the next link)"),
        "filter": _param("filter", "query", {"type": "string"}, "A CQL2-text filter (basic CQL2, LIKE, IN, BETWEEN)"),
        "filter-lang": _param("filter-lang", "query", {"type": "string", "enum": ["cql2-text"]}, "Filter language"),
        "filter-crs": _param("filter-crs", "query", {"type": "string", "enum": [CRS84]}, "Filter CRS"),
        "city": _param("city", "query", {"type": "string"},
                       "A city's division code: only the rows of its counties (`all`: every row)"),
        "z": _param("z", "path", {"type": "integer", "minimum": 0, "maximum": 22}, "Zoom"),
        "x": _param("x", "path", {"type": "integer", "minimum": 0}, "Column"),
        "y": _param("y", "path", {"type": "integer", "minimum": 0}, "Row"),
        "tileCollection": _param("collectionId", "path", {"type": "string", "enum": tiled}, "Tiled collection"),
    }


def _ogc_paths(prefix: str) -> dict:
    """The OGC API – Features operations under ``prefix``."""
    items_params = [_ref(n) for n in ("collectionId", "fItems", "lang", "bbox", "bbox-crs", "crs", "datetime",
                                      "limit", "offset", "filter", "filter-lang", "filter-crs", "city")]
    return {
        f"{prefix}": _op("getLandingPage", "Landing page", [_ref("f"), _ref("lang")],
                         {"200": _json_response("Landing page")}, ["Capabilities"]),
        f"{prefix}/conformance": _op("getConformance", "Conformance classes", [_ref("f"), _ref("lang")],
                                     {"200": _json_response("Conformance")}, ["Capabilities"]),
        f"{prefix}/api": _op("getApi", "This document", [_ref("f"), _ref("lang")],
                             {"200": _json_response("OpenAPI document")}, ["Capabilities"]),
        f"{prefix}/collections": _op("getCollections", "Collections", [_ref("f"), _ref("lang")],
                                     {"200": _json_response("Collections")}, ["Capabilities"]),
        f"{prefix}/collections/{{collectionId}}": _op(
            "describeCollection", "One collection", [_ref("collectionId"), _ref("f"), _ref("lang")],
            {"200": _json_response("Collection"), "401": _EXCEPTION, "403": _EXCEPTION}, ["Capabilities"]),
        f"{prefix}/collections/{{collectionId}}/queryables": _op(
            "getQueryables", "Queryables (JSON Schema)", [_ref("collectionId"), _ref("f"), _ref("lang")],
            {"200": _json_response("Queryables", media="application/schema+json"), "401": _EXCEPTION,
             "403": _EXCEPTION}, ["Data"]),
        f"{prefix}/collections/{{collectionId}}/schema": _op(
            "getSchema", "Feature schema (JSON Schema)", [_ref("collectionId"), _ref("f"), _ref("lang")],
            {"200": _json_response("Schema", media="application/schema+json"), "401": _EXCEPTION,
             "403": _EXCEPTION}, ["Data"]),
        f"{prefix}/collections/{{collectionId}}/items": _op(
            "getFeatures", "Features (GeoJSON, HTML or an export file)", items_params,
            {"200": {"description": "Features", "headers": {"Content-Crs": {"schema": {"type": "string"}}},
                     "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}},
                                 "text/html": {"schema": {"type": "string"}}}},
             "401": _EXCEPTION, "403": _EXCEPTION}, ["Data"]),
        f"{prefix}/collections/{{collectionId}}/items/{{featureId}}": _op(
            "getFeature", "One feature", [_ref("collectionId"), _ref("featureId"), _ref("f"), _ref("lang"),
                                          _ref("crs")],
            {"200": {"description": "Feature", "content": {"application/geo+json": {"schema": {"type": "object"}},
                                                           "text/html": {"schema": {"type": "string"}}}},
             "401": _EXCEPTION, "403": _EXCEPTION}, ["Data"]),
    }


def _other_paths() -> dict:
    """The vector tiles and the public map's JSON API."""
    return {
        "/tiles/{collectionId}/{z}/{x}/{y}.mvt": _op(
            "getTile", "A Mapbox vector tile (points clustered below zoom 12)",
            [_ref("tileCollection"), _ref("z"), _ref("x"), _ref("y")],
            {"200": {"description": "Tile", "content": {"application/vnd.mapbox-vector-tile": {
                "schema": {"type": "string", "format": "binary"}}}},
             "204": {"description": "Empty tile"}, "304": {"description": "Not modified"}}, ["Tiles"]),
        "/tiles/{collectionId}/tilejson.json": _op(
            "getTileJson", "TileJSON 3.0 of a tiled collection", [_ref("tileCollection")],
            {"200": {"description": "TileJSON", "content": {"application/json": {"schema": {"type": "object"}}}}},
            ["Tiles"]),
        "/api/{layer}": _op(
            "getMapLayer", "Features of the public map by viewport (GeoJSON; tombs clustered when many)",
            [_param("layer", "path", {"type": "string", "enum": ["facilities", "heritage-sites", "cemeteries",
                                                                 "tombs"]}, "Layer"),
             _param("bbox", "query", {"type": "string"}, "minLon,minLat,maxLon,maxLat"),
             _param("limit", "query", {"type": "integer", "minimum": 1}, "Features at most"),
             _param("zoom", "query", {"type": "integer", "minimum": 0, "maximum": 24}, "Map zoom"),
             _param("crs", "query", {"type": "string", "enum": ["EPSG:4326", "GCJ-02"]}, "Display CRS"),
             _param("q", "query", {"type": "string"}, "Name search (facilities)")],
            {"200": {"description": "Features", "content": {"application/geo+json": {"schema": {"type": "object"}}}}},
            ["Map"]),
    }


def openapi_document(ogc_base: str, server: str) -> dict:
    """The document, with ``server`` as the one server and the collection ids as enums."""
    prefix = ogc_base[len(server):] if ogc_base.startswith(server) else "/ogc"
    return {
        "openapi": "3.0.3",
        "info": {"title": "烈士纪念设施管理信息系统 Memorial Facility Registry API", "version": "1.0.0",
                 "description": "OGC API – Features (Parts 1, 2 and 3 with CQL2 text), vector tiles and the "
                                "public map's JSON API. Staff collections need a signed-in user or "
                                "Authorization: Bearer <API token>."},
        "servers": [{"url": server}],
        "tags": [{"name": n} for n in ("Capabilities", "Data", "Tiles", "Map")],
        "paths": {**_ogc_paths(prefix), **_other_paths()},
        "components": {
            "parameters": _parameters(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Exception": {"type": "object", "required": ["code"],
                              "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
                "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"type": "object"}},
                    "numberMatched": {"type": "integer", "minimum": 0},
                    "numberReturned": {"type": "integer", "minimum": 0},
                    "links": {"type": "array", "items": {"type": "object"}}}},
            },
            "responses": {"Exception": {"description": "An OGC API exception", "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Exception"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/Exception"}}}}},
        },
        "security": [{}, {"bearer": []}],
    }

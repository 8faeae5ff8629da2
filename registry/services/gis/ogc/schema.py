"""JSON Schemas of a collection: its features' schema (``describedby``) and its queryables."""

from __future__ import annotations

from registry.services.gis.ogc.collections import Collection
from registry.services.gis.ogc.kinds import column_kind

_JSON_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
               "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
               "datetime": {"type": "string", "format": "date-time"}, "json": {}}
_GEOMETRY_FORMATS = {"POINT": "geometry-point", "LINESTRING": "geometry-linestring",
                     "MULTIPOLYGON": "geometry-multipolygon"}


def schema(collection: Collection, base_url: str, *, queryable_only: bool = False) -> dict:
    """The JSON Schema of a collection's features (``describedby``) or of its queryables."""
    properties = {}
    for name, expr in collection.properties().items():
        kind = column_kind(expr)
        if queryable_only and kind == "json":
            continue
        properties[name] = {"title": name, **_JSON_TYPES[kind]}
        if name == "id" and not queryable_only:
            properties[name]["x-ogc-role"] = "id"
    if collection.has_geometry and not queryable_only:
        properties["geometry"] = {"format": _GEOMETRY_FORMATS[collection.geometry_type],
                                  "x-ogc-role": "primary-geometry"}
    suffix = "queryables" if queryable_only else "schema"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url}/collections/{collection.id}/{suffix}",
        "type": "object",
        "title": collection.title_en,
        "properties": properties,
        "additionalProperties": not queryable_only,
    }

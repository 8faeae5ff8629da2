"""GeoJSON features of result rows: geometries in the CRS asked for, dates as text, one page with its counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import shapely
from shapely.geometry import mapping

from registry.services.gis.ogc.collections import Collection
from registry.services.gis.ogc.kinds import column_kind
from registry.services.gis.ogc.parameters import CRS, CRS84, TO_3857


@dataclass
class ItemsPage:
    """One page of features: as dicts, or (GeoJSON on PostGIS) as the JSON text of the features array."""

    features: list[dict] | None
    number_matched: int
    offset: int
    limit: int | None
    crs: str
    features_json: str | None = None
    returned: int | None = None

    @property
    def number_returned(self) -> int:
        return self.returned if self.returned is not None else len(self.features)

    @property
    def has_next(self) -> bool:
        return self.limit is not None and self.offset + self.number_returned < self.number_matched


def transform_geometries(geoms: list, crs: str) -> list:
    """Geometries in lon/lat turned into the CRS asked for, with its axis order."""
    code, lat_first = CRS[crs]
    if crs == CRS84 or not geoms:
        return geoms
    array = np.array(geoms, dtype=object)
    present = np.array([g is not None for g in geoms])
    if code == 3857:
        def project(coords):
            x, y = TO_3857.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])
        array[present] = shapely.transform(array[present], project)
    elif lat_first:
        array[present] = shapely.transform(array[present], lambda coords: coords[:, ::-1])
    return list(array)


def geojson_geometries(geoms: list, collection: Collection) -> list:
    """GeoJSON geometry dicts of a collection's (already transformed) geometries; None stays None."""
    if collection.geometry_type == "POINT":
        return _point_geojson(geoms)
    return [mapping(geom) if geom is not None else None for geom in geoms]


def rows_to_features(rows, collection: Collection, crs: str = CRS84, geometries: list | None = None) -> list[dict]:
    """GeoJSON feature dicts of result rows (geometry in ``crs``, unless the GeoJSON geometries are given)."""
    props = collection.properties()
    if geometries is None:
        geoms = [row.geom for row in rows] if collection.has_geometry else [None] * len(rows)
        geometries = geojson_geometries(transform_geometries(geoms, crs), collection)
    names = [name for name in props if name != "id"]
    # Only date and time columns need turning into text; the rest go into the dict as they come.
    timed = [name for name in names if column_kind(props[name]) in ("date", "datetime")]
    features = []
    for row, geometry in zip(rows, geometries, strict=True):
        mapping_ = row._mapping
        properties = {name: mapping_[name] for name in names}
        for name in timed:
            value = properties[name]
            if isinstance(value, (date, datetime)):
                properties[name] = value.isoformat()
        features.append({"type": "Feature", "id": row.id, "geometry": geometry, "properties": properties})
    return features


def _point_geojson(geoms: list) -> list:
    """GeoJSON point dicts of many points at once (coordinates read in one vectorised call)."""
    out = [None] * len(geoms)
    present = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if present:
        # Filled in place: np.array(list of geometries) would probe every geometry as a sequence first.
        array = np.empty(len(present), dtype=object)
        array[:] = [geoms[i] for i in present]
        coords = shapely.get_coordinates(array).tolist()
        for i, xy in zip(present, coords, strict=True):
            out[i] = {"type": "Point", "coordinates": xy}
    return out

"""What differs by store in the OGC queries: the interface its GeoPackage (``_gpkg``) and PostGIS (``_postgis``)
siblings implement, as ``registry.spatial`` does for the spatial queries; ``stores.for_store`` picks one.

An items page is the same two statements on both stores (count, then the page's rows, ordered by id);
the siblings choose the SELECT and how its geometries become GeoJSON, or (PostGIS) the whole page.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from sqlalchemy import func
from sqlalchemy.orm import Session

from registry.db import Store
from registry.services.gis.ogc.collections import Collection
from registry.services.gis.ogc.features import ItemsPage, rows_to_features
from registry.services.gis.ogc.parameters import ItemsQuery
from registry.services.gis.ogc.sql import base_select


class OgcBackend(ABC):
    """The store-specific statements of the OGC API, for the store ``kind`` names."""

    kind: str

    @abstractmethod
    def bbox_clause(self, session: Session, collection: Collection, box):
        """The condition of the rows whose geometry meets the lon/lat ``box``."""

    @abstractmethod
    def extent_box(self, session: Session, collection: Collection):
        """(minx, miny, maxx, maxy) of the published rows' geometries; None values when there are none."""

    @abstractmethod
    def tile(self, store: Store, session: Session, collection: Collection, tile: tuple[int, int, int],
             bounds, clustered: bool) -> bytes:
        """The Mapbox vector tile ``(z, x, y)`` (Web Mercator ``bounds``); empty bytes when it holds nothing."""

    def page(self, session: Session, collection: Collection, query: ItemsQuery, clauses, *,
             as_json: bool = False) -> ItemsPage:
        """One page of the rows matching ``clauses``, ordered by id, with the number matched."""
        t = collection.table
        counted = base_select(collection, [func.count()]).where(*clauses)
        matched = session.execute(counted).scalar_one()
        stmt = self.page_select(collection).where(*clauses)
        stmt = stmt.order_by(t.c.id).offset(query.offset)
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        rows = session.connection().execute(stmt).all()
        geometries = self.page_geometries(rows, collection, query.crs)
        return ItemsPage(rows_to_features(rows, collection, query.crs, geometries), matched, query.offset,
                         query.limit, query.crs)

    def page_select(self, collection: Collection):
        """The SELECT of a page's rows (before its conditions, order and limit)."""
        return base_select(collection)

    def page_geometries(self, rows, collection: Collection, crs: str) -> list | None:
        """The GeoJSON geometries of a page's rows in ``crs``; None lets the rows' shapely geometries be used."""
        return None

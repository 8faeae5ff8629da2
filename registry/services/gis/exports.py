"""Exports of a collection or a filtered search of it: the rows as a GeoDataFrame, written by geodata.exports."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geodata.exports import FORMATS, export
from registry.db import Store
from registry.services.base import InvalidInput
from registry.services.gis.ogc.collections import Collection
from registry.services.gis.ogc.items import where_clauses
from registry.services.gis.ogc.parameters import CRS, ItemsQuery
from registry.services.gis.ogc.sql import base_select

# An export is one file built in memory: past this many rows (REGISTRY_EXPORT_MAX_ROWS), ask for a narrower
# request instead (or a GeoPackage of the store).
MAX_ROWS = 50_000


def frame(store: Store, session: Session, collection: Collection, query: ItemsQuery,
          max_rows: int = MAX_ROWS) -> gpd.GeoDataFrame:
    """Every published row matching ``query`` (its limit/offset honoured when given) as a GeoDataFrame.

    Without a ``limit`` the matching rows are counted first (ids only, stopping one past ``max_rows``), so an
    export that is too large is refused before any row is read or converted.
    """
    clauses = where_clauses(session, store, collection, query)
    stmt = base_select(collection).where(*clauses).order_by(collection.table.c.id).offset(query.offset)
    if query.limit is None:
        ids = (select(collection.table.c.id).where(*clauses).order_by(collection.table.c.id)
               .offset(query.offset).limit(max_rows + 1))
        if session.scalar(select(func.count()).select_from(ids.subquery())) > max_rows:
            raise InvalidInput(f"the export would hold more than {max_rows} rows (REGISTRY_EXPORT_MAX_ROWS); "
                               "narrow it with bbox, datetime or filter, or take it in pages with limit and "
                               "offset", field="limit")
    stmt = stmt.limit(query.limit if query.limit is not None else max_rows)
    rows = session.execute(stmt).all()
    names = list(collection.properties())
    data = {name: [row._mapping[name] for row in rows] for name in names}
    geoms = [row.geom for row in rows] if collection.has_geometry else [None] * len(rows)
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    code = CRS[query.crs][0]
    if code not in (4326, 4490):
        gdf = gdf.to_crs(code)
    elif code == 4490:
        gdf = gdf.set_crs(4490, allow_override=True)
    return gdf


def export_collection(store: Store, session: Session, collection: Collection, query: ItemsQuery,
                      fmt: str, max_rows: int = MAX_ROWS) -> tuple[bytes, str, str]:
    """(file bytes, file name, media type) of a collection export in ``fmt``; at most ``max_rows`` rows."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {', '.join(FORMATS)}", field="f")
    spec = FORMATS[fmt]
    data = export(frame(store, session, collection, query, max_rows), fmt, collection.id)
    filename = f"{collection.id}-{date.today().isoformat()}.{spec.extension}"
    return data, filename, spec.media_type

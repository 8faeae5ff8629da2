"""Exports of a collection or a filtered search of it: the rows as a GeoDataFrame, written by geodata.exports."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
from sqlalchemy.orm import Session

from geodata.exports import FORMATS, export
from registry.db import Store
from registry.services.base import InvalidInput
from registry.services.ogc import CRS, Collection, ItemsQuery, _where, base_select

# An export is one file: past this many rows, ask for a narrower filter (or a GeoPackage of the store).
MAX_ROWS = 200_000


def frame(store: Store, session: Session, collection: Collection, query: ItemsQuery) -> gpd.GeoDataFrame:
    """Every published row matching ``query`` (its limit/offset honoured when given) as a GeoDataFrame."""
    clauses = _where(session, store, collection, query)
    stmt = base_select(collection).where(*clauses).order_by(collection.table.c.id).offset(query.offset)
    stmt = stmt.limit(query.limit if query.limit is not None else MAX_ROWS + 1)
    rows = session.execute(stmt).all()
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"the export would hold more than {MAX_ROWS} rows; narrow it with bbox, datetime "
                           "or filter", field="limit")
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
                      fmt: str) -> tuple[bytes, str, str]:
    """(file bytes, file name, media type) of a collection export in ``fmt``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {', '.join(FORMATS)}", field="f")
    spec = FORMATS[fmt]
    data = export(frame(store, session, collection, query), fmt, collection.id)
    filename = f"{collection.id}-{date.today().isoformat()}.{spec.extension}"
    return data, filename, spec.media_type

"""Items of a collection: the conditions of a checked query, one page of features, one feature, the extent."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.orm import Session

from registry.db import Store
from registry.services import divisions
from registry.services.base import NotFound
from registry.services.gis.ogc.collections import Collection, queryables, scope_clause
from registry.services.gis.ogc.cql2_sql import filter_clause
from registry.services.gis.ogc.features import ItemsPage, rows_to_features
from registry.services.gis.ogc.kinds import utc_stamp
from registry.services.gis.ogc.parameters import CRS84, ItemsQuery
from registry.services.gis.ogc.sql import base_select, temporal_clause
from registry.services.gis.ogc.stores import for_store


def where_clauses(session: Session, store: Store, collection: Collection, query: ItemsQuery) -> list:
    """The SQL conditions of a checked items query: bbox, datetime, filter, equalities, a city, a manager's counties."""
    clauses = []
    if query.bbox is not None:
        clauses.append(for_store(store).bbox_clause(session, collection, query.bbox))
    if query.datetime is not None:
        clauses.append(temporal_clause(collection, *query.datetime))
    if query.filter is not None:
        clauses.append(filter_clause(collection, query.filter, query.filter_limits))
    props = queryables(collection)
    for name, value in sorted(query.equals.items()):
        clauses.append(props[name][0] == value)
    if collection.scope_counties is not None:
        clauses.append(scope_clause(collection))
    if query.city is not None:
        clauses.append(scope_clause(collection, divisions.current(session).check_city(query.city)))
    return clauses


def items(store: Store, session: Session, collection: Collection, query: ItemsQuery, *,
          as_json: bool = False) -> ItemsPage:
    """One page of a collection's features matching the query, ordered by id, with the number matched.

    With ``as_json`` on PostGIS the database writes the GeoJSON of the page itself, in the same
    statement that counts the matches, and the page carries it as text (``features_json``).
    """
    clauses = where_clauses(session, store, collection, query)
    return for_store(store).page(session, collection, query, clauses, as_json=as_json)


def item(session: Session, collection: Collection, feature_id: str, crs: str = CRS84) -> dict:
    """One feature by id, or NotFound (also for a row the collection does not publish)."""
    try:
        key = int(feature_id)
    except (TypeError, ValueError):
        raise NotFound(f"feature {feature_id!r} is not in {collection.id}", field="featureId") from None
    stmt = base_select(collection).where(collection.table.c.id == key)
    if collection.scope_counties is not None:
        stmt = stmt.where(scope_clause(collection))
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"feature {feature_id!r} is not in {collection.id}", field="featureId")
    return rows_to_features([row], collection, crs)[0]


def extent(session: Session, store: Store, collection: Collection) -> dict:
    """The spatial (and temporal, when there is one) extent of a collection's published rows."""
    out = {}
    if collection.has_geometry:
        box = for_store(store).extent_box(session, collection)
        if box is not None and box[0] is not None:
            out["spatial"] = {"bbox": [[float(v) for v in box]], "crs": CRS84}
        else:
            out["spatial"] = {"bbox": [[73.0, 18.0, 135.0, 54.0]], "crs": CRS84}
    if collection.temporal:
        col = collection.table.c[collection.temporal]
        low, high = session.execute(base_select(collection, [func.min(col), func.max(col)])).first()
        out["temporal"] = {"interval": [[utc_stamp(low), utc_stamp(high)]],
                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return out

"""The SQL of a collection shared by both stores: its published SELECT and the time condition of an items query."""

from __future__ import annotations

import functools
from datetime import date, datetime

from sqlalchemy import and_, select

from registry.services.gis.ogc.collections import COLLECTIONS, Collection
from registry.services.gis.ogc.kinds import as_datetime, column_kind


def _condition(col, op: str, value):
    return {"=": col == value, "<>": col != value}[op]


@functools.lru_cache(maxsize=64)
def _published_select(collection_id: str):
    # Built once per collection: assembling dozens of labelled columns costs more than running the query.
    return build_select(COLLECTIONS[collection_id], None)


def base_select(collection: Collection, columns=None):
    """SELECT of the collection's published columns from its table and joins, its fixed conditions applied."""
    if columns is None and COLLECTIONS.get(collection.id) is collection:
        return _published_select(collection.id)
    return build_select(collection, columns)


def build_select(collection: Collection, columns):
    """SELECT of ``columns`` (None: the published ones and the geometry) from the collection's table and joins."""
    t = collection.table
    props = collection.properties()
    cols = columns if columns is not None else [expr.label(name) for name, expr in props.items()]
    if columns is None and collection.has_geometry:
        cols.append(t.c.geom.label("geom"))
    source = t
    for _name, _expr, join in collection.extras:
        source = source.outerjoin(join[0], join[1])
    stmt = select(*cols).select_from(source)
    for name, op, value in collection.conditions:
        stmt = stmt.where(_condition(t.c[name], op, value))
    return stmt


def temporal_clause(collection: Collection, start, end, instant: bool):
    """The condition of the rows whose time property falls in the parsed ``datetime`` (start, end, instant)."""
    col = collection.table.c[collection.temporal]
    is_dt = column_kind(col) == "datetime"

    def bound(value, upper):
        if is_dt:
            return as_datetime(value, upper)
        return value.date() if isinstance(value, datetime) else value

    conditions = [col.is_not(None)]
    if instant and isinstance(start, date) and not isinstance(start, datetime) and is_dt:
        return and_(col >= as_datetime(start), col < as_datetime(start, True))
    if instant:
        return col == bound(start, False)
    if start is not None:
        conditions.append(col >= bound(start, False))
    if end is not None:
        conditions.append(col < bound(end, True) if is_dt and not isinstance(end, datetime) else
                          col <= bound(end, True))
    return and_(*conditions)

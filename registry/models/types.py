"""Column types that map to GeoPackage types on SQLite and to PostGIS/PostgreSQL types on PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import shapely
from sqlalchemy import Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import Date, DateTime, TypeDecorator, UserDefinedType

from geodata import gpkg

SRID = 4326


class Geometry(UserDefinedType):
    """A geometry column: a GeoPackage blob column named by its type on SQLite, ``geometry`` on PostGIS.

    Python values are shapely geometries in longitude, latitude (EPSG:4326).
    """

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY", srid: int = SRID):
        self.geometry_type = geometry_type.upper()
        self.srid = srid

    def get_col_spec(self, **kw):
        return self.geometry_type

    def bind_expression(self, bindvalue):
        return _FromStorage(bindvalue, self.srid)

    def column_expression(self, col):
        return _ToStorage(col)

    def bind_processor(self, dialect):
        srid = self.srid
        if dialect.name == "sqlite":
            return lambda value: gpkg.encode(value, srid)
        return lambda value: None if value is None else shapely.to_wkb(value, flavor="iso")

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return gpkg.decode
        return lambda value: None if value is None else shapely.from_wkb(bytes(value))


@compiles(Geometry, "postgresql")
def _pg_geometry_type(type_, compiler, **kw):
    return f"geometry({type_.geometry_type},{type_.srid})"


class _FromStorage(ColumnElement):
    """A bound geometry: passed through on SQLite (already a blob), parsed from WKB on PostGIS."""

    inherit_cache = True

    def __init__(self, bindvalue, srid):
        self.bindvalue = bindvalue
        self.srid = srid
        self.type = bindvalue.type


class _ToStorage(ColumnElement):
    """A selected geometry column: the raw blob on SQLite, ISO WKB on PostGIS."""

    inherit_cache = True

    def __init__(self, col):
        self.col = col
        self.type = col.type


@compiles(_FromStorage)
def _bind_default(element, compiler, **kw):
    return compiler.process(element.bindvalue, **kw)


@compiles(_FromStorage, "postgresql")
def _bind_pg(element, compiler, **kw):
    return f"ST_GeomFromWKB({compiler.process(element.bindvalue, **kw)}, {int(element.srid)})"


@compiles(_ToStorage)
def _col_default(element, compiler, **kw):
    return compiler.process(element.col, **kw)


@compiles(_ToStorage, "postgresql")
def _col_pg(element, compiler, **kw):
    return f"ST_AsBinary({compiler.process(element.col, **kw)})"


class _GpkgDateTime(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "DATETIME"


class UTCDateTime(TypeDecorator):
    """An aware UTC timestamp: GeoPackage's ``YYYY-MM-DDTHH:MM:SS.SSSZ`` text on SQLite, timestamptz on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_GpkgDateTime())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no time zone; registry timestamps are UTC-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value.astimezone(UTC)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_stored_date(raw) -> tuple[date | None, str | None]:
    """A stored date (``YYYY-MM-DD``, optionally followed by a time) as a date, else None and why:
    ``not_a_date`` (not written as one) or ``no_such_day`` (written as one, but the day does not exist)."""
    text = str(raw or "").strip()
    if not _ISO_DAY.fullmatch(text[:10]) or (len(text) > 10 and text[10] not in " T"):
        return None, "not_a_date"
    try:
        return date(int(text[:4]), int(text[5:7]), int(text[8:10])), None
    except ValueError:
        return None, "no_such_day"


class _GpkgDate(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "DATE"


class StoredDate(TypeDecorator):
    """A calendar date; on SQLite the GeoPackage's ``YYYY-MM-DD`` text, read leniently.

    A GeoPackage is edited by other tools too (QGIS, GDAL, a script), so a DATE column may hold text that
    is no date (``1934年5月``, ``1934-02-30``). Read through the ORM it is None rather than an error that
    would take down every page showing the record; the stored text stays as it was (a row is only written
    where it changed), and the calendar reads it as text to list it for the archivist.
    """

    impl = Date
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_GpkgDate())
        return dialect.type_descriptor(Date())

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return value.isoformat()

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, date):
            return value
        return parse_stored_date(value)[0]


class JSONText(TypeDecorator):
    """JSON kept as UTF-8 text on SQLite (a GeoPackage TEXT column) and as JSONB on PostgreSQL."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

    def process_result_value(self, value, dialect):
        if value is None or dialect.name == "postgresql":
            return value
        return json.loads(value)


def utcnow() -> datetime:
    """The current time, aware, in UTC (a callable default, never frozen at import)."""
    return datetime.now(UTC)


__all__ = ["Geometry", "JSONText", "SRID", "UTCDateTime", "func", "utcnow"]

"""The kinds of published columns (string, integer, number, boolean, date, datetime, json); values coerced to them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Boolean, Date, Float, Integer

from registry.models.types import JSONText, UTCDateTime
from registry.services.base import InvalidInput


def column_kind(expr) -> str:
    """The kind of a column expression, as queryables, filters and schemas name it."""
    kind = expr.type
    if isinstance(kind, UTCDateTime):
        return "datetime"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Float):
        return "number"
    if isinstance(kind, JSONText):
        return "json"
    return "string"


def as_datetime(value, end: bool = False) -> datetime:
    """A date as the UTC midnight that starts it (``end``: that ends it); a datetime as it is."""
    if isinstance(value, datetime):
        return value
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def utc_stamp(value):
    """A date or date-time (or the text SQLite aggregates return) written as RFC 3339 UTC; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates come back as stored text
        value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
    return as_datetime(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def filter_literal(value, kind: str, name: str):
    """Coerce a CQL2 or query-parameter literal to the column's kind, or refuse a mismatch (400)."""
    ok = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "date": lambda v: isinstance(v, date),
        "datetime": lambda v: isinstance(v, date),
    }[kind]
    if not ok(value):
        raise InvalidInput(f"filter: property {name!r} is a {kind}; {value!r} is not", field="filter")
    if kind == "date" and isinstance(value, datetime):
        return value.date()
    if kind == "datetime" and not isinstance(value, datetime):
        return as_datetime(value)
    return value


def parameter_value(raw: str, kind: str, name: str):
    """A queryable given as a query parameter (equality): its text turned into the column's kind."""
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError
            return raw.lower() == "true"
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "datetime":
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} {raw!r} is not a valid {kind}", field=name) from None
    return raw

"""Stamp where a record's position or facts came from, and say it in plain words for the public pages.

A service that changes a position or a key fact calls :func:`stamp` in the same unit of work, so the change
and its origin commit together. :func:`describe` turns the columns into a sentence such as
"Position checked on site with GPS on 2026-04-05"; :func:`properties` gives them to OGC items and exports.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from registry.models.provenance import PROVENANCE_PARTS
from registry.models.vocab import PROVENANCE_PART_LABELS, PROVENANCE_SOURCES
from registry.solar_terms import BEIJING

# Plain words for each source: (zh, en) with {part}, {ref} and {day}; the "checked" tail is added when known.
_PHRASES = {
    "survey_gps": ("{part}经实地GPS测定", "{part} checked on site with GPS"),
    "ledger_import": ("{part}来自台账导入（文件 {ref}）", "{part} from a ledger import (file {ref})"),
    "map_digitising": ("{part}由地图数字化取得", "{part} digitised from a map"),
    "public_correction": ("{part}根据公众更正 {ref} 经审核修改", "{part} corrected from public proposal {ref}, "
                          "reviewed"),
    "qgis_edit": ("{part}在QGIS中编辑并经审批", "{part} edited in QGIS and approved"),
    "gis_import": ("{part}来自GIS文件导入（文件 {ref}）", "{part} imported from a GIS file (file {ref})"),
    "staff_edit": ("{part}由工作人员录入", "{part} entered by staff"),
    "demo": ("{part}为演示数据", "{part} is demo data"),
}
_CHECKED = ("，最近核实于{day}", " on {day}")
_UNKNOWN = ("{part}来源未记录", "{part}: source not recorded")


def beijing_today() -> date:
    """Today's date in Beijing, the day a check is recorded under."""
    return datetime.now(UTC).astimezone(BEIJING).date()


def stamp(record, part: str, source: str, *, ref: str | None = None, checked_on: date | None = None) -> None:
    """Record that ``part`` ('position' or 'facts') of ``record`` came from ``source``, checked on ``checked_on``.

    ``checked_on`` defaults to today in Beijing. A part the model has no columns for is a programming error.
    """
    if part not in PROVENANCE_PARTS or not isinstance(record, PROVENANCE_PARTS[part]):
        raise ValueError(f"{type(record).__name__} records no provenance for {part!r}")
    if source not in PROVENANCE_SOURCES:
        raise ValueError(f"provenance source {source!r} is not one of {', '.join(PROVENANCE_SOURCES)}")
    setattr(record, f"{part}_source", source)
    setattr(record, f"{part}_source_ref", ref)
    setattr(record, f"{part}_checked_on", checked_on or beijing_today())


def mark_checked(record, part: str, checked_on: date | None = None) -> None:
    """Record a check that confirmed ``part`` as it is, keeping its source (e.g. an on-site inspection)."""
    if not isinstance(record, PROVENANCE_PARTS.get(part, ())):
        raise ValueError(f"{type(record).__name__} records no provenance for {part!r}")
    setattr(record, f"{part}_checked_on", checked_on or beijing_today())


def _short(ref: str | None) -> str:
    # A SHA-256 is shown by its first 12 hex digits, as a reference people can read out; other refs whole.
    if ref and len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
        return ref[:12]
    return ref or "—"


def describe(record, part: str, english: bool) -> str:
    """The provenance of ``part`` of ``record`` in plain words, in the page's language.

    >>> from registry.models import Facility
    >>> f = Facility(position_source="survey_gps", position_checked_on=date(2026, 4, 5))
    >>> describe(f, "position", english=True)
    'Position checked on site with GPS on 2026-04-05'
    >>> describe(f, "position", english=False)
    '位置经实地GPS测定，最近核实于2026-04-05'
    >>> describe(Facility(), "facts", english=True)
    'Details: source not recorded'
    """
    side = 1 if english else 0
    label = PROVENANCE_PART_LABELS[part][side]
    source = getattr(record, f"{part}_source", None)
    if source not in _PHRASES:
        return _UNKNOWN[side].format(part=label)
    text = _PHRASES[source][side].format(part=label, ref=_short(getattr(record, f"{part}_source_ref", None)))
    day = getattr(record, f"{part}_checked_on", None)
    if day is not None:
        text += _CHECKED[side].format(day=day.isoformat())
    return text


def properties(record) -> dict:
    """The provenance columns of ``record`` as plain properties (OGC items, exports): ISO dates, codes as stored."""
    out = {}
    for part, mixin in PROVENANCE_PARTS.items():
        if isinstance(record, mixin):
            day = getattr(record, f"{part}_checked_on")
            out[f"{part}_source"] = getattr(record, f"{part}_source")
            out[f"{part}_source_ref"] = getattr(record, f"{part}_source_ref")
            out[f"{part}_checked_on"] = day.isoformat() if day else None
    return out


# What a change touches: these keys are the position; any other change, beyond the record's own bookkeeping,
# is a change of its facts.
POSITION_KEYS = frozenset({"geom", "lon", "lat", "position_approximate"})
_BOOKKEEPING = frozenset({"status", "retired_reason", "version", "created_at", "updated_at", "is_demo"})


def stamp_changes(record, changed, source: str, *, ref: str | None = None, checked_on: date | None = None) -> None:
    """Stamp ``source`` on the parts of ``record`` that the keys in ``changed`` belong to (nothing when empty).

    A moved point stamps the position; any other field (name, dates, plot, description…) stamps the facts.
    A part the record keeps no provenance for is passed over (a martyr has no position).
    """
    changed = set(changed) - _BOOKKEEPING
    parts = []
    if changed & POSITION_KEYS:
        parts.append("position")
    if changed - POSITION_KEYS:
        parts.append("facts")
    for part in parts:
        if isinstance(record, PROVENANCE_PARTS[part]):
            stamp(record, part, source, ref=ref, checked_on=checked_on)

"""Where a record's position and key facts come from, and when they were last checked.

Two mixins give a model the columns; the codes of ``*_source`` are ``vocab.PROVENANCE_SOURCES``, and
``*_source_ref`` names the evidence (a ledger file's SHA-256, a correction's reference number, an uploaded
GeoPackage's hash, an inspection's id). A NULL source means the registry does not know: rows older than
migration ``0018_provenance`` keep it so rather than be given an origin nobody recorded.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Text
from sqlalchemy.orm import Mapped, mapped_column


class PositionSource:
    """Where the point came from and when it was last checked."""

    position_source: Mapped[str | None] = mapped_column(Text)
    position_source_ref: Mapped[str | None] = mapped_column(Text)
    position_checked_on: Mapped[date | None] = mapped_column(Date)


class FactsSource:
    """Where the name, dates and description came from and when they were last checked."""

    facts_source: Mapped[str | None] = mapped_column(Text)
    facts_source_ref: Mapped[str | None] = mapped_column(Text)
    facts_checked_on: Mapped[date | None] = mapped_column(Date)


PROVENANCE_PARTS = {"position": PositionSource, "facts": FactsSource}

"""Ledger imports of relocations: saved column mappings and import batches (one per imported file)."""

from __future__ import annotations

from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import JSONText


class ColumnMapping(Record, Base):
    """A saved column mapping: a bureau's header spellings -> ledger fields, reused at each import."""

    __tablename__ = "relocation_column_mappings"

    name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    mapping: Mapped[dict] = mapped_column(JSONText, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)


class ImportBatch(Record, Base):
    """One imported ledger file: its content hash makes a second import of the same file add nothing."""

    __tablename__ = "relocation_import_batches"

    content_hash: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    crs: Mapped[str] = mapped_column(Text, nullable=False)
    mapping: Mapped[dict | None] = mapped_column(JSONText)
    rows_read: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_added: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_existing: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    warnings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    actor_name: Mapped[str] = mapped_column(Text, nullable=False)
    codes: Mapped[list | None] = mapped_column(JSONText)  # codes of the relocations this file added

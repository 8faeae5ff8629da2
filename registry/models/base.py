"""The declarative base and the columns every archive record shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, MetaData, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from registry.models.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base; table names are given explicitly on each model."""

    metadata = MetaData(naming_convention=NAMING)


class Record:
    """An editable archive record: integer key, demo flag, timestamps, status and an optimistic version.

    Rows are never deleted: retiring sets ``status`` to ``retired``. ``version`` is SQLAlchemy's
    version counter, so an UPDATE made from a stale copy matches no row and is refused.
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(Text, default="active", nullable=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}

    @declared_attr.directive
    def __table_args__(cls):
        # AUTOINCREMENT: a retired or rolled-back id is never handed out again.
        return {"sqlite_autoincrement": True}

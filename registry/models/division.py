"""Administrative divisions (GB/T 2260): the provinces, cities, counties and townships a registry serves."""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, Float, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base
from registry.models.types import Geometry

DIVISION_LEVELS = ("province", "city", "county", "township", "village")


class Division(Base):
    """One division: its code, name, level, parent, seat and (when known) its boundary.

    The rows are data loaded by ``divisions load``; nothing in the program names a place.
    """

    __tablename__ = "divisions"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False)
    parent_code: Mapped[str | None] = mapped_column(Text, index=True)
    seat_lon: Mapped[float | None] = mapped_column(Float)
    seat_lat: Mapped[float | None] = mapped_column(Float)
    valid_from: Mapped[str | None] = mapped_column(Text)  # ISO date
    valid_to: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The bureau's target of tomb relocations for the division (迁移任务数), when it has one.
    relocation_target: Mapped[int | None] = mapped_column(Integer)
    boundary: Mapped[BaseGeometry | None] = mapped_column(Geometry("MULTIPOLYGON"))
    # A sketched boundary (the demo's): drawn on the map marked approximate, never used to judge a point.
    boundary_approximate: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class DivisionAlias(Base):
    """A former name or code of a division (a renamed or merged county), with the dates it was in use."""

    __tablename__ = "division_aliases"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, nullable=False, index=True)  # the division it now is
    former_code: Mapped[str | None] = mapped_column(Text)
    former_name: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[str | None] = mapped_column(Text)
    valid_to: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

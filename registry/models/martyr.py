"""The roll of martyrs (烈士英名录) and the tombs where they lie."""

from __future__ import annotations

from datetime import date

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, ForeignKey, Index, Integer, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record
from registry.models.provenance import FactsSource, PositionSource
from registry.models.types import Geometry, StoredDate


class Martyr(FactsSource, Record, Base):
    """A martyr on the roll; unknown martyrs (无名烈士) are recorded, not hidden."""

    __tablename__ = "martyrs"

    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_pinyin: Mapped[str | None] = mapped_column(Text, index=True)  # full pinyin, no tones, for search
    name_initials: Mapped[str | None] = mapped_column(Text, index=True)
    is_unknown: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    sex: Mapped[str | None] = mapped_column(Text)
    native_place: Mapped[str | None] = mapped_column(Text)
    native_county_code: Mapped[str | None] = mapped_column(Text)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    birth_date: Mapped[date | None] = mapped_column(StoredDate)  # lenient: see StoredDate
    death_year: Mapped[int | None] = mapped_column(Integer, index=True)
    death_date: Mapped[date | None] = mapped_column(StoredDate)
    enlisted_year: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(Text)
    rank: Mapped[str | None] = mapped_column(Text)
    place_of_death: Mapped[str | None] = mapped_column(Text)
    cause_of_death: Mapped[str | None] = mapped_column(Text)
    deeds: Mapped[str | None] = mapped_column(Text)

    tombs: Mapped[list[Tomb]] = relationship(back_populates="martyr")


class Tomb(PositionSource, FactsSource, Record, Base):
    """Where a martyr lies: a facility, a plot (area, row, number) and a point."""

    __tablename__ = "tombs"
    # The few retired tombs, so cluster counts can leave them out without reading every tomb row.
    __table_args__ = (
        Index("ix_tombs_retired", "id", sqlite_where=text("status = 'retired'"),
              postgresql_where=text("status = 'retired'")),
        {"sqlite_autoincrement": True},
    )

    martyr_id: Mapped[int | None] = mapped_column(ForeignKey("martyrs.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    plot_area: Mapped[str | None] = mapped_column(Text)
    plot_row: Mapped[str | None] = mapped_column(Text)
    plot_number: Mapped[str | None] = mapped_column(Text)
    # in_place, awaiting_relocation, relocated (now at its destination); retiring is `status`
    state: Mapped[str] = mapped_column(Text, default="in_place", nullable=False)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"), nullable=False)

    martyr: Mapped[Martyr | None] = relationship(back_populates="tombs")


# One active tomb per plot (facility, area, row, number), kept by the store itself so two writers cannot both
# fill an empty plot. A missing area or row counts as the empty one ('A区 / - / 5号' is one plot however it is
# written); tombs without a facility or a plot number (scattered graves) are not plots. Migration 0011.
ACTIVE_PLOT = text("status = 'active' AND facility_id IS NOT NULL AND plot_number IS NOT NULL")
Index("ux_tombs_active_plot", Tomb.facility_id, func.coalesce(Tomb.plot_area, text("''")),
      func.coalesce(Tomb.plot_row, text("''")), Tomb.plot_number, unique=True,
      sqlite_where=ACTIVE_PLOT, postgresql_where=ACTIVE_PLOT)

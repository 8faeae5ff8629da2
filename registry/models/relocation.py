"""Tomb relocations (迁移): from the grave where a martyr first lay to the plot where they lie now."""

from __future__ import annotations

from datetime import date

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, Date, Float, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import Geometry, JSONText


class Relocation(Record, Base):
    """One tomb's move; its geometry is the journey, a line from origin to destination.

    The origin is also kept as plain longitude/latitude so that a relocation whose destination
    is not yet known still records where the grave was.
    """

    __tablename__ = "relocations"

    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    tomb_id: Mapped[int | None] = mapped_column(ForeignKey("tombs.id"), index=True)
    martyr_id: Mapped[int | None] = mapped_column(ForeignKey("martyrs.id"), index=True)
    origin_place: Mapped[str | None] = mapped_column(Text)
    origin_county_code: Mapped[str | None] = mapped_column(Text, index=True)
    origin_township: Mapped[str | None] = mapped_column(Text)
    origin_village: Mapped[str | None] = mapped_column(Text)
    origin_lon: Mapped[float | None] = mapped_column(Float)
    origin_lat: Mapped[float | None] = mapped_column(Float)
    origin_point_method: Mapped[str | None] = mapped_column(Text)  # gps, map, ledger, estimate
    dest_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    dest_plot_area: Mapped[str | None] = mapped_column(Text)
    dest_plot_row: Mapped[str | None] = mapped_column(Text)
    dest_plot_number: Mapped[str | None] = mapped_column(Text)
    family_consent: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    consent_by: Mapped[str | None] = mapped_column(Text)
    consent_relation: Mapped[str | None] = mapped_column(Text)
    approval_number: Mapped[str | None] = mapped_column(Text)
    approval_body: Mapped[str | None] = mapped_column(Text)
    # Dated steps, in the order they must happen.
    surveyed_on: Mapped[date | None] = mapped_column(Date)
    consent_on: Mapped[date | None] = mapped_column(Date)
    approved_on: Mapped[date | None] = mapped_column(Date)
    exhumed_on: Mapped[date | None] = mapped_column(Date)
    reburied_on: Mapped[date | None] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    batch: Mapped[str | None] = mapped_column(Text, index=True)
    project: Mapped[str | None] = mapped_column(Text)
    funding_source: Mapped[str | None] = mapped_column(Text)
    funding_amount: Mapped[float | None] = mapped_column(Float)  # yuan
    effects: Mapped[list | None] = mapped_column(JSONText)  # personal effects found, a list of strings
    stage: Mapped[str] = mapped_column(Text, default="planned", nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry | None] = mapped_column(Geometry("LINESTRING"))

"""Inspections (巡查) of facilities and the maintenance tasks that follow from them."""

from __future__ import annotations

from datetime import date, datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import Geometry, UTCDateTime


class Inspection(Record, Base):
    """One visit to a facility; its point is where the inspector stood (NULL when no fix was taken)."""

    __tablename__ = "inspections"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), nullable=False, index=True)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inspector_name: Mapped[str | None] = mapped_column(Text)
    inspected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    tier: Mapped[str] = mapped_column(Text, default="station", nullable=False)  # station, county, city
    condition: Mapped[str] = mapped_column(Text, nullable=False)
    std_marker: Mapped[str | None] = mapped_column(Text)
    std_deeds: Mapped[str | None] = mapped_column(Text)
    std_headstone: Mapped[str | None] = mapped_column(Text)
    std_boundary: Mapped[str | None] = mapped_column(Text)
    std_rules: Mapped[str | None] = mapped_column(Text)
    std_road: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[str | None] = mapped_column(Text)
    distance_m: Mapped[float | None] = mapped_column(Float)
    on_site: Mapped[bool | None] = mapped_column(Boolean)
    idempotency_key: Mapped[str | None] = mapped_column(Text, unique=True)
    geom: Mapped[BaseGeometry | None] = mapped_column(Geometry("POINT"))
    # The facility's version the form was opened on; an inspection arriving after a newer one is flagged.
    facility_version_seen: Mapped[int | None] = mapped_column(Integer)
    facility_changed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)


class MaintenanceTask(Record, Base):
    """A work order (维修/整修): a problem turned into a task with priority, cost and funding."""

    __tablename__ = "maintenance_tasks"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), nullable=False, index=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text, default="normal", nullable=False)  # urgent, high, normal, low
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date | None] = mapped_column(Date)
    cost_estimate: Mapped[float | None] = mapped_column(Float)
    cost_actual: Mapped[float | None] = mapped_column(Float)
    funding_source: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="open", nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

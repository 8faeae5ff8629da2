"""Preservation plans (保护利用规划) and improvement projects: their zones and funding lines."""

from __future__ import annotations

from datetime import date, datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Date, Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import Geometry, JSONText, UTCDateTime


class PreservationPlan(Record, Base):
    """A plan or project moving through draft, submitted, returned and approved."""

    __tablename__ = "preservation_plans"

    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, default="plan", nullable=False)  # plan, project
    scope: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)
    targets: Mapped[list | None] = mapped_column(JSONText)
    budget: Mapped[float | None] = mapped_column(Float)  # yuan
    start_on: Mapped[date | None] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(Text, default="draft", nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_comment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlanZone(Record, Base):
    """A zone of a plan's scope, with the measures planned inside it."""

    __tablename__ = "plan_zones"

    plan_id: Mapped[int] = mapped_column(ForeignKey("preservation_plans.id"), nullable=False, index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    name: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("MULTIPOLYGON"), nullable=False)


class FundingLine(Record, Base):
    """Money for a plan from one source: allocated against spent, by county and year."""

    __tablename__ = "funding_lines"

    plan_id: Mapped[int] = mapped_column(ForeignKey("preservation_plans.id"), nullable=False, index=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    county_code: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    amount_allocated: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    amount_spent: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)

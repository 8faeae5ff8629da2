"""Planners' records: saved conflict checks of proposed projects and the kept versions of preservation plans."""

from __future__ import annotations

from datetime import datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import Geometry, JSONText, UTCDateTime, utcnow


class ConflictCheck(Record, Base):
    """A proposed project's outline checked against protection ranges, control zones and nearby facilities.

    The outline is kept as drawn or uploaded (a line or a polygon); the findings are kept as they were
    at the time of the check, so a reviewer opening it later reads what the planner saw.
    """

    __tablename__ = "conflict_checks"

    project_name: Mapped[str] = mapped_column(Text, nullable=False)
    outline_kind: Mapped[str] = mapped_column(Text, nullable=False)  # line, polygon
    distance_m: Mapped[float] = mapped_column(Float, nullable=False)
    verdict: Mapped[str] = mapped_column(Text, nullable=False)  # forbidden, review, clear
    results: Mapped[dict] = mapped_column(JSONText, nullable=False)
    source: Mapped[str | None] = mapped_column(Text)  # drawn, uploaded file name
    note: Mapped[str | None] = mapped_column(Text)  # what a repair changed
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("GEOMETRY"), nullable=False)


class PlanVersion(Base):
    """One kept version of a preservation plan: its whole content at a step of its review. Never updated."""

    __tablename__ = "plan_versions"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("preservation_plans.id"), nullable=False, index=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)  # create, edit, submit, return, approve
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(Text, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    content: Mapped[dict] = mapped_column(JSONText, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

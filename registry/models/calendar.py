"""Days of remembrance a facility keeps (an opening, a battle's anniversary) and the work orders prepared for days."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import JSONText, UTCDateTime, utcnow


class FacilityDay(Record, Base):
    """A day a facility keeps every year (month and day), added by the county's managers; retiring is a state."""

    __tablename__ = "facility_days"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False, default="other")  # opening, battle, other
    month: Mapped[int] = mapped_column(Integer, nullable=False)
    day: Mapped[int] = mapped_column(Integer, nullable=False)
    since_year: Mapped[int | None] = mapped_column(Integer)  # the year it first happened, for "the Nth anniversary"
    note: Mapped[str | None] = mapped_column(Text)


class CalendarOrder(Base):
    """The cleaning and preparation work order made for one facility and one day of remembrance.

    The store keeps one per facility and date (so one per facility, day and year): two runs of the
    preparation, or two kinds of day falling on one date, can never make a second order.
    """

    __tablename__ = "calendar_orders"
    __table_args__ = (UniqueConstraint("facility_id", "day_on"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), nullable=False)
    day_on: Mapped[date] = mapped_column(Date, nullable=False)
    task_id: Mapped[int] = mapped_column(ForeignKey("maintenance_tasks.id"), nullable=False, unique=True)
    occasions: Mapped[list] = mapped_column(JSONText, nullable=False, default=list)  # what the day is, by name
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

"""The memorial facility aggregate: the facility, its history of names, its zones; red heritage sites."""

from __future__ import annotations

from datetime import date, datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record
from registry.models.provenance import FactsSource, PositionSource
from registry.models.types import Geometry, UTCDateTime, utcnow


class Facility(PositionSource, FactsSource, Record, Base):
    """A martyr memorial facility (烈士纪念设施); its point is where it stands."""

    __tablename__ = "facilities"

    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)  # the approved name of record
    category: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False, default="ungraded")
    level_approved_by: Mapped[str | None] = mapped_column(Text)
    level_approved_on: Mapped[date | None] = mapped_column(Date)
    protection_unit: Mapped[str | None] = mapped_column(Text)
    managing_unit: Mapped[str | None] = mapped_column(Text)
    caretaker: Mapped[str | None] = mapped_column(Text)
    caretaker_phone: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    county_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    visiting_info: Mapped[str | None] = mapped_column(Text)
    area_m2: Mapped[float | None] = mapped_column(Float)
    material: Mapped[str | None] = mapped_column(Text)
    dimensions: Mapped[str | None] = mapped_column(Text)
    sign_present: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    land_title_registered: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The 六个一 checklist as last confirmed: present / deficient / missing, or NULL when never checked.
    std_marker: Mapped[str | None] = mapped_column(Text)
    std_deeds: Mapped[str | None] = mapped_column(Text)
    std_headstone: Mapped[str | None] = mapped_column(Text)
    std_boundary: Mapped[str | None] = mapped_column(Text)
    std_rules: Mapped[str | None] = mapped_column(Text)
    std_road: Mapped[str | None] = mapped_column(Text)
    position_approximate: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    retired_reason: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"), nullable=False)

    names: Mapped[list[FacilityName]] = relationship(
        back_populates="facility", order_by="FacilityName.valid_from", cascade="save-update, merge"
    )
    zones: Mapped[list[FacilityZone]] = relationship(back_populates="facility", cascade="save-update, merge")


class FacilityName(Base):
    """One name a facility has borne; renaming needs approval, and every former name is kept."""

    __tablename__ = "facility_names"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    approval_number: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    facility: Mapped[Facility] = relationship(back_populates="names")


class FacilityZone(Record, Base):
    """A footprint, protection range (保护范围) or construction-control zone (建设控制地带) of a facility.

    A superseded zone keeps its row with ``status = 'superseded'``, so the history of a range stays.
    """

    __tablename__ = "facility_zones"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    reported_on: Mapped[date | None] = mapped_column(Date)  # reported upward (报备) on
    approved_by: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # drawn, uploaded, buffer, demo
    area_m2: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("MULTIPOLYGON"), nullable=False)

    facility: Mapped[Facility] = relationship(back_populates="zones")


class HeritageSite(PositionSource, FactsSource, Record, Base):
    """A red heritage site (红色文化遗存 / 革命旧址) of 1919–1949; some are red education bases."""

    __tablename__ = "heritage_sites"

    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str | None] = mapped_column(Text)  # 会址, 旧址, 遗址, 纪念馆 …
    period: Mapped[str | None] = mapped_column(Text)
    heritage_level: Mapped[str | None] = mapped_column(Text)  # cultural relic protection level
    education_base: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    education_base_level: Mapped[str | None] = mapped_column(Text)
    county_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    township: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    position_approximate: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"), nullable=False)

"""Veterans service stations (退役军人服务中心（站）): one at every level from the city down to the village."""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.provenance import FactsSource, PositionSource
from registry.models.types import Geometry


class ServiceStation(PositionSource, FactsSource, Record, Base):
    """A veterans service centre or station, its demonstration status and its 五有 checklist.

    ``level`` is city, county, township or village (codes of ``vocab.STATION_LEVELS``); ``demonstration``
    is none, national_model or provincial_advanced (``vocab.STATION_DEMONSTRATION``). The five booleans are
    the 五有 (``vocab.FIVE_HAVES``): a body, posts, staff, funds and provisions.
    """

    __tablename__ = "service_stations"

    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    county_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    demonstration: Mapped[str] = mapped_column(Text, nullable=False, default="none")
    has_body: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    has_posts: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    has_staff: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    has_funds: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    has_provisions: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    position_approximate: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"), nullable=False)

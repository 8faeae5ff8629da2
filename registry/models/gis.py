"""API tokens: how GIS clients (QGIS, a provincial platform) read the staff collections without a browser session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import JSONText, UTCDateTime


class ApiToken(Record, Base):
    """A bearer token; only its SHA-256 is stored, so a copy of the registry does not hand out access."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)  # first characters, to tell tokens apart in lists
    roles: Mapped[list] = mapped_column(JSONText, nullable=False, default=list)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

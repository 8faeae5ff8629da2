"""What differs by store in the public services: the interface its GeoPackage (``_gpkg``) and PostGIS
(``_postgis``) siblings implement, as ``registry.spatial`` does for the spatial queries; ``stores.for_store``
picks one.

A tribute is written in one transaction with its token from the client's bucket, its running count and its
audit event. Each sibling writes it the way its store answers fast under a Qingming crowd (PostGIS: one
statement, one round trip; GeoPackage: a few statements on one connection under SQLite's write lock). The
SQL was tuned (``bench/qingming.py``); ``tests/registry/test_public_speed.py`` and
``tests/registry/test_public_tribute.py`` check it. The pieces both share are here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db import Store
from registry.models import Facility, Martyr, Tribute, TributeCount
from registry.services.base import Actor, ServiceError

TARGETS = {"martyr": Martyr, "facility": Facility}
# (bucket size, seconds per new token): a burst of 5 tributes, then one every 6 seconds per client.
TRIBUTE_RATE = (5.0, 6.0)
PUBLIC = Actor(name="public")


class RateLimited(ServiceError):
    """Too many submissions from one client in a short time; nothing was written."""

    status = 429


@dataclass(frozen=True)
class TributeResult:
    """What a visitor is told: the tribute, whether this call made it, and the flowers now laid."""

    tribute_id: int
    kind: str
    moderation: str
    created: bool
    flowers: int


def flowers_of(session: Session, target_type: str, target_id: int) -> int:
    return session.scalar(select(TributeCount.flowers).where(TributeCount.target_type == target_type,
                                                             TributeCount.target_id == target_id)) or 0


def existing_tribute(store: Store, key: str) -> TributeResult | None:
    with store.session() as session:
        tribute = session.scalar(select(Tribute).where(Tribute.idempotency_key == key))
        if tribute is None:
            return None
        return TributeResult(tribute.id, tribute.kind, tribute.moderation, False,
                             flowers_of(session, tribute.target_type, tribute.target_id))

def audit_after(tribute_id: int | None, values: dict) -> dict:
    """The audit event's picture of a new tribute: what ``snapshot`` would give for the row just written."""
    after = {column.key: None for column in Tribute.__table__.columns}
    after.update({key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()})
    after["id"] = tribute_id
    return after


def wait_message(tokens: float, seconds: float) -> RateLimited:
    wait = int((1.0 - tokens) * seconds) + 1
    return RateLimited(_RATE_MESSAGE.format(seconds=wait))


_RATE_MESSAGE = "Too many tributes from this device in a short time; please wait {seconds} seconds."


class PublicBackend(ABC):
    """The store-specific statements of the public services, for the store ``kind`` names."""

    kind: str
    dialect: str  # SQLAlchemy's name for the store's database
    upsert: object  # the dialect's INSERT with ON CONFLICT (``insert(table).on_conflict_do_...``)
    # ``roll``: a name's substring test written LIKE (True) or strpos (False; PostgreSQL's planner estimates
    # LIKE from the column's statistics and may leave the posting-list walk).
    substring_by_like: bool
    # ``name_grams``: the indexed text of each martyr (see registry.models.name_grams.indexed_text), the name
    # with ASCII letters folded (SQLite's lower() folds only ASCII; PostgreSQL's lower() would fold more, so
    # translate); the function finding a substring's position; the INSERT of the grams from ``{source}``.
    name_text_sql: str
    find_function: str
    name_grams_sql: str
    # The tomb layer's clusters (``features``): the live tombs in a box (:minx, :miny, :maxx, :maxy) counted
    # up to :n, and counted per grid cell of :cell degrees with their mean position (gx, gy, count, x, y).
    tomb_count_sql: str
    tomb_grid_sql: str

    def tomb_count_upto(self, session: Session, params: dict) -> int:
        return int(session.execute(text(self.tomb_count_sql), params).scalar_one())

    def tomb_cells(self, session: Session, params: dict) -> list:
        return session.execute(text(self.tomb_grid_sql), params).all()

    @abstractmethod
    def submit_tribute(self, store: Store, target_type: str, target_id: int, values: dict) -> TributeResult:
        """Write the tribute ``values`` (a flower counts at once) with its token, count and audit event, or answer
        with the tribute already written under its idempotency key."""

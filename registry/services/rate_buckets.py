"""Purge of refilled rate buckets, so the ``rate_buckets`` table holds only clients seen lately."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from registry.db import Store
from registry.models import RateBucket
from registry.models.types import utcnow
from registry.services.base import unit_of_work
from registry.services.corrections.submit import CORRECTION_RATE
from registry.services.public.reports import REPORT_RATE
from registry.services.public.tribute import TRIBUTE_RATE

# Every kind of bucket by key prefix, with its (capacity, seconds per token). A bucket left alone for
# capacity x seconds is full whatever it held, and a full bucket is the same as no row: the next take
# inserts it full again. Keys of any other prefix are never purged, so a kind added elsewhere stays safe
# until it is listed here.
RATES: dict[str, tuple[float, float]] = {"tribute:": TRIBUTE_RATE, "report:": REPORT_RATE,
                                         "correction:": CORRECTION_RATE}


def refill_seconds(rate: tuple[float, float]) -> float:
    capacity, seconds = rate
    return capacity * seconds


def purge_refilled(store: Store, now: datetime | None = None) -> int:
    """Delete every bucket that has refilled by ``now``; the number deleted. A bucket-table chore, not a record."""
    now = now or utcnow()
    deleted = 0
    with unit_of_work(store) as session:
        for prefix, rate in RATES.items():
            cutoff = now - timedelta(seconds=refill_seconds(rate))
            result = session.execute(delete(RateBucket).where(RateBucket.key.startswith(prefix, autoescape=True),
                                                              RateBucket.refreshed_at < cutoff))
            deleted += result.rowcount or 0
    return deleted

"""What differs by store in the managers' queries: the interface its GeoPackage (``_gpkg``) and PostGIS
(``_postgis``) siblings implement, as ``registry.spatial`` does for the spatial queries; ``stores.for_store``
picks one.

The due list (``due.statuses``) is one statement on both stores: per facility the last active inspection of
each tier, the latest condition and the work orders. The siblings build it each in the plan its store answers
fast (GeoPackage: the tables joined and grouped; PostGIS: a LATERAL aggregate and correlated subqueries), from
the pieces here that both share. The SQL was tuned (``bench/manage.py``); ``tests/registry/test_manage_due_fast.py``
checks it against a plain computation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy import case, func, literal, type_coerce
from sqlalchemy.types import NullType

from registry.models import Facility, Inspection, MaintenanceTask

# Tasks that still need work or a second person's check keep a problem open.
ACTIVE_TASK_STATES = ("open", "in_progress", "done")
# The worse conditions, worst first: of two inspections at the same moment the worse one counts.
CONDITION_RANK = {"critical": 3, "poor": 2, "fair": 1}

FACILITIES, INSPECTIONS, TASKS = Facility.__table__.c, Inspection.__table__.c, MaintenanceTask.__table__


def raw(column):
    """``column`` typed without a result processor: its value comes as the driver gives it."""
    return type_coerce(column, NullType())


def last(when):
    """The time of the last inspection for which ``when`` holds (aggregate)."""
    return func.max(case((when, INSPECTIONS.inspected_at), else_=literal(None)))


@dataclass(frozen=True)
class DueParts:
    """The pieces of the due list's statement that both stores share."""

    conditions: list
    columns: list
    live: object          # the work orders that count: active and not cancelled
    is_active: object     # 1 for a work order still needing work or a check, else 0
    tasked: object        # the inspections work orders were made from (an alias)
    county_tier: object
    city_tier: object

    @classmethod
    def of(cls, conditions: list) -> DueParts:
        """The shared pieces, for the facilities matching ``conditions``."""
        f = FACILITIES
        columns = [f.id, f.code, f.name, f.county_code, f.township, f.level, f.category,
                   raw(f.created_at).label("created_at")]
        return cls(conditions=conditions, columns=columns,
                   live=(TASKS.c.status == "active") & (TASKS.c.state != "cancelled"),
                   is_active=case((TASKS.c.state.in_(ACTIVE_TASK_STATES), 1), else_=0),
                   tasked=Inspection.__table__.alias("tasked"),
                   county_tier=INSPECTIONS.tier.in_(("county", "city")), city_tier=INSPECTIONS.tier == "city")


class ManageBackend(ABC):
    """The store-specific statements of the managers' pages, for the store ``kind`` names."""

    kind: str
    # True when the store gives timestamps as fixed-width UTC text (GeoPackage) rather than datetimes; the due
    # list's last two columns then hold the last visit and its condition rank packed in one text.
    text_times: bool

    @abstractmethod
    def due_select(self, parts: DueParts):
        """The due list's SELECT: the facility columns, then active work orders, last tasked inspection, last
        county and city visits, last visit and latest condition."""

    def prepare(self, connection) -> None:
        """Settings for the transaction that reads the due list (none by default)."""
        return None

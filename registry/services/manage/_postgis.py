"""The managers' queries on PostGIS (PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import case, func, literal, select, true

from registry.models import Facility
from registry.services.manage.backend import (
    CONDITION_RANK,
    FACILITIES,
    INSPECTIONS,
    TASKS,
    DueParts,
    ManageBackend,
    last,
    raw,
)


class PostGISQueries(ManageBackend):
    kind = "postgis"
    text_times = False

    def due_select(self, parts: DueParts):
        # A LATERAL aggregate per facility, one probe of the facility_id index each. That plan does not depend
        # on statistics: grouping first and joining back, it chose a nested loop over the grouped rows with
        # stale statistics (just after a bulk load) and took minutes; grouping the join, it sorted every
        # inspection with the facilities' names on disk.
        any_visit = func.max(INSPECTIONS.inspected_at)
        worst = case(*((last(INSPECTIONS.condition == c) == any_visit, literal(c)) for c in CONDITION_RANK),
                     (any_visit.is_not(None), literal("good")), else_=literal(None))
        seen = (select(raw(last(parts.county_tier)).label("last_county"), raw(last(parts.city_tier)).label("last_city"),
                       raw(any_visit).label("last_any"), worst.label("latest_condition"))
                .where(INSPECTIONS.facility_id == FACILITIES.id, INSPECTIONS.status == "active")
                .lateral("seen"))
        # Work orders are few: a correlated subquery each, answered from the facility_id index.
        tasked = parts.tasked
        mine = (TASKS.c.facility_id == FACILITIES.id) & parts.live
        active = select(func.sum(parts.is_active)).select_from(TASKS).where(mine).scalar_subquery()
        last_tasked = (select(func.max(tasked.c.inspected_at)).select_from(TASKS)
                       .join(tasked, tasked.c.id == TASKS.c.inspection_id).where(mine).scalar_subquery())
        return (select(*parts.columns, active.label("active"), raw(last_tasked).label("last_tasked"),
                       seen.c.last_county, seen.c.last_city, seen.c.last_any, seen.c.latest_condition)
                .select_from(Facility.__table__.outerjoin(seen, true()))
                .where(*parts.conditions))

    def prepare(self, connection) -> None:
        # Timestamps in UTC for this transaction: the driver then gives Python's own UTC, with which the
        # date arithmetic of the due list is several times faster than with a zoneinfo time zone.
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")

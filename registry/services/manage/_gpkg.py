"""The managers' queries on a GeoPackage (SQLite)."""

from __future__ import annotations

from sqlalchemy import String, case, func, literal, select

from registry.models import Facility, Inspection
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


class GeoPackageQueries(ManageBackend):
    kind = "geopackage"
    text_times = True

    def due_select(self, parts: DueParts):
        # The two tables joined and grouped by facility. GeoPackage timestamps are fixed-width text, so one
        # max() over the time followed by a digit for the condition (worst highest) gives both the last visit
        # and its condition, the worse of two at the same moment.
        ranked = case(*((INSPECTIONS.condition == c, literal(str(r))) for c, r in CONDITION_RANK.items()),
                      else_=literal("0"))
        tasked = parts.tasked
        # Work orders are few: grouped once and joined (SQLite indexes the grouped rows on the fly).
        work = (select(TASKS.c.facility_id.label("fid"), func.sum(parts.is_active).label("active"),
                       func.max(tasked.c.inspected_at).label("last_tasked"))
                .select_from(TASKS.outerjoin(tasked, tasked.c.id == TASKS.c.inspection_id))
                .where(parts.live).group_by(TASKS.c.facility_id).subquery("work"))
        return (
            select(*parts.columns, func.max(work.c.active).label("active"), raw(func.max(work.c.last_tasked)),
                   raw(last(parts.county_tier)).label("last_county"), raw(last(parts.city_tier)).label("last_city"),
                   func.max(INSPECTIONS.inspected_at.op("||", return_type=String)(ranked)).label("latest"),
                   literal(None).label("unused"))
            .select_from(Facility.__table__.outerjoin(
                Inspection.__table__, (INSPECTIONS.facility_id == FACILITIES.id) & (INSPECTIONS.status == "active"))
                .outerjoin(work, work.c.fid == FACILITIES.id))
            .where(*parts.conditions)
            .group_by(FACILITIES.id)
        )


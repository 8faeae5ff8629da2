"""The ``manage`` blueprint and what its pages share: who reads and writes, the counties, the cadence.

``pages``, ``field`` and ``visits`` put their routes on it; ``offline`` gives its own blueprint the same
template helpers.
"""

from __future__ import annotations

from flask import Blueprint, current_app

from maps.maintenance import STATUS_COLOURS, TREND_COLOURS
from registry.extensions import get_store
from registry.models.vocab import (
    CATEGORIES,
    CHECK_LABELS,
    CHECK_STATES,
    CONDITION_LABELS,
    CONDITIONS,
    DUE_STATUS_LABELS,
    FUNDING_SOURCES,
    LEVELS,
    RISK_GRADES,
    SIX_ONES,
    TASK_PRIORITIES,
    TASK_STATE_LABELS,
    TIER_LABELS,
    TRENDS,
)
from registry.services import Forbidden, divisions
from registry.services.access import readable_counties
from registry.services.manage.due import Cadence
from registry.solar_terms import BEIJING
from registry.web.errors import respond
from registry.web.system.auth import audit_forbidden

bp = Blueprint("manage", __name__, url_prefix="/manage")


def county_seats() -> dict[str, tuple]:
    """The registry's current counties (code -> name, seat lon, lat), read from its divisions."""
    return divisions.counties(get_store())


READ = ("manager", "reviewer")
WRITE = ("manager",)


@bp.errorhandler(Forbidden)
def forbidden(exc: Forbidden):
    """A county outside the user's scope: 403, and the attempt is kept in the audit trail."""
    audit_forbidden(exc.message)
    return respond(403, exc.message, exc.field)


@bp.context_processor
def helpers():
    """The managers' templates' tables of codes and labels, and their local-time filter."""
    def local(when, fmt="%Y-%m-%d %H:%M"):
        return when.astimezone(BEIJING).strftime(fmt) if when else ""

    return {
        "local": local, "STATUS_LABELS": DUE_STATUS_LABELS, "STATUS_COLOURS": STATUS_COLOURS,
        "TREND_COLOURS": TREND_COLOURS, "PRIORITIES": RISK_GRADES, "TRENDS": TRENDS, "TIER_LABELS": TIER_LABELS,
        "CONDITION_LABELS": CONDITION_LABELS, "CHECK_LABELS": CHECK_LABELS, "SIX_ONES": SIX_ONES,
        "COUNTIES": county_seats(), "CITIES": {d.code: d.name for d in divisions.current(get_store()).current("city")},
        "LEVELS": LEVELS, "CATEGORIES": CATEGORIES, "STATE_LABELS": TASK_STATE_LABELS,
        "TASK_PRIORITIES": TASK_PRIORITIES, "FUNDING_SOURCES": FUNDING_SOURCES, "CONDITIONS": CONDITIONS,
        "CHECK_STATES": CHECK_STATES,
    }


def cadence() -> Cadence:
    """The inspection cadence the settings give."""
    return Cadence.from_config(current_app.config)


def counties_for(actor) -> list[str]:
    """The current counties the actor may read, in the registry's order."""
    allowed = readable_counties(actor)
    return list(county_seats()) if allowed is None else [c for c in county_seats() if c in allowed]

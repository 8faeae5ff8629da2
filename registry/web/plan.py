"""The planners' area: zones, the conflict check, preservation plans and funds."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from registry.web.auth import role_required

bp = Blueprint("plan", __name__, url_prefix="/plan")


@bp.get("")
@role_required("planner", "reviewer")
def index():
    """The area's landing page."""
    return render_template("areas/placeholder.html", heading=_("保护规划"))

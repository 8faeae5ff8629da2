"""The tomb relocation registry: records, ledger import, journeys, reconciliation."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from registry.web.auth import role_required

bp = Blueprint("relocations", __name__, url_prefix="/relocations")


@bp.get("")
@role_required("manager", "reviewer", "planner")
def index():
    """The area's landing page."""
    return render_template("areas/placeholder.html", heading=_("烈士墓迁移"))

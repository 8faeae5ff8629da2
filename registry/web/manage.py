"""The managers' area: facilities due for inspection, inspections, work orders, the archive."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from registry.web.auth import role_required

bp = Blueprint("manage", __name__, url_prefix="/manage")


@bp.get("")
@role_required("manager")
def index():
    """The area's landing page."""
    return render_template("areas/placeholder.html", heading=_("设施管理"))

"""The ``relocations`` blueprint and who may use it; ``pages`` and ``ledger_import`` put their routes on it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("relocations", __name__, url_prefix="/relocations")

# Planners read relocations (without the family's consent) for planning; reviewers read every county;
# only a county's managers (and administrators) write them or import ledgers (services/access.py).
READERS = ("manager", "reviewer", "planner")
WRITERS = ("manager",)
CRS_CHOICES = (("EPSG:4326", "WGS 84"), ("EPSG:4490", "CGCS2000"), ("GCJ-02", "GCJ-02"), ("BD-09", "BD-09"))

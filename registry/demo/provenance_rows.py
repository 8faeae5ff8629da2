"""Where the demo's positions and facts come from: provenance columns for its facilities, heritage sites,
tombs, martyrs and service stations, added to rows already built.

The demo gives the sources a real registry would hold rather than one "demo" marker, so the public pages
and the OGC filters show each wording: most facilities surveyed on site with GPS, approximate points
digitised from a map, tombs and martyrs from a ledger import. The ledger's reference is a made-up hash
that says it is demo (``demo-…``); every record is ``is_demo`` as before. The choices come from their own
random stream, one per chunk (seeded by the seed, the table and the chunk's first id), so no other column
of the demo changes and any chunk is the same whichever order the chunks are read in.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import numpy as np

from registry.demo.figures import TODAY

# The demo ledger's reference: not a real file's SHA-256, and it says so.
LEDGER_IMPORTED_ON = date(2022, 6, 15)
_STREAM = 15  # keeps this stream apart from the layout's
_TABLES = ("facilities", "heritage_sites", "tombs", "martyrs", "service_stations")  # append: the index seeds


def demo_ledger_ref(seed: int) -> str:
    """The reference the demo's ledger import is recorded under (``demo-`` and 12 hex digits)."""
    return "demo-" + hashlib.sha256(f"demo ledger {seed}".encode()).hexdigest()[:12]


def _part(part: str, source: str, ref: str | None, day: date | None) -> dict:
    return {f"{part}_source": source, f"{part}_source_ref": ref, f"{part}_checked_on": day}


def _position(row: dict, u: float, days: int, surveyed: float, ledger: str | None) -> dict:
    """A point: approximate ones digitised from a map, else surveyed (share ``surveyed``), else the ledger's
    (when ``ledger`` is given) or a map's."""
    checked = TODAY - timedelta(days=days)
    if row.get("position_approximate") or u >= surveyed:
        if ledger is not None and u < 0.92:
            return _part("position", "ledger_import", ledger, LEDGER_IMPORTED_ON)
        return _part("position", "map_digitising", None, checked)
    return _part("position", "survey_gps", None, checked)


def add_provenance(table: str, rows: list[dict], seed: int) -> None:
    """Give each row of ``table`` (one of the tables with provenance) its provenance columns, in place."""
    if table not in _TABLES or not rows:
        return
    rng = np.random.default_rng([seed, _STREAM, _TABLES.index(table), rows[0]["id"]])
    share = rng.random(len(rows))
    days = rng.integers(0, 3 * 365, len(rows))
    ledger = demo_ledger_ref(seed)
    for row, u, d in zip(rows, share.tolist(), days.tolist(), strict=True):
        if table == "martyrs":
            row.update(_part("facts", "ledger_import", ledger, LEDGER_IMPORTED_ON))
        elif table == "tombs":
            # Most tombs as the ledger gives them; some surveyed since (the first 12 % of the draw).
            row.update(_position(row, u, d, 0.12, ledger))
            row.update(_part("facts", "ledger_import", ledger, LEDGER_IMPORTED_ON))
        else:
            row.update(_position(row, u, d, 0.85 if table == "facilities" else 0.6, None))
            row.update(_part("facts", "staff_edit", None, TODAY - timedelta(days=d // 2)))

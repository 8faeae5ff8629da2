"""Plots stored bare: the units 区, 排 and 号 are taken off stored areas, rows and numbers (A区 4排 20号 -> A, 4, 20).

Pages show every plot as signed through geodata.plots, which adds the units, so a stored 'A区' read as
'A区区'. Tombs and relocations are both rewritten. Where taking the units off would put two active
tombs on one plot (the one-tomb-per-plot index, ux_tombs_active_plot: '4' and '4号' were two plots to
it), the upgrade is refused with the first few such plots listed and nothing changed: which tomb is the
martyr's is the archivist's decision. The downgrade leaves the values bare (the pages read both).

Revision ID: 0014_ledger
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from geodata.plots import parse_plot
from registry.db import StoreError

revision = "0014_ledger"
down_revision = "0013"
branch_labels = None
depends_on = None

SHOWN = 5


def _changes(conn, table: str, columns: tuple[str, str, str], extra: str = "") -> list[dict]:
    """Rows whose plot changes when bare: id, the bare parts (and the extra columns asked for)."""
    area, row, number = columns
    rows = conn.execute(sa.text(
        f"SELECT id, {area}, {row}, {number}{extra} FROM {table} "
        f"WHERE {area} IS NOT NULL OR {row} IS NOT NULL OR {number} IS NOT NULL")).all()
    out = []
    for r in rows:
        bare = parse_plot(r[1], r[2], r[3])
        out.append({"id": r[0], "a": bare[0], "r": bare[1], "n": bare[2], "changed": bare != tuple(r[1:4]),
                    "rest": tuple(r[4:])})
    return out


def _collisions(tombs: list[dict]) -> list[tuple]:
    """Plots (facility, area, row, number) that would hold two or more active tombs once bare, with their ids."""
    plots: dict[tuple, list] = {}
    changed: set[tuple] = set()
    for t in tombs:
        facility, status = t["rest"]
        if status != "active" or facility is None or t["n"] is None:
            continue
        key = (facility, t["a"] or "", t["r"] or "", t["n"])
        plots.setdefault(key, []).append(t["id"])
        if t["changed"]:
            changed.add(key)
    return sorted((key, sorted(ids)) for key, ids in plots.items() if len(ids) > 1 and key in changed)


def upgrade() -> None:
    conn = op.get_bind()
    tombs = _changes(conn, "tombs", ("plot_area", "plot_row", "plot_number"), ", facility_id, status")
    doubled = _collisions(tombs)
    if doubled:
        listed = "; ".join(f"facility {f}, plot {a or '-'}区 {r or '-'}排 {n}号: tombs {', '.join(map(str, ids))}"
                           for (f, a, r, n), ids in doubled[:SHOWN])
        which = f"the first {SHOWN}" if len(doubled) > SHOWN else "they are"
        raise StoreError(
            f"Migration 0014_ledger (plots stored without their units) cannot be applied: {len(doubled)} plot(s) "
            f"would hold more than one active tomb once '4号' and '4' are read as one plot; {which}: {listed}. "
            "Retire the extra tombs (keep the one the martyr lies in; retiring keeps the record), then run "
            "'flask --app registry db upgrade' again. Nothing was changed.")
    for table, columns, rows in (
            ("tombs", ("plot_area", "plot_row", "plot_number"), tombs),
            ("relocations", ("dest_plot_area", "dest_plot_row", "dest_plot_number"),
             _changes(conn, "relocations", ("dest_plot_area", "dest_plot_row", "dest_plot_number")))):
        changed = [{"id": r["id"], "a": r["a"], "r": r["r"], "n": r["n"]} for r in rows if r["changed"]]
        if changed:
            area, row, number = columns
            conn.execute(sa.text(f"UPDATE {table} SET {area} = :a, {row} = :r, {number} = :n WHERE id = :id"),
                         changed)


def downgrade() -> None:
    # The units are not put back: a bare plot reads the same on every page.
    pass

"""One active tomb per plot: a partial unique index over the active tombs' plots (ux_tombs_active_plot).

A plot is the facility, area, row and number; a missing area or row counts as the empty one, so the index
takes coalesce(plot_area, '') and coalesce(plot_row, ''). Tombs without a facility or a plot number
(scattered graves) hold no plot and are left out, as are retired tombs, so a retired tomb frees its plot.

The services checked the plot before writing, but two writers could both find a plot empty and both fill
it. A registry that already holds such doubles is refused with the first few listed, and nothing is
changed: which tomb to retire is the archivist's decision, never this migration's.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from registry.db import StoreError

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEX = "ux_tombs_active_plot"
ACTIVE_PLOT = "status = 'active' AND facility_id IS NOT NULL AND plot_number IS NOT NULL"
SHOWN = 5


def _doubled_plots(conn) -> tuple[int, list[tuple]]:
    """How many plots hold more than one active tomb, and the first few as (facility, area, row, number, ids)."""
    groups = (f"SELECT facility_id, coalesce(plot_area, '') AS area, coalesce(plot_row, '') AS row_, plot_number "
              f"FROM tombs WHERE {ACTIVE_PLOT} GROUP BY facility_id, coalesce(plot_area, ''), "
              "coalesce(plot_row, ''), plot_number HAVING count(*) > 1")
    total = conn.execute(sa.text(f"SELECT count(*) FROM ({groups}) AS doubled")).scalar_one()
    if not total:
        return 0, []
    first = conn.execute(sa.text(
        f"SELECT * FROM ({groups}) AS doubled ORDER BY facility_id, area, row_, plot_number LIMIT {SHOWN}")).all()
    shown = []
    for facility_id, area, row, number in first:
        ids = conn.execute(sa.text(
            f"SELECT id FROM tombs WHERE {ACTIVE_PLOT} AND facility_id = :f AND coalesce(plot_area, '') = :a "
            "AND coalesce(plot_row, '') = :r AND plot_number = :n ORDER BY id"),
            {"f": facility_id, "a": area, "r": row, "n": number}).scalars().all()
        shown.append((facility_id, area, row, number, ids))
    return total, shown


def upgrade() -> None:
    conn = op.get_bind()
    total, shown = _doubled_plots(conn)
    if total:
        listed = "; ".join(
            f"facility {f}, area {a or '-'}, row {r or '-'}, number {n}: tombs {', '.join(map(str, ids))}"
            for f, a, r, n, ids in shown)
        which = f"the first {len(shown)}" if total > len(shown) else "they are"
        raise StoreError(
            f"Migration 0011 (one active tomb per plot) cannot be applied: {total} plot(s) hold more than one active "
            f"tomb; {which}: {listed}. Retire the extra tombs (keep the one the martyr lies in; retiring keeps the "
            "record), then run 'flask --app registry db upgrade' again. Nothing was changed.")
    where = sa.text(ACTIVE_PLOT)
    op.create_index(INDEX, "tombs", ["facility_id", sa.text("coalesce(plot_area, '')"),
                                     sa.text("coalesce(plot_row, '')"), "plot_number"],
                    unique=True, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="tombs")

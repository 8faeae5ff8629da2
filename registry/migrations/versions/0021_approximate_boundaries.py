"""Approximate boundaries: a division's boundary may be a sketch, drawn on the map but never used for checks.

``divisions.boundary_approximate`` marks a boundary that only shows roughly where a division lies (the demo's
outlines are cells around the county seats). The public map draws it marked 示意; locating a point, the
ledger import's county checks, the correction position check and the maps' first view ignore it, so they
judge only by surveyed boundaries. The column is added in place (GeoPackage type BOOLEAN), so the feature
table keeps its R*Tree triggers; existing boundaries are surveyed ones (false).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("divisions", sa.Column("boundary_approximate", sa.Boolean(), nullable=False,
                                         server_default=sa.false()))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place: no table rebuild, so the R*Tree triggers stay.
    op.drop_column("divisions", "boundary_approximate")

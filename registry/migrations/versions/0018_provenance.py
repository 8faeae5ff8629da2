"""Provenance: where each position and each key fact came from, and when it was last checked.

Facilities, heritage sites and tombs get ``position_*`` and ``facts_*`` columns, martyrs ``facts_*``
(models/provenance.py). Columns are added in place (GeoPackage types TEXT and DATE), so the feature tables
keep their R*Tree triggers. Existing rows keep NULL: the source was not recorded, and none is invented.

Revision ID: 0018_provenance
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_provenance"
down_revision = "0017"
branch_labels = None
depends_on = None

PARTS = {
    "facilities": ("position", "facts"),
    "heritage_sites": ("position", "facts"),
    "tombs": ("position", "facts"),
    "martyrs": ("facts",),
}


def upgrade() -> None:
    for table, parts in PARTS.items():
        for part in parts:
            op.add_column(table, sa.Column(f"{part}_source", sa.Text(), nullable=True))
            op.add_column(table, sa.Column(f"{part}_source_ref", sa.Text(), nullable=True))
            op.add_column(table, sa.Column(f"{part}_checked_on", sa.Date(), nullable=True))


def downgrade() -> None:
    for table, parts in PARTS.items():
        for part in parts:
            for column in ("checked_on", "source_ref", "source"):
                op.drop_column(table, f"{part}_{column}")

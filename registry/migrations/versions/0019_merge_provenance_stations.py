"""Merge the provenance and service-station revisions, and give stations provenance like every public record.

``service_stations`` gets the ``position_*`` and ``facts_*`` columns of models/provenance.py, added in place so
the feature table keeps its R*Tree triggers; existing rows keep NULL (not recorded).

Revision ID: 0019
Revises: 0018_provenance, 0018_stations
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = ("0018_provenance", "0018_stations")
branch_labels = None
depends_on = None


def upgrade() -> None:
    for part in ("position", "facts"):
        op.add_column("service_stations", sa.Column(f"{part}_source", sa.Text(), nullable=True))
        op.add_column("service_stations", sa.Column(f"{part}_source_ref", sa.Text(), nullable=True))
        op.add_column("service_stations", sa.Column(f"{part}_checked_on", sa.Date(), nullable=True))


def downgrade() -> None:
    for part in ("position", "facts"):
        for column in ("checked_on", "source_ref", "source"):
            op.drop_column("service_stations", f"{part}_{column}")

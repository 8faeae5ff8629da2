"""Offline inspections: the facility version the form was opened on, and a flag when it changed meanwhile.

An inspection queued on a phone without signal may reach the registry hours later, after someone edited
the facility. ``inspections.facility_version_seen`` keeps the version the form showed and
``inspections.facility_changed`` flags an inspection that arrived when the facility's version was newer:
it is accepted, and shown to managers for review. Columns are added in place (GeoPackage types INTEGER and
BOOLEAN), so the feature table keeps its R*Tree triggers.

Revision ID: 0016_offline
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_offline"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inspections", sa.Column("facility_version_seen", sa.Integer(), nullable=True))
    op.add_column("inspections", sa.Column("facility_changed", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place: no table rebuild, so the R*Tree triggers stay.
    op.drop_column("inspections", "facility_changed")
    op.drop_column("inspections", "facility_version_seen")

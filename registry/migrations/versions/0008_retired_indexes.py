"""Partial indexes of retired rows on the feature tables, so spatial queries skip them from the index alone.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Feature tables as of this revision (tombs got its index in 0002).
TABLES = ("facilities", "facility_zones", "heritage_sites", "relocations", "inspections", "plan_zones",
          "conflict_checks")


def upgrade() -> None:
    retired = sa.text("status = 'retired'")
    for table in TABLES:
        op.create_index(f"ix_{table}_retired", table, ["id"], unique=False, sqlite_where=retired,
                        postgresql_where=retired)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_retired", table_name=table)

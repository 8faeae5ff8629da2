"""Accounts and sessions: a session generation and a must-change flag per user, and the sign-in throttle table.

``users.session_generation`` is copied into each session at sign-in and compared on every request, so raising
it (logout, a password change, retiring the user, an administrator's reset) ends every session of that user.
``users.must_change_password`` marks a one-time password set by an administrator. ``login_throttles`` counts
failed sign-ins per account name and per client address. Only GeoPackage column types are used (INTEGER,
BOOLEAN, DATETIME, TEXT); the columns are added in place, so no table is rebuilt.

Revision ID: 0012_auth
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from registry.models import types

revision = "0012_auth"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", types.UTCDateTime(), nullable=False),
        sa.Column("locked_at", types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
    # SQLite (3.35+) drops a column in place; the users table is not a feature table, so no trigger is lost.
    op.drop_column("users", "must_change_password")
    op.drop_column("users", "session_generation")

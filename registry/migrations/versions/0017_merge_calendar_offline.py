"""Merge the calendar and offline-inspection revisions into one history again.

Revision ID: 0017
Revises: 0016_calendar, 0016_offline
"""

revision = "0017"
down_revision = ("0016_calendar", "0016_offline")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    # Nothing was changed here: going back leaves the two revisions side by side again.
    pass

"""Merge the ledger and divisions revisions into one history again.

Revision ID: 0015
Revises: 0014_ledger, 0014_divisions
"""

revision = "0015"
down_revision = ("0014_ledger", "0014_divisions")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    # Nothing was changed here: going back leaves the two revisions side by side again.
    pass

"""Merge the accounts and rights revisions into one history again.

Revision ID: 0013
Revises: 0012_auth, 0012_rights
"""

revision = "0013"
down_revision = ("0012_auth", "0012_rights")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    # Nothing was changed here: going back leaves the two revisions side by side again.
    pass

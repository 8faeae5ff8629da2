"""Merge the revisions of public corrections and QGIS edits into one history again.

Revision ID: 0020
Revises: 0019, 0019_corrections, 0019_edits
"""

revision = "0020"
down_revision = ("0019", "0019_corrections", "0019_edits")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    # Nothing was changed here: going back leaves the revisions side by side again.
    pass

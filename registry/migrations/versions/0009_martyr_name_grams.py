"""The n-gram index of martyrs' names (martyr_name_grams), filled from the martyrs already on the roll.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain application table (not registered in gpkg_contents): a derived index, rebuilt at will.
    op.create_table(
        "martyr_name_grams",
        sa.Column("gram", sa.Text(), nullable=False),
        sa.Column("martyr_id", sa.Integer(), nullable=False),
        sa.Column("name_pinyin", sa.Text(), nullable=True),
    )
    op.create_index("ix_martyr_name_grams_gram", "martyr_name_grams", ["gram", "name_pinyin", "martyr_id"],
                    unique=False)
    op.create_index("ix_martyr_name_grams_martyr_id", "martyr_name_grams", ["martyr_id"], unique=False)
    # Backfill the martyrs already on the roll: one INSERT ... SELECT, the indexes rebuilt after it.
    # The service's SQL fits this revision's columns; should they change later, freeze a copy here.
    from registry.services.name_grams import rebuild_name_grams

    rebuild_name_grams(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_martyr_name_grams_martyr_id", table_name="martyr_name_grams")
    op.drop_index("ix_martyr_name_grams_gram", table_name="martyr_name_grams")
    op.drop_table("martyr_name_grams")

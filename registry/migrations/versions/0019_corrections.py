"""Public corrections: visitors propose a change to a martyr's or a facility's record; the county reviews it.

A plain table (not a feature table): a proposed position is two WGS 84 floats, so the GeoPackage gains no
geometry column to register.

Revision ID: 0019_corrections
Revises: 0018_provenance
"""

import sqlalchemy as sa
from alembic import op

from registry.models import types

revision = "0019_corrections"
down_revision = "0018_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", types.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("current_value", sa.Text(), nullable=True),
        sa.Column("proposed_value", sa.Text(), nullable=True),
        sa.Column("proposed_lon", sa.Float(), nullable=True),
        sa.Column("proposed_lat", sa.Float(), nullable=True),
        sa.Column("photo_attachment_id", sa.Integer(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("county_code", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", types.UTCDateTime(), nullable=True),
        sa.Column("client_hash", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["photo_attachment_id"], ["attachments.id"],
                                name=op.f("fk_corrections_photo_attachment_id_attachments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
        sa.UniqueConstraint("reference", name=op.f("uq_corrections_reference")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_corrections_idempotency_key")),
        sqlite_autoincrement=True,
    )
    # The review queue lists one county's pending corrections.
    op.create_index("ix_corrections_county_state", "corrections", ["county_code", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_corrections_county_state", table_name="corrections")
    op.drop_table("corrections")

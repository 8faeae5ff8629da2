"""Edits made in QGIS: exported layers awaiting their upload (edit_batches) and each row's provisional edit.

Plain application tables (no geometry column: an edit keeps its new point as lon/lat in ``changes``), so
nothing is added to gpkg_contents.

Revision ID: 0019_edits
Revises: 0018_provenance
"""

import sqlalchemy as sa
from alembic import op

from registry.models import types

revision = "0019_edits"
down_revision = "0018_provenance"
branch_labels = None
depends_on = None


def _record_columns() -> list:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", types.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "edit_batches",
        sa.Column("layer", sa.Text(), nullable=False),
        sa.Column("county_code", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("exported_by", sa.Text(), nullable=False),
        sa.Column("exported", types.JSONText(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=True),
        sa.Column("uploaded_at", types.UTCDateTime(), nullable=True),
        sa.Column("file_sha256", sa.Text(), nullable=True),
        sa.Column("filename", sa.Text(), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edit_batches")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_edit_batches_county_code"), "edit_batches", ["county_code"], unique=False)
    op.create_table(
        "provisional_edits",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("exported_version", sa.Integer(), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("changes", types.JSONText(), nullable=False),
        sa.Column("moved_m", sa.Float(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        *_record_columns(),
        sa.ForeignKeyConstraint(["batch_id"], ["edit_batches.id"],
                                name=op.f("fk_provisional_edits_batch_id_edit_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisional_edits")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_provisional_edits_batch_id"), "provisional_edits", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_provisional_edits_batch_id"), table_name="provisional_edits")
    op.drop_table("provisional_edits")
    op.drop_index(op.f("ix_edit_batches_county_code"), table_name="edit_batches")
    op.drop_table("edit_batches")

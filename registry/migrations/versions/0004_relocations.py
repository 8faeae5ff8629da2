"""Relocations: saved ledger column mappings and ledger import batches (application tables, no geometry).

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 09:55:00
"""

import sqlalchemy as sa
from alembic import op

from registry.models import types

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def _record_columns():
    return [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('is_demo', sa.Boolean(), nullable=False),
        sa.Column('created_at', types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', types.UTCDateTime(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('relocation_column_mappings',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('mapping', types.JSONText(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    *_record_columns(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relocation_column_mappings')),
    sa.UniqueConstraint('name', name=op.f('uq_relocation_column_mappings_name')),
    sqlite_autoincrement=True
    )
    op.create_table('relocation_import_batches',
    sa.Column('content_hash', sa.Text(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('crs', sa.Text(), nullable=False),
    sa.Column('mapping', types.JSONText(), nullable=True),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_added', sa.Integer(), nullable=False),
    sa.Column('rows_existing', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.Integer(), nullable=False),
    sa.Column('actor_name', sa.Text(), nullable=False),
    sa.Column('codes', types.JSONText(), nullable=True),
    *_record_columns(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relocation_import_batches')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_relocation_import_batches_content_hash')),
    sqlite_autoincrement=True
    )


def downgrade() -> None:
    raise NotImplementedError("the registry's history only moves forward; restore a backup instead")

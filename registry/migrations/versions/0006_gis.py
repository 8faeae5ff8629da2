"""GIS data source: API tokens for OGC API clients.

Revision ID: 0006
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from registry.models import types

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('prefix', sa.Text(), nullable=False),
    sa.Column('roles', types.JSONText(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', types.UTCDateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', types.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_api_tokens_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    sqlite_autoincrement=True
    )


def downgrade() -> None:
    raise NotImplementedError("the registry's history only moves forward; restore a backup instead")

"""Planners: saved conflict checks (a feature table) and the kept versions of preservation plans.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-29 09:50:00
"""

import sqlalchemy as sa
from alembic import op

from registry.migrations.spatial import add_spatial_indexes
from registry.models import types

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None

FEATURES = (
    ("conflict_checks", "GEOMETRY", "冲突检查 Conflict checks",
     "Outlines of proposed projects checked against protection ranges and control zones"),
)


def upgrade() -> None:
    op.create_table('conflict_checks',
    sa.Column('project_name', sa.Text(), nullable=False),
    sa.Column('outline_kind', sa.Text(), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=False),
    sa.Column('verdict', sa.Text(), nullable=False),
    sa.Column('results', types.JSONText(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.Text(), nullable=True),
    sa.Column('geom', types.Geometry('GEOMETRY'), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', types.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_conflict_checks_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflict_checks')),
    sqlite_autoincrement=True
    )
    op.create_table('plan_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.Text(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('content', types.JSONText(), nullable=False),
    sa.Column('created_at', types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['preservation_plans.id'],
                            name=op.f('fk_plan_versions_plan_id_preservation_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_versions')),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_plan_versions_plan_id'), 'plan_versions', ['plan_id'], unique=False)
    add_spatial_indexes(FEATURES)


def downgrade() -> None:
    raise NotImplementedError("the registry's schema is not downgraded: restore a backup instead")

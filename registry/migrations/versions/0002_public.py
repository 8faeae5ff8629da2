"""Public side: online tributes and their counts, rate-limit buckets, visitors' problem reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:50:00
"""

import sqlalchemy as sa
from alembic import op

from registry.models import types

revision = '0002'
down_revision = '0001'
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
    op.create_table('tributes',
    sa.Column('target_type', sa.Text(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('author_name', sa.Text(), nullable=True),
    sa.Column('moderation', sa.Text(), nullable=False),
    sa.Column('moderated_by', sa.Text(), nullable=True),
    sa.Column('moderated_at', types.UTCDateTime(), nullable=True),
    sa.Column('client_hash', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    *_record_columns(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tributes')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_tributes_idempotency_key')),
    sqlite_autoincrement=True
    )
    # Pages list the approved messages of one target; managers list the pending ones.
    op.create_index('ix_tributes_target_moderation', 'tributes', ['target_type', 'target_id', 'moderation'],
                    unique=False)
    op.create_table('tribute_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.Text(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('flowers', sa.Integer(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tribute_counts')),
    sa.UniqueConstraint('target_type', 'target_id', name=op.f('uq_tribute_counts_target_type_target_id')),
    sqlite_autoincrement=True
    )
    op.create_table('rate_buckets',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('refreshed_at', types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_buckets')),
    )
    op.create_table('problem_reports',
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('contact', sa.Text(), nullable=True),
    sa.Column('photo_attachment_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('public_note', sa.Text(), nullable=True),
    sa.Column('client_hash', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    *_record_columns(),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_problem_reports_facility_id_facilities')),
    sa.ForeignKeyConstraint(['photo_attachment_id'], ['attachments.id'],
                            name=op.f('fk_problem_reports_photo_attachment_id_attachments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problem_reports')),
    sa.UniqueConstraint('reference', name=op.f('uq_problem_reports_reference')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_problem_reports_idempotency_key')),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_problem_reports_facility_id'), 'problem_reports', ['facility_id'], unique=False)
    # The few retired tombs, so that map clusters can leave them out without reading every tomb row
    # (registry.services.public.features counts clusters from the spatial index alone).
    retired = sa.text("status = 'retired'")
    op.create_index('ix_tombs_retired', 'tombs', ['id'], unique=False, sqlite_where=retired,
                    postgresql_where=retired)


def downgrade() -> None:
    # The tributes and reports are the public's own records; they are never dropped.
    raise NotImplementedError("the public tables cannot be downgraded: restore a backup instead")

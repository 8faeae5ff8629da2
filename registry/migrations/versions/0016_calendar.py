"""The calendar: facilities' own days of remembrance and the work orders prepared for each day.

Revision ID: 0016_calendar
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from registry.models import types

revision = "0016_calendar"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facility_days",
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("since_year", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", types.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], name=op.f("fk_facility_days_facility_id_facilities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_days")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_facility_days_facility_id"), "facility_days", ["facility_id"], unique=False)
    op.create_table(
        "calendar_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("day_on", sa.Date(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("occasions", types.JSONText(), nullable=False),
        sa.Column("created_at", types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"],
                                name=op.f("fk_calendar_orders_facility_id_facilities")),
        sa.ForeignKeyConstraint(["task_id"], ["maintenance_tasks.id"],
                                name=op.f("fk_calendar_orders_task_id_maintenance_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_orders")),
        sa.UniqueConstraint("facility_id", "day_on", name=op.f("uq_calendar_orders_facility_id_day_on")),
        sa.UniqueConstraint("task_id", name=op.f("uq_calendar_orders_task_id")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("calendar_orders")
    op.drop_index(op.f("ix_facility_days_facility_id"), table_name="facility_days")
    op.drop_table("facility_days")

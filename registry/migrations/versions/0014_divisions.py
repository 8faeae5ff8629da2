"""Administrative divisions as data: a feature table of divisions (boundary MULTIPOLYGON) and their former names.

Revision ID: 0014_divisions
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from registry.migrations.spatial import add_spatial_indexes
from registry.models import types

revision = "0014_divisions"
down_revision = "0013"
branch_labels = None
depends_on = None

FEATURES = (
    ("divisions", "MULTIPOLYGON", "行政区划 Administrative divisions",
     "Provinces, cities, counties and townships the registry serves, with their seats and boundaries"),
)


def upgrade() -> None:
    op.create_table(
        "divisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("parent_code", sa.Text(), nullable=True),
        sa.Column("seat_lon", sa.Float(), nullable=True),
        sa.Column("seat_lat", sa.Float(), nullable=True),
        sa.Column("valid_from", sa.Text(), nullable=True),
        sa.Column("valid_to", sa.Text(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("relocation_target", sa.Integer(), nullable=True),
        sa.Column("boundary", types.Geometry("MULTIPOLYGON"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_divisions")),
        sa.UniqueConstraint("code", name=op.f("uq_divisions_code")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_divisions_parent_code"), "divisions", ["parent_code"], unique=False)
    op.create_table(
        "division_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("former_code", sa.Text(), nullable=True),
        sa.Column("former_name", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.Text(), nullable=True),
        sa.Column("valid_to", sa.Text(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_division_aliases")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_division_aliases_code"), "division_aliases", ["code"], unique=False)
    add_spatial_indexes(FEATURES, column="boundary")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Unregister the feature table; its R*Tree triggers go with the table.
        op.execute("DROP TABLE IF EXISTS rtree_divisions_boundary")
        for table in ("gpkg_extensions", "gpkg_geometry_columns", "gpkg_contents"):
            op.execute(f"DELETE FROM {table} WHERE table_name = 'divisions'")
    op.drop_index(op.f("ix_division_aliases_code"), table_name="division_aliases")
    op.drop_table("division_aliases")
    op.drop_index(op.f("ix_divisions_parent_code"), table_name="divisions")
    op.drop_table("divisions")

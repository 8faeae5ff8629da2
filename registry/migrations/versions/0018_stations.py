"""Veterans service stations: a feature table (POINT) with level, demonstration status and the 五有 checklist.

Revision ID: 0018_stations
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from registry.migrations.spatial import add_spatial_indexes
from registry.models import types

revision = "0018_stations"
down_revision = "0017"
branch_labels = None
depends_on = None

FEATURES = (
    ("service_stations", "POINT", "退役军人服务站 Veterans service stations",
     "Veterans service centres and stations, their demonstration status and 五有 checklist"),
)


def upgrade() -> None:
    op.create_table(
        "service_stations",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("county_code", sa.Text(), nullable=False),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("demonstration", sa.Text(), nullable=False),
        sa.Column("has_body", sa.Boolean(), nullable=False),
        sa.Column("has_posts", sa.Boolean(), nullable=False),
        sa.Column("has_staff", sa.Boolean(), nullable=False),
        sa.Column("has_funds", sa.Boolean(), nullable=False),
        sa.Column("has_provisions", sa.Boolean(), nullable=False),
        sa.Column("opening_hours", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("position_approximate", sa.Boolean(), nullable=False),
        sa.Column("geom", types.Geometry("POINT"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", types.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_stations")),
        sa.UniqueConstraint("code", name=op.f("uq_service_stations_code")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_service_stations_county_code"), "service_stations", ["county_code"], unique=False)
    op.create_index(op.f("ix_service_stations_level"), "service_stations", ["level"], unique=False)
    # Retired rows left out of spatial queries from the index alone, as on every feature table (0008).
    retired = sa.text("status = 'retired'")
    op.create_index("ix_service_stations_retired", "service_stations", ["id"], unique=False,
                    sqlite_where=retired, postgresql_where=retired)
    add_spatial_indexes(FEATURES)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Unregister the feature table; its R*Tree triggers go with the table.
        op.execute("DROP TABLE IF EXISTS rtree_service_stations_geom")
        for table in ("gpkg_extensions", "gpkg_geometry_columns", "gpkg_contents"):
            op.execute(f"DELETE FROM {table} WHERE table_name = 'service_stations'")
    op.drop_index("ix_service_stations_retired", table_name="service_stations")
    op.drop_index(op.f("ix_service_stations_level"), table_name="service_stations")
    op.drop_index(op.f("ix_service_stations_county_code"), table_name="service_stations")
    op.drop_table("service_stations")

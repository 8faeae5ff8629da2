"""Helpers for migrations that add feature tables: GeoPackage registration or PostGIS GiST indexes."""

from alembic import op

from registry import gpkg


def add_spatial_indexes(features, column: str = "geom") -> None:
    """Register each (table, geometry type, identifier, description) on the store the migration runs on."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        def execute(sql, params=()):
            bind.exec_driver_sql(sql, tuple(params))

        for table, geometry_type, identifier, description in features:
            gpkg.register_feature_table(execute, table, column, geometry_type, identifier, description)
    else:
        for table, _type, _identifier, _description in features:
            op.execute(f"CREATE INDEX ix_{table}_{column}_gist ON {table} USING gist ({column})")


IGNORED_PREFIXES = ("gpkg_", "rtree_", "sqlite_")
POSTGIS_TABLES = {"spatial_ref_sys", "geometry_columns", "geography_columns", "layer", "topology"}


def include_name(name, type_, parent_names):
    # The GeoPackage core tables, R*Tree indexes and PostGIS's own tables are not ours to migrate.
    if type_ == "table":
        return not (name.startswith(IGNORED_PREFIXES) or name in POSTGIS_TABLES)
    return True

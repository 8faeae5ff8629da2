"""Alembic environment: runs on the connection the registry hands it, for either store."""

from alembic import context

from registry.models import Base

IGNORED_PREFIXES = ("gpkg_", "rtree_", "sqlite_")
POSTGIS_TABLES = {"spatial_ref_sys", "geometry_columns", "geography_columns", "layer", "topology"}


def include_name(name, type_, parent_names):
    # The GeoPackage core tables, R*Tree indexes and PostGIS's own tables are not ours to migrate.
    if type_ == "table":
        return not (name.startswith(IGNORED_PREFIXES) or name in POSTGIS_TABLES)
    return True


def render_item(type_, obj, autogen_context):
    if type_ == "type" and type(obj).__module__ == "registry.models.types":
        autogen_context.imports.add("from registry.models import types")
        if type(obj).__name__ == "Geometry":
            return f"types.Geometry({obj.geometry_type!r})"
        return f"types.{type(obj).__name__}()"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_name=include_name,
    render_item=render_item,
    render_as_batch=False,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: runs on the connection the registry hands it, for either store."""

from alembic import context

from registry.migrations.spatial import include_name
from registry.models import Base


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

"""One migration history for both stores: a single head, and the migrated schema matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from registry.migrate import alembic_config
from registry.migrations.spatial import include_name
from registry.models import Base


def test_the_history_has_one_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


# Reflection does not know PostGIS's geometry type; types are not compared here (compare_type=False).
@pytest.mark.filterwarnings("ignore:Did not recognize type 'geometry'")
def test_migrated_schema_matches_the_models(any_store):
    with any_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name, "compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    # GiST indexes are made by the migrations' spatial helper on PostGIS, not declared on the models.
    differences = [d for d in differences if not (d[0] == "remove_index" and d[1].name.endswith("_geom_gist"))]
    assert differences == []

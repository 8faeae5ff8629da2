"""One migration history for both stores: a single head, and the migrated schema matches the models."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, text
from sqlalchemy.schema import CreateIndex

from registry.migrate import alembic_config
from registry.migrations.spatial import include_name
from registry.models import Base


def test_the_history_has_one_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


# Reflection does not know PostGIS's geometry type; types are not compared here (compare_type=False).
@pytest.mark.filterwarnings("ignore:Did not recognize type 'geometry'")
def test_migrated_schema_matches_the_models(any_store):
    with any_store.engine.connect() as conn, warnings.catch_warnings():
        if any_store.kind == "geopackage":
            # SQLite's expression indexes cannot be reflected, so autogenerate skips them there (with these
            # warnings); test_expression_indexes_match_the_models compares them on both stores instead.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        context = MigrationContext.configure(conn, opts={"include_name": include_name, "compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    # GiST indexes are made by the migrations' spatial helper on PostGIS, not declared on the models.
    differences = [d for d in differences if not (d[0] == "remove_index" and d[1].name.endswith("_gist"))]
    assert differences == []


def _expression_indexes():
    return [index for table in Base.metadata.sorted_tables for index in table.indexes
            if any(not isinstance(e, Column) for e in index.expressions)]


def _stored_definition(conn, kind: str, name: str) -> str | None:
    if kind == "geopackage":
        return conn.scalar(text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"), {"n": name})
    return conn.scalar(text("SELECT pg_get_indexdef(CAST(:n AS regclass))"), {"n": name})


def test_expression_indexes_match_the_models(any_store):
    """Each index over expressions (ux_tombs_active_plot) is in the migrated store as the model declares it.

    The model's index is created under another name in a transaction that is rolled back, and the store's own
    account of it (SQLite's stored SQL, PostgreSQL's pg_get_indexdef) compared with the migrated one's.
    """
    indexes = _expression_indexes()
    assert "ux_tombs_active_plot" in {index.name for index in indexes}
    with any_store.engine.connect() as conn:
        for index in indexes:
            migrated = _stored_definition(conn, any_store.kind, index.name)
            assert migrated is not None, f"the migrations do not create index {index.name}"
            probe = f"{index.name}_probe"
            conn.exec_driver_sql(str(CreateIndex(index).compile(dialect=conn.dialect)).replace(index.name, probe, 1))
            declared = _stored_definition(conn, any_store.kind, probe)
            assert migrated == declared.replace(probe, index.name, 1)
        conn.rollback()  # the probes go

"""Sign-in throttling's statements on the PostGIS store (PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from registry.services.logins.backend import LoginBackend


class PostGISLogins(LoginBackend):
    dialect = "postgresql"

    def insert_absent(self, model, values: dict, key: str):
        return insert(model).values(**values).on_conflict_do_nothing(index_elements=[key])

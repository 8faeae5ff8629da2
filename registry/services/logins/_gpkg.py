"""Sign-in throttling's statements on the GeoPackage store (SQLite)."""

from __future__ import annotations

from sqlalchemy.dialects.sqlite import insert

from registry.services.logins.backend import LoginBackend


class GeoPackageLogins(LoginBackend):
    dialect = "sqlite"

    def insert_absent(self, model, values: dict, key: str):
        return insert(model).values(**values).on_conflict_do_nothing(index_elements=[key])

"""What differs by store in sign-in throttling: the interface its GeoPackage (``_gpkg``) and PostGIS
(``_postgis``) siblings implement; ``stores`` picks one.

A failure's counter row is made if absent (``INSERT … ON CONFLICT DO NOTHING``, which each dialect of
SQLAlchemy builds itself) and then locked for the update, so two failures at once count twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class LoginBackend(ABC):
    """Sign-in throttling's per-store statements."""

    dialect: str   # SQLAlchemy's name for the store's dialect: 'sqlite' or 'postgresql'

    @abstractmethod
    def insert_absent(self, model, values: dict, key: str):
        """An INSERT of ``values`` into ``model``'s table that does nothing when ``key`` is already there."""

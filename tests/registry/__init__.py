"""Tests of the registry, one folder per area as in `registry/web` and `registry/services`.

public, manage, relocations, plan and gis hold each area's services and pages; system holds the store, settings,
sign-in, serving, headers and backups. What spans every area stays here: the rights matrix and counties,
translations, migrations, divisions, the second city, facilities, `load`, the demo loader, escaped markup and
upload safety. Builders shared by several modules are in `tests/factories.py`; fixtures are in the `conftest.py`
of the folder that needs them (`tests/conftest.py` for the apps and stores of both kinds).
"""

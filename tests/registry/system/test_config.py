"""Settings from the environment: the managers' and relocations' ones too; a bad number stops start-up."""

from __future__ import annotations

import pytest

from registry import config
from registry.services.manage.due import Cadence
from registry.services.manage.inspections import FieldRules
from registry.services.photos import PhotoLimits


def test_managers_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_MANAGE_ON_SITE_METRES", "350")
    monkeypatch.setenv("REGISTRY_MANAGE_PHOTO_MAX_COUNT", "4")
    monkeypatch.setenv("REGISTRY_MANAGE_CADENCE_DAYS", "station=60,county=120,city=365")
    monkeypatch.setenv("REGISTRY_RELOCATION_FILES_DIR", str(tmp_path / "ledgers"))
    loaded = config.load(instance_path=tmp_path)

    assert FieldRules.from_config(loaded).on_site_m == 350
    assert PhotoLimits.from_config(loaded).max_count == 4
    assert Cadence.from_config(loaded).days["station"] == 60
    assert loaded["RELOCATION_FILES_DIR"] == str(tmp_path / "ledgers")


def test_unset_or_empty_settings_keep_the_documented_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_MANAGE_CITY_CHECK_LEVELS", "")
    loaded = config.load(instance_path=tmp_path)

    assert FieldRules.from_config(loaded).on_site_m == 200
    assert Cadence.from_config(loaded).city_levels == ("national", "provincial", "city")


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_a_setting_that_is_not_a_positive_number_stops_start_up_by_name(monkeypatch, tmp_path, value):
    monkeypatch.setenv("REGISTRY_MANAGE_ON_SITE_METRES", value)
    with pytest.raises(config.ConfigError, match="REGISTRY_MANAGE_ON_SITE_METRES"):
        config.load(instance_path=tmp_path)

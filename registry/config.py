"""Settings read from REGISTRY_* environment variables, with embedded defaults for development."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-only-not-secret"

# Every setting, its environment variable and its default; docs/CONFIGURATION.md lists them all (tested).
SETTINGS = {
    "ENV": ("REGISTRY_ENV", "development"),
    "DATABASE_URL": ("REGISTRY_DATABASE_URL", None),
    "SECRET_KEY": ("REGISTRY_SECRET_KEY", DEFAULT_SECRET_KEY),
    "BASEMAP": ("REGISTRY_BASEMAP", "osm"),
    "BASEMAP_URL": ("REGISTRY_BASEMAP_URL", ""),
    "BASEMAP_CRS": ("REGISTRY_BASEMAP_CRS", "EPSG:4326"),
    "TIANDITU_KEY": ("REGISTRY_TIANDITU_KEY", ""),
    "MAP_APPROVAL_NUMBER": ("REGISTRY_MAP_APPROVAL_NUMBER", ""),
    "DEFAULT_LOCALE": ("REGISTRY_DEFAULT_LOCALE", "zh_CN"),
    "ASSETS_DIR": ("REGISTRY_ASSETS_DIR", None),
    "PDF_FONT": ("REGISTRY_PDF_FONT", ""),
    # Unset (None) means the reading service's own default, which docs/CONFIGURATION.md states.
    "MANAGE_CADENCE_DAYS": ("REGISTRY_MANAGE_CADENCE_DAYS", None),
    "MANAGE_CITY_CHECK_LEVELS": ("REGISTRY_MANAGE_CITY_CHECK_LEVELS", None),
    "MANAGE_DUE_SOON_DAYS": ("REGISTRY_MANAGE_DUE_SOON_DAYS", None),
    "MANAGE_ON_SITE_METRES": ("REGISTRY_MANAGE_ON_SITE_METRES", None),
    "MANAGE_MAX_DISTANCE_KM": ("REGISTRY_MANAGE_MAX_DISTANCE_KM", None),
    "MANAGE_PHOTO_MAX_MB": ("REGISTRY_MANAGE_PHOTO_MAX_MB", None),
    "MANAGE_PHOTO_MAX_MEGAPIXELS": ("REGISTRY_MANAGE_PHOTO_MAX_MEGAPIXELS", None),
    "MANAGE_PHOTO_MAX_COUNT": ("REGISTRY_MANAGE_PHOTO_MAX_COUNT", None),
    "RELOCATION_FILES_DIR": ("REGISTRY_RELOCATION_FILES_DIR", None),
    # Hours an uploaded file waits between its dry run and the commit before it is purged (uploads.py).
    "UPLOAD_RETENTION_HOURS": ("REGISTRY_UPLOAD_RETENTION_HOURS", 72),
    # Upload limits (registry/uploads.py, geodata/sniff.py); unset means the default docs/CONFIGURATION.md states.
    "MAX_REQUEST_MB": ("REGISTRY_MAX_REQUEST_MB", None),
    "UPLOAD_MAX_MB": ("REGISTRY_UPLOAD_MAX_MB", None),
    "UPLOAD_MAX_FEATURES": ("REGISTRY_UPLOAD_MAX_FEATURES", None),
    "UPLOAD_ZIP_MAX_MEMBERS": ("REGISTRY_UPLOAD_ZIP_MAX_MEMBERS", None),
    "UPLOAD_ZIP_MAX_MB": ("REGISTRY_UPLOAD_ZIP_MAX_MB", None),
    "UPLOAD_ZIP_MAX_RATIO": ("REGISTRY_UPLOAD_ZIP_MAX_RATIO", None),
    "UPLOAD_MAX_MEGAPIXELS": ("REGISTRY_UPLOAD_MAX_MEGAPIXELS", None),
    "SCAN_MAX_MB": ("REGISTRY_SCAN_MAX_MB", None),
    "REPORT_PHOTO_MAX_MB": ("REGISTRY_REPORT_PHOTO_MAX_MB", None),
    "LEDGER_MAX_MB": ("REGISTRY_LEDGER_MAX_MB", None),
}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def load(overrides: dict | None = None, instance_path: str | os.PathLike | None = None) -> dict:
    """Read settings from the environment, then apply explicit overrides (tests pass them)."""
    config = {}
    for key, (env_name, default) in SETTINGS.items():
        config[key] = os.environ.get(env_name, default)
    config.update(overrides or {})
    _check_numbers(config)
    # Requests larger than this are refused (413) before they are read (the ledger import's 200 MB fits inside).
    if "MAX_CONTENT_LENGTH" not in config:
        config["MAX_CONTENT_LENGTH"] = int(float(config.get("MAX_REQUEST_MB") or 210) * 1024 * 1024)
    instance = Path(instance_path or Path.cwd() / "instance")
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance / 'registry.gpkg'}"
    if not config.get("ASSETS_DIR"):
        config["ASSETS_DIR"] = str(Path(__file__).resolve().parent / "static" / "vendor")
    return config


# Settings that must be positive numbers when given; checked at start-up so a typo fails fast, by name.
NUMERIC = ("MANAGE_DUE_SOON_DAYS", "MANAGE_ON_SITE_METRES", "MANAGE_MAX_DISTANCE_KM", "MANAGE_PHOTO_MAX_MB",
           "MANAGE_PHOTO_MAX_MEGAPIXELS", "MANAGE_PHOTO_MAX_COUNT", "UPLOAD_RETENTION_HOURS", "MAX_REQUEST_MB",
           "UPLOAD_MAX_MB", "UPLOAD_MAX_FEATURES", "UPLOAD_ZIP_MAX_MEMBERS", "UPLOAD_ZIP_MAX_MB",
           "UPLOAD_ZIP_MAX_RATIO", "UPLOAD_MAX_MEGAPIXELS", "SCAN_MAX_MB", "REPORT_PHOTO_MAX_MB", "LEDGER_MAX_MB")


def _check_numbers(config: dict) -> None:
    for key in NUMERIC:
        value = config.get(key)
        if value in (None, ""):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not number > 0:
            raise ConfigError(f"{SETTINGS[key][0]}={value!r} must be a positive number (or empty for the default)")


def check_production(config: dict, demo_users: list[str]) -> None:
    """Refuse to run in production with a default secret key or with demo users present."""
    if config.get("ENV") != "production":
        return
    if config.get("SECRET_KEY") in (None, "", DEFAULT_SECRET_KEY):
        raise ConfigError(
            "REGISTRY_ENV=production but REGISTRY_SECRET_KEY is unset or the development default. "
            "Set REGISTRY_SECRET_KEY to a long random value (python -c 'import secrets; "
            "print(secrets.token_hex(32))') and start again."
        )
    if demo_users:
        raise ConfigError(
            f"REGISTRY_ENV=production but the registry holds demo users ({', '.join(demo_users)}). "
            "A production registry must not contain demo accounts: use a registry created without "
            "demo data, or retire those accounts with 'flask --app registry users retire NAME'."
        )

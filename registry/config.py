"""Settings read from REGISTRY_* environment variables, with embedded defaults for development."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

# The shortest REGISTRY_SECRET_KEY production accepts; a generated key is 64 hex characters.
MIN_PRODUCTION_KEY = 24
SECRET_KEY_FILENAME = "secret_key"

# Every setting, its environment variable and its default; docs/CONFIGURATION.md lists them all (tested).
SETTINGS = {
    "ENV": ("REGISTRY_ENV", "development"),
    "DATABASE_URL": ("REGISTRY_DATABASE_URL", None),
    # Unset: read from (or, outside production, first written to) the key file; see _resolve_secret_key.
    "SECRET_KEY": ("REGISTRY_SECRET_KEY", None),
    "SECRET_KEY_FILE": ("REGISTRY_SECRET_KEY_FILE", None),
    # auto: the session cookie is Secure when the request came over https (as ProxyFix reports it).
    "SESSION_COOKIE_SECURE_MODE": ("REGISTRY_SESSION_COOKIE_SECURE", "auto"),
    "SESSION_IDLE_MINUTES": ("REGISTRY_SESSION_IDLE_MINUTES", 60),
    "SESSION_MAX_HOURS": ("REGISTRY_SESSION_MAX_HOURS", 12),
    "CSRF_TIME_LIMIT_SECONDS": ("REGISTRY_CSRF_TIME_LIMIT_SECONDS", 3600),
    # Sign-in throttling (services/logins.py): free failures, then doubling delays, then a lock an admin lifts.
    "LOGIN_FREE_ATTEMPTS": ("REGISTRY_LOGIN_FREE_ATTEMPTS", 3),
    "LOGIN_LOCK_AFTER": ("REGISTRY_LOGIN_LOCK_AFTER", 10),
    "LOGIN_ADDRESS_FREE_ATTEMPTS": ("REGISTRY_LOGIN_ADDRESS_FREE_ATTEMPTS", 10),
    "LOGIN_ADDRESS_LOCK_AFTER": ("REGISTRY_LOGIN_ADDRESS_LOCK_AFTER", 50),
    "LOGIN_MAX_DELAY_SECONDS": ("REGISTRY_LOGIN_MAX_DELAY_SECONDS", 300),
    "LOGIN_FORGET_HOURS": ("REGISTRY_LOGIN_FORGET_HOURS", 24),
    "BASEMAP": ("REGISTRY_BASEMAP", "osm"),
    "BASEMAP_URL": ("REGISTRY_BASEMAP_URL", ""),
    "BASEMAP_CRS": ("REGISTRY_BASEMAP_CRS", "EPSG:4326"),
    # The MBTiles file REGISTRY_BASEMAP=mbtiles serves (web/system/basemap.py), opened read-only.
    "BASEMAP_PATH": ("REGISTRY_BASEMAP_PATH", ""),
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
    # Serving (docs/DEPLOY.md). The three gunicorn ones are read by deploy/gunicorn.conf.py, listed here for the docs.
    "BIND": ("REGISTRY_BIND", "127.0.0.1:8000"),
    "WORKERS": ("REGISTRY_WORKERS", None),
    "THREADS": ("REGISTRY_THREADS", 4),
    # How many proxies in front of the app append to X-Forwarded-For; 0 trusts no forwarded header at all.
    "TRUSTED_PROXIES": ("REGISTRY_TRUSTED_PROXIES", 0),
    # A streaming replica for public read-only pages; unset, the primary serves them.
    "READ_DATABASE_URL": ("REGISTRY_READ_DATABASE_URL", None),
    # Seconds between a process's purges of refilled rate buckets (0 turns the opportunistic purge off).
    "RATE_BUCKET_PURGE_SECONDS": ("REGISTRY_RATE_BUCKET_PURGE_SECONDS", 300),
    # host:port of a separate Prometheus listener started by gunicorn's master; empty: only the staff /metrics.
    "METRICS_BIND": ("REGISTRY_METRICS_BIND", ""),
    # Rows an OGC export without `limit` may hold (services/exports.py), and a CQL2 filter's nesting depth and
    # number of conditions (geodata/cql2.py); unset means those modules' defaults.
    "EXPORT_MAX_ROWS": ("REGISTRY_EXPORT_MAX_ROWS", None),
    "CQL2_MAX_DEPTH": ("REGISTRY_CQL2_MAX_DEPTH", None),
    "CQL2_MAX_TERMS": ("REGISTRY_CQL2_MAX_TERMS", None),
    # The instance folder: photos, scans, imported originals and the default registry file (docs/BACKUP.md).
    "INSTANCE_PATH": ("REGISTRY_INSTANCE_PATH", None),
    # Seconds a client is told to wait (Retry-After) when the store is down, locked or full (web/errors.py).
    "STORE_RETRY_AFTER": ("REGISTRY_STORE_RETRY_AFTER", 5),
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
    # The calendar (services/calendar.py): days before each kind of day its work orders are made; unset: the default.
    "CALENDAR_QINGMING_LEAD_DAYS": ("REGISTRY_CALENDAR_QINGMING_LEAD_DAYS", None),
    "CALENDAR_MARTYRS_DAY_LEAD_DAYS": ("REGISTRY_CALENDAR_MARTYRS_DAY_LEAD_DAYS", None),
    "CALENDAR_ARMY_DAY_LEAD_DAYS": ("REGISTRY_CALENDAR_ARMY_DAY_LEAD_DAYS", None),
    "CALENDAR_FACILITY_DAY_LEAD_DAYS": ("REGISTRY_CALENDAR_FACILITY_DAY_LEAD_DAYS", None),
    "CALENDAR_ANNIVERSARY_LEAD_DAYS": ("REGISTRY_CALENDAR_ANNIVERSARY_LEAD_DAYS", None),
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
    config["TRUSTED_PROXIES"] = _hops(config.get("TRUSTED_PROXIES"))
    # Requests larger than this are refused (413) before they are read (the ledger import's 200 MB fits inside).
    if "MAX_CONTENT_LENGTH" not in config:
        config["MAX_CONTENT_LENGTH"] = int(float(config.get("MAX_REQUEST_MB") or 210) * 1024 * 1024)
    instance = Path(instance_path or Path.cwd() / "instance")
    _resolve_secret_key(config, instance, explicit_file=bool(
        (overrides or {}).get("SECRET_KEY_FILE") or os.environ.get("REGISTRY_SECRET_KEY_FILE")))
    _session_settings(config)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance / 'registry.gpkg'}"
    if not config.get("ASSETS_DIR"):
        config["ASSETS_DIR"] = str(Path(__file__).resolve().parent / "static" / "vendor")
    return config


# Settings that must be positive numbers when given; checked at start-up so a typo fails fast, by name.
NUMERIC = ("MANAGE_DUE_SOON_DAYS", "MANAGE_ON_SITE_METRES", "MANAGE_MAX_DISTANCE_KM", "MANAGE_PHOTO_MAX_MB",
           "MANAGE_PHOTO_MAX_MEGAPIXELS", "MANAGE_PHOTO_MAX_COUNT", "UPLOAD_RETENTION_HOURS",
           "SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "CSRF_TIME_LIMIT_SECONDS", "LOGIN_FREE_ATTEMPTS",
           "LOGIN_LOCK_AFTER", "LOGIN_ADDRESS_FREE_ATTEMPTS", "LOGIN_ADDRESS_LOCK_AFTER", "LOGIN_MAX_DELAY_SECONDS",
           "LOGIN_FORGET_HOURS", "EXPORT_MAX_ROWS", "CQL2_MAX_DEPTH", "CQL2_MAX_TERMS",
           "STORE_RETRY_AFTER", "MAX_REQUEST_MB", "UPLOAD_MAX_MB", "UPLOAD_MAX_FEATURES",
           "UPLOAD_ZIP_MAX_MEMBERS", "UPLOAD_ZIP_MAX_MB", "UPLOAD_ZIP_MAX_RATIO", "UPLOAD_MAX_MEGAPIXELS",
           "SCAN_MAX_MB", "REPORT_PHOTO_MAX_MB", "LEDGER_MAX_MB")


def _resolve_secret_key(config: dict, instance: Path, explicit_file: bool) -> None:
    """Settle SECRET_KEY: the setting, else the key file, else (outside production) a new random key file.

    Production never makes a key: every server behind a balancer must share one, and a key made silently
    on one host would sign everyone out whenever another host answered.
    """
    key = config.get("SECRET_KEY")
    production = config.get("ENV") == "production"
    if key:
        if production and len(str(key)) < MIN_PRODUCTION_KEY:
            raise ConfigError(
                f"REGISTRY_SECRET_KEY is {len(str(key))} characters; production needs at least {MIN_PRODUCTION_KEY} "
                "random ones. Make one with python -c 'import secrets; print(secrets.token_hex(32))' and start again.")
        return
    path = Path(config.get("SECRET_KEY_FILE") or instance / SECRET_KEY_FILENAME)
    config["SECRET_KEY_FILE"] = str(path)
    if production and not (explicit_file and path.exists()):
        raise ConfigError(
            "REGISTRY_ENV=production but REGISTRY_SECRET_KEY is unset. Set REGISTRY_SECRET_KEY to a long random "
            "value (python -c 'import secrets; print(secrets.token_hex(32))'), the same on every server, or point "
            "REGISTRY_SECRET_KEY_FILE at a file holding it, and start again.")
    if not path.exists():
        config["SECRET_KEY_CREATED"] = _write_key_file(path)
    config["SECRET_KEY"] = _read_key_file(path)


def _write_key_file(path: Path) -> bool:
    """Write a new random key readable by the owner only; False when another process wrote one first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            # A hard link appears whole or not at all, so workers starting together all read one key.
            os.link(draft, path)
            return True
        except FileExistsError:
            return False
    finally:
        draft.unlink(missing_ok=True)


def _read_key_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"the secret key file {path} can be read by other users (mode {stat.S_IMODE(mode):o}); "
                          f"run chmod 600 {path} and start again")
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_PRODUCTION_KEY:
        raise ConfigError(f"the secret key file {path} holds {len(key)} characters; it needs at least "
                          f"{MIN_PRODUCTION_KEY}. Delete it to have a new one made (outside production), or "
                          "write a long random value into it.")
    return key


def _session_settings(config: dict) -> None:
    """Cookie flags, the CSRF token lifetime and the Secure choice, from the settings above."""
    mode = str(config.get("SESSION_COOKIE_SECURE_MODE") or "auto").lower()
    if mode not in ("auto", "true", "false"):
        raise ConfigError(f"REGISTRY_SESSION_COOKIE_SECURE={mode!r} must be auto, true or false")
    config["SESSION_COOKIE_SECURE_MODE"] = mode
    config["SESSION_COOKIE_SECURE"] = mode == "true"
    config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    config["WTF_CSRF_TIME_LIMIT"] = int(float(config["CSRF_TIME_LIMIT_SECONDS"]))


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


def _hops(value) -> int:
    try:
        hops = int(str(value if value not in (None, "") else 0).strip())
    except ValueError:
        hops = -1
    if not 0 <= hops <= 10:
        raise ConfigError(f"REGISTRY_TRUSTED_PROXIES={value!r} must be a whole number of proxy hops from 0 to 10 "
                          "(1 for one nginx in front of the app; 0 when clients connect directly)")
    return hops


def check_production(config: dict, demo_users: list[str]) -> None:
    """Refuse to run in production with demo users present (load() has already refused a weak key)."""
    if config.get("ENV") != "production":
        return
    if demo_users:
        raise ConfigError(
            f"REGISTRY_ENV=production but the registry holds demo users ({', '.join(demo_users)}). "
            "A production registry must not contain demo accounts: use a registry created without "
            "demo data, or retire those accounts with 'flask --app registry users retire NAME'."
        )

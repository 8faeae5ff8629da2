"""Map shells rendered once per process (per language, base map and assets), and the vendor files' fingerprints."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable
from pathlib import Path

from flask import current_app
from flask_babel import get_locale

from maps.shell import MapParts, render_parts

FINGERPRINT_LENGTH = 16
# A handful of languages x base maps x map kinds; the bound only guards against a key that never repeats.
MAX_SHELLS = 64
_lock = threading.Lock()


def vendor_versions() -> dict[str, str]:
    """Vendor path -> a prefix of its SHA-256, from the install manifest (read again only when it changes)."""
    manifest = Path(current_app.config["ASSETS_DIR"]) / "manifest.json"
    try:
        stamp = manifest.stat().st_mtime_ns
    except OSError:
        return {}
    cached = current_app.extensions.get("vendor_versions")
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError):
        return {}
    versions = {path: entry["sha256"][:FINGERPRINT_LENGTH] for path, entry in files.items()
                if isinstance(entry, dict) and entry.get("sha256")}
    current_app.extensions["vendor_versions"] = (stamp, versions)
    return versions


def render_map(m) -> MapParts:
    """Render a folium map for one of the app's layouts, its vendor URLs fingerprinted."""
    return render_parts(m, versions=vendor_versions())


def shell(kind: str, key: Hashable, build: Callable[[], object]) -> MapParts:
    """The rendered parts of the map ``build()`` makes, built once per kind, language, ``key`` and assets.

    Only folium's rendered strings are kept, never a response: the page around them (its per-request
    values such as a form's key or a script nonce) is rendered afresh every time.
    """
    versions = vendor_versions()
    stamp = current_app.extensions.get("vendor_versions", (None,))[0]
    full_key = (kind, str(get_locale()), key, stamp)
    shells = current_app.extensions.setdefault("map_shells", {})
    parts = shells.get(full_key)
    if parts is None:
        parts = render_parts(build(), versions=versions)
        with _lock:
            if len(shells) >= MAX_SHELLS:
                shells.clear()
            shells[full_key] = parts
    return parts

"""Security headers on every response: a per-request script nonce, the Content-Security-Policy and friends."""

from __future__ import annotations

import secrets
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, current_app, g

from maps.basemaps import BasemapConfigError, basemap_from_settings

# Headers every response carries unless a view already chose its own value.
FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def csp_nonce() -> str:
    """The nonce of this request's inline scripts: made on first use, the same for the whole request."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


@lru_cache(maxsize=16)
def tile_sources(kind: str, url: str, crs: str, key: str) -> tuple[str, ...]:
    """Origins the configured base map's tiles come from, for ``img-src`` (a path on this server needs none)."""
    try:
        basemap = basemap_from_settings({"BASEMAP": kind, "BASEMAP_URL": url, "BASEMAP_CRS": crs,
                                         "TIANDITU_KEY": key})
    except BasemapConfigError:
        # The map pages say what is wrong with the setting; the policy just allows no remote tiles.
        return ()
    sources = []
    for layer in basemap.layers:
        parts = urlsplit(layer.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        hosts = ([parts.netloc.replace("{s}", s) for s in layer.subdomains] if "{s}" in parts.netloc
                 else [parts.netloc])
        for host in hosts:
            origin = f"{parts.scheme}://{host}"
            if origin not in sources:
                sources.append(origin)
    return tuple(sources)


def content_security_policy(config, nonce: str) -> str:
    """The policy for one response: scripts only from this server or carrying the request's nonce."""
    tiles = tile_sources(str(config.get("BASEMAP") or "osm"), str(config.get("BASEMAP_URL") or ""),
                         str(config.get("BASEMAP_CRS") or "EPSG:4326"), str(config.get("TIANDITU_KEY") or ""))
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # Leaflet positions every marker, tile and popup with inline styles, and folium's map part
        # carries a <style> element: styles may be inline, scripts may not.
        "style-src 'self' 'unsafe-inline'",
        "img-src " + " ".join(["'self'", "data:", "blob:", *tiles]),
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def _set_headers(response):
    # A 304's headers replace the kept copy's, whose inline scripts carry the nonce of the first answer:
    # a new policy here would block them, so a 304 keeps the policy the page came with.
    if response.status_code != 304:
        response.headers.setdefault("Content-Security-Policy",
                                    content_security_policy(current_app.config, csp_nonce()))
    for name, value in FIXED_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Give templates ``csp_nonce`` and every response the security headers."""
    app.context_processor(lambda: {"csp_nonce": csp_nonce()})
    app.after_request(_set_headers)

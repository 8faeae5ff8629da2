"""The public side: the overview map and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, session
from flask_babel import gettext as _

from maps.basemaps import BasemapConfigError, basemap_from_settings
from maps.shell import build_overview_map, render_parts
from registry.extensions import LOCALES, get_store
from registry.services.facilities import registry_has_demo

bp = Blueprint("public", __name__)


def _layer_labels() -> dict[str, str]:
    return {
        "osm": "OpenStreetMap",
        "tianditu": _("天地图矢量"),
        "tianditu_labels": _("天地图注记"),
        "xyz": _("底图"),
    }


@bp.get("/")
def index():
    """The overview map of memorial facilities."""
    labels = _layer_labels()
    try:
        basemap = basemap_from_settings(current_app.config, labels)
        basemap_unavailable = False
    except BasemapConfigError as exc:
        # A wrong base map setting should not take the public page down: show the map without
        # a base layer, tell the operator why in the log and the visitor only that it is missing.
        current_app.logger.error("base map disabled: %s", exc)
        basemap = basemap_from_settings({"BASEMAP": "none"})
        basemap_unavailable = True
    parts = render_parts(build_overview_map(current_app.config, basemap=basemap))
    return render_template(
        "public/index.html",
        map=parts,
        basemap=basemap,
        basemap_unavailable=basemap_unavailable,
        demo_notice=registry_has_demo(get_store()),
    )


def _back() -> str:
    """Where to return after switching language: ``next``, else the referring page of this site, else home."""
    target = request.args.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"


@bp.get("/lang/<code>")
def set_language(code: str):
    """Remember the chosen interface language and go back."""
    if code not in LOCALES:
        abort(400, description=_("不支持的语言：%(code)s（可选 zh_CN、en）", code=code))
    session["locale"] = code
    return redirect(_back())

"""The public side: the memorial map and the language switch (facility, roll and tribute pages in public_*)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session
from flask_babel import gettext as _

from maps.public import build_public_map
from registry.extensions import LOCALES, get_read_store
from registry.models.vocab import STATION_DEMONSTRATION, STATION_LEVELS
from registry.services import divisions
from registry.services.base import InvalidInput
from registry.services.facilities import registry_has_demo
from registry.services.public.features import features_by_name
from registry.web.caching import conditional_page, per_version
from registry.web.language import labels, page_is_english
from registry.web.manage.calendar import remembrance_context
from registry.web.map_cache import shell
from registry.web.redirects import safe_next, unsafe_reason
from registry.web.system.basemap import boundary_layer, configured_basemap

bp = Blueprint("public", __name__)


def _layer_labels() -> dict[str, str]:
    return {
        "osm": "OpenStreetMap",
        "tianditu": _("天地图矢量"),
        "tianditu_labels": _("天地图注记"),
        "xyz": _("底图"),
    }


MAP_ELEMENTS = {"list": "map-list", "status": "map-status", "search": "map-search", "results": "map-results",
                "near": "map-near-me", "listCount": "map-list-count", "listPager": "map-list-pager"}


def current_basemap():
    """The configured base map, or none (and a flag) when its settings are wrong."""
    # A wrong base map setting should not take the public page down: show the map without
    # a base layer, tell the operator why in the log and the visitor only that it is missing.
    return configured_basemap(_layer_labels())


def category_labels() -> dict[str, str]:
    return {
        "cemetery": _("烈士陵园"), "memorial_hall": _("纪念馆"), "monument": _("纪念碑/塔"),
        "pavilion": _("纪念亭/廊"), "name_wall": _("英名墙"), "square": _("纪念广场"),
        "collective_burial": _("集中安葬点"), "scattered_tomb": _("零散烈士墓"),
    }


def level_labels() -> dict[str, str]:
    return {"national": _("国家级"), "provincial": _("省级"), "city": _("设区的市级"), "county": _("县级"),
            "ungraded": _("未定级")}


def _map_labels() -> dict:
    return {
        "categories": category_labels(),
        "levels": level_labels(),
        "legend": _("图例"),
        "unknown": _("无名烈士"),
        "details": _("查看详情"),
        "demo": _("示例数据"),
        "approximate": _("位置为近似位置"),
        "relocated": _("迁入烈士墓 %(n)s 座"),
        "educationBase": _("红色教育基地"),
        "layerHeritage": _("红色文化遗存"),
        "tombCluster": _("%(n)s 座烈士墓，点击放大"),
        "plot": _("墓位 %(plot)s"),
        # Which of a tomb's plot labels the page shows: as signed (A区 4排 20号) or in English.
        "plotProperty": "plot_label_en" if page_is_english() else "plot_label",
        "capped": _("此范围内共 %(total)s 处，仅显示 %(shown)s 处，请放大地图查看全部。"),
        "loadFailed": _("地图数据加载失败，请稍后重试。"),
        "nothingHere": _("当前地图范围内没有纪念设施。"),
        "listCount": _("地图范围内有 %(n)s 处"),
        "listShowing": _("显示第 %(first)s–%(last)s 处，共 %(total)s 处"),
        "listPrevious": _("上一页"),
        "listNext": _("下一页"),
        "found": _("找到 %(n)s 处"),
        "locating": _("正在获取您的位置……"),
        "youAreHere": _("您的位置"),
        "nearShown": _("已显示您附近的纪念设施。"),
        "locationFailed": _("无法获取您的位置，请检查浏览器的定位权限。"),
        "cemeterySize": _("圆的大小表示迁入的烈士墓数量。"),
        # The optional layer of veterans service stations (registry/services/stations/viewport.py).
        "stationLevels": labels(STATION_LEVELS),
        "stationDemonstration": labels(STATION_DEMONSTRATION),
        "stationHours": _("开放时间：%(hours)s"),
        "stationPhone": _("电话：%(phone)s"),
    }


def _layer_names() -> dict[str, str]:
    return {"facilities": _("纪念设施"), "cemeteries": _("烈士陵园与集中安葬点"),
            "heritage_sites": _("红色文化遗存与教育基地"), "tombs": _("烈士墓"),
            "service_stations": _("退役军人服务站")}


@bp.get("/")
def index():
    """The memorial map: layers loaded by viewport, legend, layer switch, search, near me and a text list."""
    return conditional_page(_index_page)


def _index_page():
    basemap, basemap_unavailable = current_basemap()
    center, zoom = divisions.first_view(get_read_store())
    parts = shell("public", (basemap, center, zoom),
                  lambda: build_public_map(basemap, _map_labels(), _layer_names(), elements=MAP_ELEMENTS,
                                           center=center, zoom=zoom, boundaries=boundary_layer(basemap)))
    # Without JavaScript the search form reloads the page with ?q=: answer it here as a list of links.
    q = request.args.get("q", "").strip()
    found = search_error = None
    if q:
        try:
            found = features_by_name(get_read_store(), q)["features"]
        except InvalidInput:
            search_error = _("请输入 1 至 50 个字的名称。")
    return render_template(
        "public/index.html",
        q=q,
        found=found,
        search_error=search_error,
        map=parts,
        basemap=basemap,
        basemap_unavailable=basemap_unavailable,
        demo_notice=per_version("has_demo", lambda: registry_has_demo(get_read_store())),
        elements=MAP_ELEMENTS,
        **remembrance_context(),
    )


def _back() -> str:
    """Where to return after switching language: ``next``, else the referring page of this site, else home."""
    target = request.args.get("next")
    if target:
        return safe_next(target)
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host:
        back = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        # The Referer header is the browser's, not a choice of the visitor's: an odd one falls back to home.
        if back and unsafe_reason(back) is None:
            return back
    return "/"


@bp.get("/lang/<code>")
def set_language(code: str):
    """Remember the chosen interface language and go back."""
    if code not in LOCALES:
        abort(400, description=_("不支持的语言：%(code)s（可选 zh_CN、en）", code=code))
    target = _back()  # a refused ``next`` stops here, before the choice is stored
    session["locale"] = code
    return redirect(target)

"""Map builders of the public side: the memorial map that loads its features by viewport, and a facility's small map."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import folium
from branca.element import MacroElement
from folium.template import Template
from markupsafe import Markup

from geodata.crs import wgs84_to_gcj02
from maps.basemaps import Basemap, add_basemap
from maps.boundaries import add_boundaries
from maps.shell import DEFAULT_CENTER, MapParts, MetricScale

# Protection level -> marker colour (all at least 4.5:1 against white text).
LEVEL_COLOURS = {
    "national": "#8b1a1a",
    "provincial": "#b45309",
    "city": "#1d4ed8",
    "county": "#047857",
    "ungraded": "#4b5563",
}
# Facility category -> the one-character symbol drawn in its marker (and shown in the legend).
CATEGORY_SYMBOLS = {
    "cemetery": "陵",
    "memorial_hall": "馆",
    "monument": "碑",
    "pavilion": "亭",
    "name_wall": "墙",
    "square": "场",
    "collective_burial": "葬",
    "scattered_tomb": "墓",
}
HERITAGE_SYMBOL = "★"
# The layers the page fills from the API: key, API path, and whether the layer starts visible.
# Cemeteries and collective burial grounds have their own layer (sized by relocations), not a second marker.
_NOT_CEMETERIES = ",".join(c for c in CATEGORY_SYMBOLS if c not in ("cemetery", "collective_burial"))
VIEWPORT_LAYERS = (
    ("facilities", f"/api/facilities?category={_NOT_CEMETERIES}", True),
    ("cemeteries", "/api/cemeteries", True),
    ("heritage_sites", "/api/heritage-sites", True),
    ("tombs", "/api/tombs", False),
    ("service_stations", "/api/stations", False),
)


def _script_json(value) -> str:
    """JSON safe to place inside a <script> element (no '<', '>', '&' or quote can end it)."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class ViewportLayers(MacroElement):
    """Fill empty feature groups of a map from the registry's API, for the current view only.

    The script (``/static/public/map.js``, loaded by the page) fetches ``<api>?bbox=…&zoom=…`` for
    each visible group after every move, draws markers styled by category and level, builds the
    legend, the text list of what is in view, the name search and "near me". Every name is put into
    the page as text (``textContent``), never as HTML. With ``gcj02=True`` the API is asked for
    GCJ-02 coordinates, so the overlays fit a GCJ-02 base map; storage is untouched.

    Parameters
    ----------
    groups : Mapping of str to folium.FeatureGroup
        The (empty) groups to fill, keyed by layer (``facilities``, ``cemeteries``, ``heritage_sites``,
        ``tombs``); each key must be in :data:`VIEWPORT_LAYERS`.
    labels : Mapping
        Translated words for the legend, popups and messages (see :func:`build_public_map`).
    gcj02 : bool, default False
        Whether the base map is in GCJ-02.
    elements : Mapping of str to str, optional
        Ids of page elements the script drives: ``list``, ``status``, ``search``, ``results``, ``near``.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> group = folium.FeatureGroup(name="f").add_to(m)
    >>> _ = ViewportLayers({"facilities": group}, {}).add_to(m)
    >>> "RegistryPublicMap.attach(" in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            RegistryPublicMap.attach({{ this._parent.get_name() }}, {
                {%- for key, group in this.groups.items() %}
                {{ key|tojson }}: {{ group.get_name() }},
                {%- endfor %}
            }, {{ this.options_json }});
        {% endmacro %}
        """
    )

    def __init__(self, groups: Mapping[str, folium.FeatureGroup], labels: Mapping, *, gcj02: bool = False,
                 elements: Mapping[str, str] | None = None):
        super().__init__()
        self._name = "ViewportLayers"
        apis = {key: path for key, path, _visible in VIEWPORT_LAYERS}
        unknown = set(groups) - set(apis)
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} are not viewport layers; known: {sorted(apis)}")
        self.groups = dict(groups)
        self.options_json = _script_json({
            "apis": {key: apis[key] for key in groups},
            "labels": dict(labels),
            "gcj02": bool(gcj02),
            "colours": LEVEL_COLOURS,
            "symbols": CATEGORY_SYMBOLS,
            "heritageSymbol": HERITAGE_SYMBOL,
            "elements": dict(elements or {}),
        })


class Pin(MacroElement):
    """One marker whose label is set as text (never parsed as HTML); the small map of a facility page.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> _ = Pin(25.1, 117.0, "<b>x</b>").add_to(m)
    >>> "<b>" in m.get_root().render()
    False
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            RegistryPublicMap.pin({{ this._parent.get_name() }}, {{ this.options_json }});
        {% endmacro %}
        """
    )

    def __init__(self, lat: float, lon: float, label: str, *, level: str | None = None, symbol: str | None = None):
        super().__init__()
        self._name = "Pin"
        self.options_json = _script_json({"lat": lat, "lon": lon, "label": label,
                                          "colour": LEVEL_COLOURS.get(level or "", "#4b5563"),
                                          "symbol": symbol or ""})


def _new_map(basemap: Basemap, center: Sequence[float], zoom: int) -> folium.Map:
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=False)
    add_basemap(m, basemap)
    MetricScale().add_to(m)
    return m


def build_public_map(basemap: Basemap, labels: Mapping, layer_names: Mapping[str, str], *,
                     center: Sequence[float] = DEFAULT_CENTER, zoom: int = 9,
                     elements: Mapping[str, str] | None = None,
                     boundaries: Mapping | None = None) -> folium.Map:
    """The public memorial map: base map, an empty group per viewport layer filled by the API, and a layer switch.

    No feature is embedded in the page: the page weighs the same with ten tombs or a million.

    Parameters
    ----------
    basemap : Basemap
        From :func:`maps.basemaps.basemap_from_settings`; a GCJ-02 base map makes the overlays ask
        for GCJ-02 coordinates.
    labels : Mapping
        Translated words for the script (legend title, category and level names, messages).
    layer_names : Mapping of str to str
        Translated names of the layers in the layer switch, keyed as in :data:`VIEWPORT_LAYERS`.
    center, zoom
        The first view (latitude, longitude).
    elements : Mapping of str to str, optional
        Ids of the page's list, status, search and near-me elements.
    boundaries : Mapping, optional
        A light layer of division outlines (for a map without a base map): ``name``, ``urls`` (level ->
        GeoJSON URL) and ``approximate`` (the words for sketched outlines); see :mod:`maps.boundaries`.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> m = build_public_map(basemap_from_settings({"BASEMAP": "none"}), {}, {"facilities": "F"})
    >>> html = m.get_root().render()
    >>> "RegistryPublicMap.attach(" in html and '"features"' not in html
    True
    """
    m = _new_map(basemap, center, zoom)
    if boundaries:
        add_boundaries(m, boundaries["name"], boundaries["urls"], boundaries["approximate"])
    groups = {}
    for key, _path, visible in VIEWPORT_LAYERS:
        if key in layer_names:
            groups[key] = folium.FeatureGroup(name=layer_names[key], show=visible, control=True).add_to(m)
    ViewportLayers(groups, labels, gcj02=basemap.needs_gcj_shift, elements=elements).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def build_facility_map(basemap: Basemap, lon: float, lat: float, label: str, *, level: str | None = None,
                       category: str | None = None, zoom: int = 15) -> folium.Map:
    """The small map of one facility: its position (moved to GCJ-02 on screen if the base map is).

    Parameters
    ----------
    basemap : Basemap
    lon, lat : float
        The stored WGS 84 / CGCS2000 position.
    label : str
        The facility's name, shown as text.
    level, category : str, optional
        Codes that pick the marker colour and symbol.
    zoom : int, default 15

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> m = build_facility_map(basemap_from_settings({"BASEMAP": "none"}), 117.0, 25.1, "x")
    >>> m.location
    [25.1, 117.0]
    """
    if basemap.needs_gcj_shift:
        lon, lat = wgs84_to_gcj02(lon, lat)
    m = _new_map(basemap, (lat, lon), zoom)
    Pin(lat, lon, label, level=level, symbol=CATEGORY_SYMBOLS.get(category or "")).add_to(m)
    return m


# Where a facility map's shell is centred until a page places it: a point no registry position can take
# (south Atlantic), so its literal in the rendered script is unambiguous.
_SHELL_CENTER = (-48.123456, -27.654321)


def build_facility_shell(basemap: Basemap, *, zoom: int = 15) -> folium.Map:
    """A facility's small map without its place: built once per language and base map, then placed per page.

    Render it with :func:`maps.shell.render_parts` and give the parts to :func:`place_facility_map`.

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> build_facility_shell(basemap_from_settings({"BASEMAP": "none"})).options["zoom"]
    15
    """
    return _new_map(basemap, _SHELL_CENTER, zoom)


def _shell_center_literal() -> str:
    return f"[{_SHELL_CENTER[0]}, {_SHELL_CENTER[1]}]"


def place_facility_map(shell: MapParts, basemap: Basemap, lon: float, lat: float, label: str, *,
                       level: str | None = None, category: str | None = None) -> MapParts:
    """The parts of one facility's small map: the shell centred on it, with its pin (the label as text).

    Gives the same page as rendering :func:`build_facility_map`, without building a folium map per request.

    Parameters
    ----------
    shell : MapParts
        The rendered :func:`build_facility_shell`.
    basemap : Basemap
        The base map the shell was built with (a GCJ-02 one moves the position on screen).
    lon, lat : float
        The stored WGS 84 / CGCS2000 position.
    label, level, category
        As for :func:`build_facility_map`.

    Raises
    ------
    ValueError
        When ``shell`` is not a rendered facility shell.

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> from maps.shell import render_parts
    >>> none = basemap_from_settings({"BASEMAP": "none"})
    >>> parts = place_facility_map(render_parts(build_facility_shell(none)), none, 117.0, 25.1, "<b>x</b>")
    >>> "center: [25.1, 117.0]" in parts.script, "<b>" in parts.script
    (True, False)
    """
    if _shell_center_literal() not in shell.script:
        raise ValueError("these parts are not a rendered facility map shell")
    if basemap.needs_gcj_shift:
        lon, lat = wgs84_to_gcj02(lon, lat)
    pin = Pin(lat, lon, label, level=level, symbol=CATEGORY_SYMBOLS.get(category or ""))
    script = str(shell.script).replace(_shell_center_literal(), json.dumps([float(lat), float(lon)]))
    # The same call the Pin element renders inside folium's script; its JSON cannot end the <script>.
    script += f"\n    RegistryPublicMap.pin({shell.map_id}, {pin.options_json});\n"
    return MapParts(header=shell.header, html=shell.html, script=Markup(script), map_id=shell.map_id)

"""Planners' maps: one conflict check with its findings, and the planning map loaded by viewport."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import folium
from branca.element import MacroElement
from folium.template import Template
from shapely.geometry import mapping, shape

from geodata.crs import shift_geometry
from maps.basemaps import Basemap, add_basemap
from maps.drawing import DrawOutline
from maps.shell import DEFAULT_CENTER, MetricScale

# Finding -> (stroke, fill): forbidden red, needs review amber, the outline blue, plan scopes green.
STYLES = {
    "outline": {"color": "#1d4ed8", "weight": 4, "fillOpacity": 0.1},
    "forbidden": {"color": "#b91c1c", "weight": 2, "fillColor": "#dc2626", "fillOpacity": 0.35},
    "review": {"color": "#b45309", "weight": 2, "fillColor": "#f59e0b", "fillOpacity": 0.2, "dashArray": "6 4"},
    "nearby": {"color": "#4b5563", "weight": 2, "fillColor": "#6b7280", "fillOpacity": 0.8},
    "protection_range": {"color": "#b91c1c", "weight": 2, "fillColor": "#dc2626", "fillOpacity": 0.25},
    "control_zone": {"color": "#b45309", "weight": 2, "fillOpacity": 0.08, "dashArray": "6 4"},
    "plan_zones": {"color": "#047857", "weight": 2, "fillColor": "#10b981", "fillOpacity": 0.2},
    "conflict_checks": {"color": "#1d4ed8", "weight": 3, "fillOpacity": 0.1},
    "facilities": {"color": "#8b1a1a", "weight": 1, "fillColor": "#8b1a1a", "fillOpacity": 0.9},
}
# A saved check on the planning map is drawn in the colour of its verdict.
VERDICT_STYLES = {
    "forbidden": {"color": "#b91c1c", "weight": 4},
    "review": {"color": "#b45309", "weight": 4},
    "clear": {"color": "#047857", "weight": 3},
}
# The planning map's layers, in drawing order: key, and whether it starts visible.
PLANNING_LAYERS = (
    ("control_zone", True),
    ("protection_range", True),
    ("plan_zones", True),
    ("conflict_checks", True),
    ("facilities", True),
)


def _script_json(value) -> str:
    """JSON safe inside a <script> element: nothing in it can close the element or start markup."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def for_display(feature_collection: Mapping, gcj02: bool) -> dict:
    """The collection as drawn over the base map: shifted to GCJ-02 when the base map is in GCJ-02 (display only)."""
    if not gcj02:
        return dict(feature_collection)
    features = []
    for feature in feature_collection["features"]:
        moved = dict(feature)
        if feature.get("geometry"):
            moved["geometry"] = mapping(shift_geometry(shape(feature["geometry"]), "EPSG:4326", "GCJ-02"))
        features.append(moved)
    return {**feature_collection, "features": features}


class _Findings(MacroElement):
    """Draw a conflict check's features, styled by role, and fit the view to them.

    Names are not put into the map at all (no popups): the page's table carries them as text,
    so no user text reaches HTML through the map.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var data = {{ this.data }};
            var styles = {{ this.styles }};
            var group = L.featureGroup().addTo(map);
            ["review", "forbidden", "outline", "nearby"].forEach(function (role) {
                L.geoJSON({type: "FeatureCollection", features: data.features.filter(function (f) {
                    return f.properties.role === role; })}, {
                    style: function () { return styles[role]; },
                    pointToLayer: function (f, latlng) {
                        return L.circleMarker(latlng, Object.assign({radius: 6}, styles[role]));
                    }
                }).addTo(group);
            });
            if (group.getLayers().length) { map.fitBounds(group.getBounds(), {padding: [20, 20], maxZoom: 17}); }
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, data: Mapping):
        super().__init__()
        self._name = "ConflictFindings"
        self.data = _script_json(data)
        self.styles = _script_json({k: STYLES[k] for k in ("outline", "forbidden", "review", "nearby")})


def build_check_map(basemap: Basemap, check_geojson: Mapping) -> folium.Map:
    """A map of one saved conflict check: the outline, the ranges and zones it enters, the facilities near it.

    A check's features are few (bounded by what one outline meets), so they are embedded.

    Parameters
    ----------
    basemap : Basemap
        The configured base map; with a GCJ-02 base map the features are shifted for display.
    check_geojson : Mapping
        The check as a GeoJSON FeatureCollection whose features carry ``properties.role``
        (outline, forbidden, review, nearby).

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"role": "outline"},
    ...       "geometry": {"type": "LineString", "coordinates": [[116.8, 25.2], [116.9, 25.3]]}}]}
    >>> m = build_check_map(basemap_from_settings({"BASEMAP": "none"}), fc)
    >>> "ConflictFindings" in [c._name for c in m._children.values()]
    True
    """
    m = folium.Map(location=list(DEFAULT_CENTER), zoom_start=12, tiles=None, control_scale=False)
    add_basemap(m, basemap)
    MetricScale().add_to(m)
    _Findings(for_display(check_geojson, basemap.needs_gcj_shift)).add_to(m)
    return m


def build_zone_map(basemap: Basemap, zones_geojson: Mapping, *, field: str = "geojson", lang: str = "zh") -> folium.Map:
    """A facility's zones with a tool to draw a new one (polygons) into the form field ``field``.

    Parameters
    ----------
    basemap : Basemap
        The configured base map.
    zones_geojson : Mapping
        The facility's current zones and its point, with roles as :func:`build_check_map` takes them.
    field : str, default "geojson"
        Id of the form field the drawing fills (GeoJSON in WGS 84 longitude/latitude).
    lang : str, default "zh"
        The page's locale, for the drawing tools' tooltips.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> m = build_zone_map(basemap_from_settings({"BASEMAP": "none"}), {"type": "FeatureCollection", "features": []})
    >>> [c._name for c in m._children.values()][-1]
    'DrawOutline'
    """
    m = build_check_map(basemap, zones_geojson)
    DrawOutline(field, ("polygon",), lang=lang, gcj02=basemap.needs_gcj_shift, style=STYLES["outline"]).add_to(m)
    return m


class _PlanningLayers(MacroElement):
    """Fill the planning map's layers from the registry for the current view (see static/plan/planning-map.js)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.registryPlanningMap({{ this._parent.get_name() }}, {{ this.options }}, {{ this.control }});
        {% endmacro %}
        """
    )

    def __init__(self, options: Mapping, control: str):
        super().__init__()
        self._name = "PlanningLayers"
        self.options = _script_json(options)
        self.control = control  # the map's layer switch, which the script adds its layers to


def build_planning_map(basemap: Basemap, layer_names: Mapping[str, str], data_url: str, *,
                       status_element: str = "plan-map-status", labels: Mapping[str, str] | None = None,
                       center: Sequence[float] = DEFAULT_CENTER, zoom: int = 10) -> folium.Map:
    """The planning map: ranges, control zones, plan scopes, saved checks and facilities, loaded by viewport.

    No feature is embedded: the page's script asks ``data_url?layer=…&bbox=…`` after every move,
    so the page weighs the same however large the registry grows.

    Parameters
    ----------
    basemap : Basemap
        The configured base map.
    layer_names : Mapping of str to str
        Translated names of the layers in :data:`PLANNING_LAYERS`.
    data_url : str
        Where the features come from.
    status_element : str
        Id of the element the script writes its status into.
    labels : Mapping of str to str, optional
        Translated messages for the script.
    center, zoom
        The initial view.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> m = build_planning_map(basemap_from_settings({"BASEMAP": "none"}), {}, "/plan/map/features")
    >>> "registryPlanningMap" in m.get_root().render()
    True
    """
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=False)
    add_basemap(m, basemap)
    MetricScale().add_to(m)
    # One switch, open, with the base maps and the planning layers (the script adds those).
    control = folium.LayerControl(collapsed=False).add_to(m)
    _PlanningLayers({
        "url": data_url,
        "layers": [{"key": key, "name": layer_names.get(key, key), "visible": visible, "style": STYLES[key],
                    "styleBy": VERDICT_STYLES if key == "conflict_checks" else None}
                   for key, visible in PLANNING_LAYERS],
        "gcj02": basemap.needs_gcj_shift,
        "status": status_element,
        "labels": dict(labels or {}),
    }, control.get_name()).add_to(m)
    return m


def build_outline_map(basemap: Basemap, layer_names: Mapping[str, str], data_url: str, *, field: str = "geojson",
                      lang: str = "zh", status_element: str = "plan-map-status",
                      labels: Mapping[str, str] | None = None, center: Sequence[float] = DEFAULT_CENTER,
                      zoom: int = 10) -> folium.Map:
    """The planning map with a tool to draw a proposed project's outline, a road (line) or a plot (polygon).

    The ranges, zones and facilities around are loaded by viewport as on :func:`build_planning_map`,
    for reference only; the outline drawn fills the form field ``field`` as GeoJSON in WGS 84.

    Parameters
    ----------
    basemap, layer_names, data_url, status_element, labels
        As for :func:`build_planning_map`.
    field : str, default "geojson"
        Id of the form field the outline fills.
    lang : str, default "zh"
        The page's locale, for the drawing tools' tooltips.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> from maps.basemaps import basemap_from_settings
    >>> m = build_outline_map(basemap_from_settings({"BASEMAP": "none"}), {}, "/plan/map/features")
    >>> html = m.get_root().render()
    >>> "registryPlanningMap" in html, '"drawPolyline": true' in html
    (True, True)
    """
    m = build_planning_map(basemap, layer_names, data_url, status_element=status_element, labels=labels,
                           center=center, zoom=zoom)
    DrawOutline(field, ("line", "polygon"), lang=lang, gcj02=basemap.needs_gcj_shift,
                style=STYLES["outline"]).add_to(m)
    return m

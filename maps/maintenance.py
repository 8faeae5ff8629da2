"""The maintenance map: facilities coloured by inspection status, open work orders and condition trend, by viewport."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import folium
from branca.element import MacroElement
from folium.template import Template

from maps.basemaps import Basemap
from maps.shell import DEFAULT_CENTER, build_overview_map

# Status -> marker colour; the legend and the list badges use the same colours.
STATUS_COLOURS = {"problem_open": "#7b1fa2", "overdue": "#c62828", "due_soon": "#a35c00", "ok": "#2e7d32"}
TREND_COLOURS = {"declining": "#c62828", "stable": "#607d8b", "improving": "#2e7d32"}


class MaintenanceLayers(MacroElement):
    """Three overlays filled from ``data_url`` for the visible box: status, open work orders, condition trend.

    The page weighs the same whatever the number of facilities: features are fetched as GeoJSON
    (``?bbox=minx,miny,maxx,maxy`` added to ``data_url``) each time the view settles. Popups are
    built with ``textContent``, so names from the registry are never read as HTML.

    Parameters
    ----------
    data_url : str
        The GeoJSON endpoint; may already carry a query string (filters).
    labels : Mapping of str to str
        Translated names: ``status``, ``tasks``, ``trend``, ``open_archive``, ``inspect``, and each
        status and trend code.
    gcj_shift : bool, default False
        Ask the endpoint for positions shifted to GCJ-02 (for a GCJ-02 base map).
    control : str
        JavaScript name of the map's ``folium.LayerControl``; the layers are added to it.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> switch = folium.LayerControl(collapsed=False).add_to(m)
    >>> _ = MaintenanceLayers("/manage/map.geojson", {"status": "Status"}, control=switch.get_name()).add_to(m)
    >>> "/manage/map.geojson" in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var colours = {{ this.colours|tojson }};
            var trendColours = {{ this.trend_colours|tojson }};
            var labels = {{ this.labels|tojson }};
            var status = L.layerGroup().addTo(map), tasks = L.layerGroup().addTo(map), trend = L.layerGroup();
            function popup(p) {
                var box = document.createElement("div");
                var title = document.createElement("strong");
                title.textContent = p.name;
                box.appendChild(title);
                [p.code, labels[p.status] || p.status, p.priority ? (labels.priority + " " + p.priority) : "",
                 p.trend ? (labels.trend + ": " + (labels[p.trend] || p.trend)) : "",
                 p.active_tasks ? (labels.tasks + ": " + p.active_tasks) : ""].forEach(function (text) {
                    if (!text) { return; }
                    var line = document.createElement("div");
                    line.textContent = text;
                    box.appendChild(line);
                });
                [[p.url, labels.open_archive], [p.inspect_url, labels.inspect]].forEach(function (pair) {
                    if (!pair[0]) { return; }
                    var link = document.createElement("a");
                    link.href = pair[0];
                    link.textContent = pair[1];
                    link.style.marginRight = "0.8em";
                    box.appendChild(link);
                });
                return box;
            }
            function draw(data) {
                status.clearLayers(); tasks.clearLayers(); trend.clearLayers();
                (data.features || []).forEach(function (f) {
                    var p = f.properties, ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
                    var marker = L.circleMarker(ll, {radius: 7, weight: 2, color: "#fff", fillOpacity: 0.9,
                                                     fillColor: colours[p.status] || "#555"});
                    marker.feature = f;
                    marker.options.status = p.status;
                    marker.bindPopup(function () { return popup(p); });
                    status.addLayer(marker);
                    if (p.active_tasks) {
                        tasks.addLayer(L.circleMarker(ll, {radius: 12, weight: 2, color: "#7b1fa2", fill: false,
                                                           dashArray: "3 3", interactive: false}));
                    }
                    if (p.trend) {
                        trend.addLayer(L.circleMarker(ll, {radius: 5, weight: 1, color: "#222", fillOpacity: 1,
                                                           fillColor: trendColours[p.trend] || "#999"})
                                       .bindPopup(function () { return popup(p); }));
                    }
                });
                map.getContainer().setAttribute("data-features", String((data.features || []).length));
                map.getContainer().dispatchEvent(new CustomEvent("maintenance:loaded", {detail: data}));
            }
            var pending = null;
            function load() {
                var b = map.getBounds();
                var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
                    return v.toFixed(5);
                }).join(",");
                var url = {{ this.data_url|tojson }};
                url += (url.indexOf("?") >= 0 ? "&" : "?") + "bbox=" + bbox;
                if (pending) { pending.abort(); }
                pending = new AbortController();
                fetch(url, {credentials: "same-origin", signal: pending.signal,
                            headers: {"Accept": "application/geo+json"}})
                    .then(function (r) { return r.ok ? r.json() : {features: []}; })
                    .then(draw)
                    .catch(function (e) { if (e.name !== "AbortError") { console.warn(e); } });
            }
            map.on("moveend", load);
            var overlays = {};
            overlays[labels.status] = status;
            overlays[labels.tasks] = tasks;
            overlays[labels.trend] = trend;
            // Into the map's own layer switch, beside the base maps: one switch, not two.
            Object.keys(overlays).forEach(function (name) { {{ this.control }}.addOverlay(overlays[name], name); });
            window.maintenanceMap = {map: map, reload: load};
            load();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, data_url: str, labels: Mapping[str, str], gcj_shift: bool = False, *, control: str):
        super().__init__()
        self._name = "MaintenanceLayers"
        self.control = control  # the map's layer switch, which the script adds its layers to
        url = data_url
        if gcj_shift:
            url += ("&" if "?" in url else "?") + "crs=gcj02"
        self.data_url = url
        self.labels = dict(labels)
        self.colours = STATUS_COLOURS
        self.trend_colours = TREND_COLOURS


def build_maintenance_map(settings: Mapping, data_url: str, labels: Mapping[str, str], *,
                          basemap: Basemap | None = None, center: Sequence[float] = DEFAULT_CENTER,
                          zoom: int = 9) -> folium.Map:
    """The overview shell plus :class:`MaintenanceLayers`; render it with :func:`maps.shell.render_parts`.

    Parameters
    ----------
    settings : Mapping
        The application's base map settings.
    data_url : str
        Where the page fetches the facilities' GeoJSON (with the chosen filters).
    labels : Mapping of str to str
        Translated labels (see :class:`MaintenanceLayers`).
    basemap : Basemap, optional
        An already resolved base map.
    center, zoom
        Initial view (latitude, longitude).

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> m = build_maintenance_map({"BASEMAP": "none"}, "/data.geojson", {"status": "S"})
    >>> any(type(c).__name__ == "MaintenanceLayers" for c in m._children.values())
    True
    """
    m = build_overview_map(settings, center=center, zoom=zoom, basemap=basemap)
    shift = basemap.needs_gcj_shift if basemap is not None else False
    control = next(c for c in m._children.values() if isinstance(c, folium.LayerControl))
    control.options["collapsed"] = False  # the status, work-order and trend layers stay in sight
    MaintenanceLayers(data_url, labels, gcj_shift=shift, control=control.get_name()).add_to(m)
    return m

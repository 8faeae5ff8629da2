"""The visit route map: numbered stops in visiting order joined by straight legs, and the start point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import folium
from branca.element import MacroElement
from folium.template import Template

from geodata.crs import wgs84_to_gcj02
from maps.basemaps import Basemap
from maps.shell import DEFAULT_CENTER, build_overview_map

__all__ = ["VisitRoute", "build_visit_map"]


class VisitRoute(MacroElement):
    """Draws one day's route: a numbered marker per stop, the start point, and the legs between them.

    The route is the page's own subject (at most a few hundred points, the same whatever the size of
    the registry), so it travels with the map instead of being fetched. Names reach the map as text
    only: each marker's ``title`` (read by screen readers and map-a11y.js) and a tooltip built with
    ``textContent``; the marker's face holds its number alone.

    Parameters
    ----------
    stops : sequence of mapping
        In visiting order: ``number``, ``name``, ``lon``, ``lat`` (degrees, already in the base map's system).
    start : mapping, optional
        ``name``, ``lon``, ``lat`` of the start point.
    labels : Mapping of str to str
        Translated ``start`` (the start marker's name when it has none of its own).
    back : bool, default False
        Draw the leg from the last stop back to the start.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> stops = [{"number": 1, "name": "<b>A</b>", "lon": 117.0, "lat": 25.0}]
    >>> html = m.add_child(VisitRoute(stops)).get_root().render()
    >>> "VisitRouteStops" in html and "<b>A</b>" not in html
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var stops = {{ this.stops|tojson }}, start = {{ this.start|tojson }};
            var labels = {{ this.labels|tojson }}, back = {{ this.back|tojson }};
            var VisitRouteStops = L.featureGroup().addTo(map);
            function icon(text, extra) {
                var face = document.createElement("span");
                face.className = "visit-marker__number";
                face.textContent = text;
                return L.divIcon({className: "visit-marker " + extra, html: face, iconSize: [30, 30],
                                  iconAnchor: [15, 15], tooltipAnchor: [12, 0]});
            }
            function tip(text) {
                var box = document.createElement("span");
                box.textContent = text;
                return box;
            }
            var line = [];
            if (start) {
                var name = start.name || labels.start;
                L.marker([start.lat, start.lon], {icon: icon("\u2605", "visit-marker--start"), title: name})
                    .bindTooltip(tip(name)).addTo(VisitRouteStops);
                line.push([start.lat, start.lon]);
            }
            stops.forEach(function (s) {
                var title = s.number + ". " + s.name;
                L.marker([s.lat, s.lon], {icon: icon(String(s.number), ""), title: title})
                    .bindTooltip(tip(title)).addTo(VisitRouteStops);
                line.push([s.lat, s.lon]);
            });
            if (start && back && stops.length) { line.push([start.lat, start.lon]); }
            if (line.length > 1) {
                L.polyline(line, {color: "#8b1a1a", weight: 3, opacity: 0.8, interactive: false})
                    .addTo(VisitRouteStops);
            }
            if (line.length) {
                map.fitBounds(VisitRouteStops.getBounds(), {padding: [30, 30], maxZoom: 15});
            }
            map.getContainer().setAttribute("data-stops", String(stops.length));
            // The page's print button refits the route to the printed map's size (see manage/visits.js).
            window.visitRoute = {map: map, refit: function () {
                map.invalidateSize(false);
                if (line.length) { map.fitBounds(VisitRouteStops.getBounds(), {padding: [30, 30], maxZoom: 15}); }
            }};
        })();
        {% endmacro %}
        """
    )

    def __init__(self, stops: Sequence[Mapping], start: Mapping | None = None,
                 labels: Mapping[str, str] | None = None, back: bool = False):
        super().__init__()
        self._name = "VisitRoute"
        self.stops = [{"number": int(s["number"]), "name": str(s["name"]), "lon": float(s["lon"]),
                       "lat": float(s["lat"])} for s in stops]
        self.start = None if start is None else {"name": str(start.get("name") or ""), "lon": float(start["lon"]),
                                                 "lat": float(start["lat"])}
        self.labels = dict(labels or {})
        self.back = bool(back)


def build_visit_map(settings: Mapping, stops: Sequence[Mapping], start: Mapping | None = None, *,
                    labels: Mapping[str, str] | None = None, back: bool = False, basemap: Basemap | None = None,
                    center: Sequence[float] = DEFAULT_CENTER, zoom: int = 9) -> folium.Map:
    """The overview shell plus :class:`VisitRoute`; render it with :func:`maps.shell.render_parts`.

    Positions are given in WGS 84; on a GCJ-02 base map they are shifted for display here (never stored).

    Parameters
    ----------
    settings : Mapping
        The application's base map settings.
    stops : sequence of mapping
        In visiting order: ``number``, ``name``, ``lon``, ``lat`` (WGS 84 degrees).
    start : mapping, optional
        ``name``, ``lon``, ``lat`` of the start point (WGS 84).
    labels : Mapping of str to str, optional
        Translated texts (see :class:`VisitRoute`).
    back : bool, default False
        Draw the way back to the start.
    basemap : Basemap, optional
        An already resolved base map.
    center, zoom
        The view before the route is fitted (latitude, longitude).

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> m = build_visit_map({"BASEMAP": "none"}, [{"number": 1, "name": "A", "lon": 117.0, "lat": 25.0}],
    ...                     {"name": "", "lon": 117.1, "lat": 25.1}, back=True)
    >>> route = next(c for c in m._children.values() if isinstance(c, VisitRoute))
    >>> route.stops[0]["lon"], route.start["lat"], route.back
    (117.0, 25.1, True)
    """
    m = build_overview_map(settings, center=center, zoom=zoom, basemap=basemap)
    shift = basemap.needs_gcj_shift if basemap is not None else False

    def shown(point: Mapping) -> dict:
        out = dict(point)
        if shift:
            out["lon"], out["lat"] = wgs84_to_gcj02(float(point["lon"]), float(point["lat"]))
        return out

    VisitRoute([shown(s) for s in stops], None if start is None else shown(start), labels, back).add_to(m)
    return m

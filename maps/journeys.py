"""The relocation journey map: lines from each first grave to its resting place, loaded from the app by filter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import folium
from branca.element import MacroElement
from folium.template import Template

from maps.basemaps import Basemap
from maps.shell import DEFAULT_CENTER, build_overview_map

__all__ = ["JourneyLayer", "build_journey_map", "embedded_journey_map"]


class JourneyLayer(MacroElement):
    """Fetches the journeys GeoJSON from ``data_url`` and draws them with ``RelocationJourneys`` (our own script).

    The features are never embedded in the page: the script asks the endpoint with the page's filter,
    so the page weighs the same for ten relocations or ten thousand. The script file itself is served
    by the application (``/static/relocations/journeys.js``) and must be loaded before the map's script.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> _ = JourneyLayer("/relocations/journeys.geojson", {"empty": "none"}).add_to(m)
    >>> "RelocationJourneys.attach" in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            RelocationJourneys.attach({{ this._parent.get_name() }}, {{ this.options|tojavascript }});
        {% endmacro %}
        """
    )

    def __init__(self, data_url: str, labels: Mapping[str, str] | None = None):
        super().__init__()
        self._name = "JourneyLayer"
        self.options = {"url": data_url, "labels": dict(labels or {})}


def build_journey_map(
    settings: Mapping,
    data_url: str,
    *,
    labels: Mapping[str, str] | None = None,
    basemap: Basemap | None = None,
    center: Sequence[float] = DEFAULT_CENTER,
    zoom: int = 9,
) -> folium.Map:
    """The journey map: the configured base map plus a :class:`JourneyLayer` fed by ``data_url``.

    Parameters
    ----------
    settings : Mapping
        The application's settings (base map keys, see :func:`maps.basemaps.basemap_from_settings`).
    data_url : str
        The GeoJSON endpoint, with the page's filter in its query string (and, for a GCJ-02 base map,
        the request for shifted display coordinates: the shift is done by the server, never stored).
    labels : Mapping of str to str, optional
        Translated texts for the script: ``received`` (tombs received), ``open`` and ``empty``.
    basemap : Basemap, optional
        An already resolved base map.
    center, zoom
        The initial view.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> m = build_journey_map({"BASEMAP": "none"}, "/relocations/journeys.geojson?county=990101")
    >>> "journeys.geojson?county=990101" in m.get_root().render()
    True
    """
    m = build_overview_map(settings, center, zoom, basemap=basemap)
    JourneyLayer(data_url, labels).add_to(m)
    return m


def embedded_journey_map(lines: Sequence[tuple[Sequence[float], Sequence[float], str]]) -> folium.Map:
    """The naive map: every journey embedded as a ``folium.PolyLine`` (the benchmark's baseline only).

    Parameters
    ----------
    lines : sequence of ((lon, lat), (lon, lat), popup text)

    Examples
    --------
    >>> m = embedded_journey_map([((116.4, 25.0), (116.5, 25.1), "R1")])
    >>> "L.polyline" in m.get_root().render()
    True
    """
    m = folium.Map(location=list(DEFAULT_CENTER), zoom_start=9, tiles=None)
    for origin, dest, text in lines:
        folium.PolyLine([(origin[1], origin[0]), (dest[1], dest[0])], popup=text, weight=2).add_to(m)
    return m

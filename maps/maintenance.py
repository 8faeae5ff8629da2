"""The maintenance map: facilities coloured by inspection status, open work orders and condition trend, by viewport."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import folium
from folium.elements import JSCSSMixin
from folium.template import Template

from maps.basemaps import Basemap
from maps.shell import DEFAULT_CENTER, build_overview_map

# Status -> marker colour; the legend and the list badges use the same colours.
STATUS_COLOURS = {"problem_open": "#7b1fa2", "overdue": "#c62828", "due_soon": "#a35c00", "ok": "#2e7d32"}
TREND_COLOURS = {"declining": "#c62828", "stable": "#607d8b", "improving": "#2e7d32"}
# The overlays' script, served by the application (registry/static/js) like the vendor folder.
MAINTENANCE_SCRIPT = "/static/js/maintenance-layers.js"


class MaintenanceLayers(JSCSSMixin):
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
    script_url : str, default MAINTENANCE_SCRIPT
        Where the page loads the overlays' script (``registryMaintenanceLayers``) from.

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
        registryMaintenanceLayers({{ this._parent.get_name() }}, {{ this.control }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, data_url: str, labels: Mapping[str, str], gcj_shift: bool = False, *, control: str,
                 script_url: str = MAINTENANCE_SCRIPT):
        super().__init__()
        self._name = "MaintenanceLayers"
        self.default_js = [("registry_maintenance_layers", script_url)]
        self.control = control  # the map's layer switch, which the script adds its layers to
        url = data_url
        if gcj_shift:
            url += ("&" if "?" in url else "?") + "crs=gcj02"
        self.data_url = url
        self.labels = dict(labels)
        self.colours = STATUS_COLOURS
        self.trend_colours = TREND_COLOURS

    @property
    def options(self) -> dict:
        """What the script needs besides the map and its layer switch."""
        return {"colours": self.colours, "trendColours": self.trend_colours, "labels": self.labels,
                "dataUrl": self.data_url}


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

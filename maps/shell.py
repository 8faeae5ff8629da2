"""The overview map shell and its rendering into parts (header, html, script) for the app's own layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import folium
from branca.element import Element, MacroElement
from folium.template import Template
from markupsafe import Markup

from maps.assets import VENDOR_URL, use_local_assets
from maps.basemaps import Basemap, add_basemap, basemap_from_settings

# Only a fallback: the registry opens every map on the extent of its own divisions.
DEFAULT_CENTER = (35.0, 105.0)


class MetricScale(MacroElement):
    """A metric-only scale bar: Leaflet's default control also shows miles and feet, which nobody here reads.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> _ = MetricScale().add_to(m)
    >>> "imperial" in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({{ this.options|tojavascript }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, position: str = "bottomleft", max_width: int = 160):
        super().__init__()
        self._name = "MetricScale"
        self.options = {"position": position, "metric": True, "imperial": False, "max_width": max_width}


def build_overview_map(
    settings: Mapping,
    center: Sequence[float] = DEFAULT_CENTER,
    zoom: int = 9,
    *,
    labels: Mapping[str, str] | None = None,
    basemap: Basemap | None = None,
) -> folium.Map:
    """The public overview map: the configured base map, a scale bar and a layer control, and no features.

    Features are not embedded: the page's own script fetches them from the API by viewport, so the
    page weighs the same however large the registry grows.

    Parameters
    ----------
    settings : Mapping
        The application's settings; ``BASEMAP``, ``BASEMAP_URL``, ``BASEMAP_CRS`` and ``TIANDITU_KEY``
        are read (see :func:`maps.basemaps.basemap_from_settings`).
    center : sequence of float, default (35.0, 105.0)
        Latitude and longitude of the initial view (the registry passes its own extent's centre).
    zoom : int, default 9
        Initial zoom level.
    labels : Mapping of str to str, optional
        Translated layer names, passed to :func:`maps.basemaps.basemap_from_settings`.
    basemap : Basemap, optional
        An already resolved base map; ``settings`` are then not read.

    Returns
    -------
    folium.Map
        A map with ``tiles=None`` plus the base map's layers, :class:`MetricScale` and a
        ``folium.LayerControl``. Render it with :func:`render_parts`.

    Examples
    --------
    >>> m = build_overview_map({"BASEMAP": "none"})
    >>> m.location, m.options["zoom"]
    ([35.0, 105.0], 9)
    """
    chosen = basemap if basemap is not None else basemap_from_settings(settings, labels)
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=False)
    add_basemap(m, chosen)
    MetricScale().add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


@dataclass(frozen=True)
class MapParts:
    """A rendered map in three pieces: ``header`` for <head>, ``html`` for the body, ``script`` for a <script>."""

    header: Markup
    html: Markup
    script: Markup
    map_id: str


_MAP_STYLE = Template(
    """<style>
    #{{ this.get_name() }} {
        position: {{ this.position }};
        width: {{ this.width[0] }}{{ this.width[1] }};
        height: {{ this.height[0] }}{{ this.height[1] }};
        left: {{ this.left[0] }}{{ this.left[1] }};
        top: {{ this.top[0] }}{{ this.top[1] }};
    }
    #{{ this.get_name() }}.leaflet-container { font-size: {{ this.font_size }}; }
</style>"""
)


def render_parts(m: folium.Map, base_url: str = VENDOR_URL, versions: Mapping[str, str] | None = None) -> MapParts:
    """Render a finished map into the parts a Jinja layout places itself, loading assets from ``base_url``.

    This is folium's "render the figure's header, html and script" recipe for Flask, with two changes
    for a page that has its own layout: every script and stylesheet points at the locally served
    copies, and folium's page-level header (a viewport that forbids zooming, ``html, body`` sizing,
    a second charset) is replaced by a style for the map element alone.

    Parameters
    ----------
    m : folium.Map
        A map with all its layers and controls added.
    base_url : str, default "/static/vendor"
        Where the application serves the vendor folder.
    versions : Mapping of str to str, optional
        Fingerprints per vendor path for the asset URLs (see :func:`maps.assets.asset_url`).

    Returns
    -------
    MapParts
        ``header`` (links and styles), ``html`` (the map's element), ``script`` (JavaScript to be
        wrapped in a ``<script>`` element after ``html``), all ``Markup``, and the map's element id.

    Raises
    ------
    maps.assets.UnknownAssetError
        When a layer or plugin needs a remote resource that is not served locally.

    Examples
    --------
    >>> parts = render_parts(build_overview_map({"BASEMAP": "none"}))
    >>> "/static/vendor/leaflet/leaflet.js" in parts.header, "https://" in parts.header
    (True, False)
    >>> parts.map_id in parts.html and "L.map(" in parts.script
    True
    """
    use_local_assets(m, base_url, versions)
    figure = m.get_root()
    figure.render()
    # The layout has its own <meta charset> and viewport; folium's would duplicate the one and
    # disable pinch-zoom with the other (maximum-scale=1, user-scalable=no).
    figure.header._children.pop("meta_http", None)
    figure.header.add_child(Element(_MAP_STYLE.render(this=m)), name=m.get_name())
    return MapParts(
        header=Markup(figure.header.render()),
        html=Markup(figure.html.render()),
        script=Markup(figure.script.render()),
        map_id=m.get_name(),
    )

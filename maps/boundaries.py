"""A light layer of the registry's county and township boundaries, fetched once per level as small GeoJSON."""

from __future__ import annotations

import json
from collections.abc import Mapping

import folium
from branca.element import MacroElement
from folium.template import Template

# Outline style per level: thin, unfilled, grey; counties darker than townships.
STYLES = {"county": {"color": "#52525b", "weight": 1.6, "fill": False, "dashArray": None},
          "township": {"color": "#a1a1aa", "weight": 0.8, "fill": False, "dashArray": "3 3"}}


class BoundaryLayer(MacroElement):
    """Draw boundaries fetched from URLs (one GeoJSON per level) into a group; for maps without a base map.

    Each feature's ``name`` is its tooltip (as text); a feature with ``approximate`` true adds the
    ``approximate`` label to the map's attribution, so a sketched outline is never taken for a surveyed one.

    Parameters
    ----------
    group : folium.FeatureGroup
        The (empty) group the outlines go into; it appears in the layer switch.
    urls : Mapping of str to str
        Level (``county``, ``township``) -> URL of its GeoJSON on this server.
    approximate : str
        The words shown when any outline is approximate.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> group = folium.FeatureGroup(name="b").add_to(m)
    >>> _ = BoundaryLayer(group, {"county": "/api/boundaries/county.geojson"}, "示意").add_to(m)
    >>> "/api/boundaries/county.geojson" in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (map, group, options) {
                Object.keys(options.urls).forEach(function (level) {
                    fetch(options.urls[level], {credentials: "same-origin"})
                        .then(function (r) { return r.ok ? r.json() : null; })
                        .then(function (data) {
                            if (!data || !data.features.length) { return; }
                            var approximate = false;
                            L.geoJSON(data, {
                                style: function () { return options.styles[level]; },
                                interactive: true,
                                onEachFeature: function (feature, layer) {
                                    if (feature.properties.approximate) { approximate = true; }
                                    var label = document.createElement("span");
                                    label.textContent = feature.properties.name +
                                        (feature.properties.approximate ? "（" + options.approximate + "）" : "");
                                    layer.bindTooltip(label, {sticky: true});
                                }
                            }).addTo(group);
                            if (approximate && map.attributionControl && !options.shown) {
                                options.shown = true;
                                map.attributionControl.addAttribution(options.attribution);
                            }
                        })
                        .catch(function () {});
                });
                group.bringToBack && group.bringToBack();
            })({{ this._parent.get_name() }}, {{ this.group.get_name() }}, {{ this.options_json }});
        {% endmacro %}
        """
    )

    def __init__(self, group: folium.FeatureGroup, urls: Mapping[str, str], approximate: str):
        super().__init__()
        self._name = "BoundaryLayer"
        self.group = group
        unknown = set(urls) - set(STYLES)
        if unknown:
            raise ValueError(f"boundary levels {sorted(unknown)} are not known; known: {sorted(STYLES)}")
        words = str(approximate).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.options_json = (json.dumps({"urls": dict(urls), "styles": STYLES, "approximate": str(approximate),
                                         "attribution": words}, ensure_ascii=False)
                             .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def add_boundaries(m: folium.Map, name: str, urls: Mapping[str, str], approximate: str) -> folium.FeatureGroup:
    """Add a boundary group named ``name`` to ``m``, filled from ``urls``; returns the group.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> add_boundaries(m, "边界", {"county": "/b.geojson"}, "示意").layer_name
    '边界'
    """
    group = folium.FeatureGroup(name=name, show=True, control=True).add_to(m)
    BoundaryLayer(group, urls, approximate).add_to(m)
    return group

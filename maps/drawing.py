"""Drawing an outline on a map into a form field, as GeoJSON in WGS 84 longitude/latitude (leaflet-geoman)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from folium.elements import JSCSSMixin
from folium.template import Template

from maps.assets import asset_url

# The shapes a planner may draw -> the geoman toolbar buttons that draw them.
SHAPES = {"line": ("drawPolyline",), "polygon": ("drawPolygon", "drawRectangle")}
# geoman ships its own translations; the site's languages map onto them (zh is simplified Chinese).
LANGUAGES = {"zh": "zh", "en": "en"}
GCJ02_SCRIPT = "/static/js/gcj02.js"
DEFAULT_STYLE = {"color": "#1d4ed8", "weight": 4, "fillOpacity": 0.1}


class DrawOutline(JSCSSMixin):
    """A toolbar to draw, edit and delete an outline; what is drawn fills a form field as GeoJSON.

    The field gets a FeatureCollection in WGS 84 longitude/latitude (EPSG:4326 axis order, i.e.
    CRS84), the same text a planner could paste, so the server checks a drawing exactly as it checks
    pasted or uploaded GeoJSON (self-intersections, coordinate ranges, repair on request). The
    drawing is not judged in the browser: self-intersections are allowed here so that the server's
    message, with the place of the fault, is what the planner sees.

    Layers already on the map (ranges, zones, facilities) are for reference only: the editing and
    removal tools never touch them, whenever they are added. When the field already holds GeoJSON
    in longitude/latitude (a form shown again after an error, or text pasted into it), that outline
    is put on the map as the editable drawing. On a GCJ-02 base map the drawing is made in GCJ-02
    and shifted back to WGS 84 before it is written to the field.

    Parameters
    ----------
    field_id : str
        Id of the ``<textarea>`` or ``<input>`` that receives the GeoJSON.
    shapes : sequence of str, default ("polygon",)
        What may be drawn: ``"line"`` (a road), ``"polygon"`` (a plot, a range; rectangles too).
    lang : str, default "zh"
        The site's locale (``zh``, ``zh_CN``, ``zh-Hans-CN``, ``en``...); geoman's tooltips and button
        titles follow its language.
    gcj02 : bool, default False
        Whether the base map is in GCJ-02.
    style : Mapping, optional
        Leaflet path options of the drawn shapes.

    Examples
    --------
    >>> import folium
    >>> m = folium.Map(tiles=None)
    >>> _ = DrawOutline("geojson", ("line", "polygon")).add_to(m)
    >>> html = m.get_root().render()
    >>> "/static/vendor/leaflet-geoman-free/leaflet-geoman.min.js" in html, "registryDrawOutline" in html
    (True, True)
    """

    # The app's own GCJ-02 script is root-relative: served by this application like the vendor folder.
    default_js = [("leaflet_geoman_js", asset_url("leaflet_geoman_js")), ("registry_gcj02", GCJ02_SCRIPT)]
    default_css = [("leaflet_geoman_css", asset_url("leaflet_geoman_css"))]

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        /* registryDrawOutline */
        (function (map, opts) {
            "use strict";
            var field = document.getElementById(opts.field);
            if (!field || !map.pm) { return; }
            var drawn = L.featureGroup().addTo(map);

            // Everything not drawn here is reference: neither editable, removable nor snapped to.
            function reference(layer) {
                if (layer instanceof L.Path && !layer._pmTempLayer && !drawn.hasLayer(layer)) {
                    layer.options.pmIgnore = true;
                }
            }
            map.eachLayer(reference);
            map.on("layeradd", function (e) { reference(e.layer); });

            // For drawing over a GCJ-02 base map (the field is always WGS 84); see static/js/gcj02.js.
            var gcjToWgs = window.registryGcj02.gcjToWgs, wgsToGcj = window.registryGcj02.wgsToGcj;
            function round(v) { return Math.round(v * 1e7) / 1e7; }
            function mapCoords(coords, fn) {
                if (typeof coords[0] === "number") { return fn(coords); }
                return coords.map(function (c) { return mapCoords(c, fn); });
            }

            function write() {
                var features = [];
                drawn.eachLayer(function (layer) {
                    var feature = layer.toGeoJSON(false);
                    feature.properties = {};
                    feature.geometry.coordinates = mapCoords(feature.geometry.coordinates, function (c) {
                        var p = opts.gcj02 ? gcjToWgs(c[0], c[1]) : c;
                        return [round(p[0]), round(p[1])];
                    });
                    features.push(feature);
                });
                field.value = features.length ? JSON.stringify({type: "FeatureCollection", features: features}) : "";
                count();
            }
            // How many shapes are on the map, for the page's tests and scripts.
            function count() { field.setAttribute("data-drawn", String(drawn.getLayers().length)); }
            function watch(layer) { layer.on("pm:edit pm:dragend", write); }

            // Text in the field (after an error, or pasted) becomes the drawing, when it is lon/lat GeoJSON.
            function load(text) {
                var doc, loaded;
                try {
                    doc = JSON.parse(text);
                    loaded = L.geoJSON(doc, {
                        filter: function (f) { return f.geometry && /LineString|Polygon/.test(f.geometry.type); },
                        coordsToLatLng: function (c) {
                            if (!(Math.abs(c[0]) <= 180 && Math.abs(c[1]) <= 90)) {
                                throw new RangeError("not longitude/latitude");
                            }
                            var p = opts.gcj02 ? wgsToGcj(c[0], c[1]) : c;
                            return L.latLng(p[1], p[0]);
                        }
                    });
                } catch (err) {
                    return false;
                }
                drawn.clearLayers();
                loaded.eachLayer(function (layer) {
                    layer.setStyle(opts.style);
                    drawn.addLayer(layer);
                    watch(layer);
                });
                count();
                return drawn.getLayers().length > 0;
            }

            map.pm.setLang(opts.lang);
            map.pm.setGlobalOptions({layerGroup: drawn, pathOptions: opts.style, allowSelfIntersection: true});
            map.pm.addControls(Object.assign({
                position: "topleft", drawMarker: false, drawCircleMarker: false, drawCircle: false, drawText: false,
                drawPolyline: false, drawPolygon: false, drawRectangle: false, cutPolygon: false, rotateMode: false,
                editMode: true, dragMode: true, removalMode: true
            }, opts.tools));
            map.on("pm:create", function (e) { watch(e.layer); write(); });
            map.on("pm:remove", write);
            // Pasted text is shown, not rewritten: the server reads what the planner pasted.
            field.addEventListener("change", function () { load(field.value); });

            if (field.value.trim() && load(field.value)) {
                map.fitBounds(drawn.getBounds(), {padding: [20, 20], maxZoom: 17});
            }
            map.getContainer().setAttribute("data-draw-ready", "true");
        })({{ this._parent.get_name() }}, {{ this.options_json }});
        {% endmacro %}
        """
    )

    def __init__(self, field_id: str, shapes: Sequence[str] = ("polygon",), *, lang: str = "zh",
                 gcj02: bool = False, style: Mapping | None = None):
        super().__init__()
        self._name = "DrawOutline"
        unknown = set(shapes) - set(SHAPES)
        if not shapes or unknown:
            raise ValueError(f"shapes {list(shapes)!r} must be some of {sorted(SHAPES)}")
        language = lang.replace("-", "_").split("_")[0].lower()
        if language not in LANGUAGES:
            raise ValueError(f"lang {lang!r} is not in a language of {sorted(LANGUAGES)}")
        options = {
            "field": field_id,
            "tools": {button: True for shape in shapes for button in SHAPES[shape]},
            "lang": LANGUAGES[language],
            "gcj02": bool(gcj02),
            "style": dict(style or DEFAULT_STYLE),
        }
        # Plain JSON (no user text goes in, but "<" is escaped all the same so nothing can end the script).
        self.options_json = json.dumps(options, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")

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
DRAW_SCRIPT = "/static/js/draw-outline.js"
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
    script_url : str, default DRAW_SCRIPT
        Where the page loads the drawing script (``registryDrawOutline``, js/draw-outline.js) from.

    Examples
    --------
    >>> import folium
    >>> m = folium.Map(tiles=None)
    >>> _ = DrawOutline("geojson", ("line", "polygon")).add_to(m)
    >>> html = m.get_root().render()
    >>> "/static/vendor/leaflet-geoman-free/leaflet-geoman.min.js" in html, "registryDrawOutline" in html
    (True, True)
    """

    # The app's own scripts are root-relative: served by this application like the vendor folder.
    default_js = [("leaflet_geoman_js", asset_url("leaflet_geoman_js")), ("registry_gcj02", GCJ02_SCRIPT),
                  ("registry_draw_outline", DRAW_SCRIPT)]
    default_css = [("leaflet_geoman_css", asset_url("leaflet_geoman_css"))]

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        /* registryDrawOutline */
        registryDrawOutline({{ this._parent.get_name() }}, {{ this.options_json }});
        {% endmacro %}
        """
    )

    def __init__(self, field_id: str, shapes: Sequence[str] = ("polygon",), *, lang: str = "zh",
                 gcj02: bool = False, style: Mapping | None = None, script_url: str = DRAW_SCRIPT):
        super().__init__()
        self._name = "DrawOutline"
        if script_url != DRAW_SCRIPT:
            self.default_js = [*self.default_js[:-1], ("registry_draw_outline", script_url)]
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

/* Drawing an outline on a map into a form field, as GeoJSON in WGS 84 longitude/latitude (leaflet-geoman).
   Called by the map script maps/drawing.py (DrawOutline) writes: registryDrawOutline(map, options), with
   options {field, tools, lang, gcj02, style}. Needs js/gcj02.js loaded first. */
window.registryDrawOutline = function (map, opts) {
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
};

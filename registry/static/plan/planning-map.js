/* The planning map: fills each visible layer from the registry for the current view, after every move.
   Names reach the page only as text (textContent), never as HTML. */
(function () {
  "use strict";

  function label(feature) {
    var el = document.createElement("span");
    el.textContent = (feature.properties && feature.properties.label) || "";
    return el;
  }

  window.registryPlanningMap = function (map, opts, control) {
    var status = document.getElementById(opts.status);
    var overlays = {};
    var layers = opts.layers.map(function (spec) {
      var group = L.geoJSON(null, {
        style: function (f) {
          // Saved checks are drawn in the colour of their verdict, so conflicts stand out.
          var by = spec.styleBy && f && f.properties ? spec.styleBy[f.properties.extra] : null;
          return by ? Object.assign({}, spec.style, by) : spec.style;
        },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, Object.assign({radius: 5}, spec.style)); },
        onEachFeature: function (f, layer) {
          if (f.properties && f.properties.label) { layer.bindTooltip(label(f)); }
        }
      });
      if (spec.visible) { group.addTo(map); }
      overlays[spec.name] = group;
      return {spec: spec, group: group, seq: 0};
    });
    // Into the map's own layer switch, beside the base maps: one switch, not two.
    Object.keys(overlays).forEach(function (name) { control.addOverlay(overlays[name], name); });

    function say(text) { if (status) { status.textContent = text; } }

    function load() {
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); });
      var pending = 0, truncated = false, failed = false;
      layers.forEach(function (entry) {
        if (!map.hasLayer(entry.group)) { return; }
        var seq = ++entry.seq;
        pending += 1;
        var url = opts.url + "?layer=" + encodeURIComponent(entry.spec.key) + "&bbox=" + bbox.join(",") +
          (opts.gcj02 ? "&gcj02=1" : "");
        fetch(url, {headers: {"Accept": "application/geo+json"}, credentials: "same-origin"})
          .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
          .then(function (data) {
            if (seq !== entry.seq) { return; }
            entry.group.clearLayers();
            entry.group.addData(data);
            truncated = truncated || data.truncated;
          })
          .catch(function () { failed = true; })
          .finally(function () {
            pending -= 1;
            if (pending === 0) {
              say(failed ? opts.labels.failed : (truncated ? opts.labels.truncated : opts.labels.loaded));
              map.getContainer().setAttribute("data-loaded", "true");
            }
          });
      });
    }
    map.on("moveend overlayadd", load);
    load();
  };
})();

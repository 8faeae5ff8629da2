/* The relocation journey map: fetch the journeys for the page's filter and draw them (no features embedded).
   Codes and names reach the page only as text (textContent): Leaflet reads a string tooltip as HTML. */
(function () {
  "use strict";

  function radius(received) {
    return 4 + 1.6 * Math.sqrt(received);
  }

  function text(value) {
    var span = document.createElement("span");
    span.textContent = value === undefined || value === null ? "" : String(value);
    return span;
  }

  function draw(map, state, data) {
    if (state.layer) { map.removeLayer(state.layer); }
    var labels = state.options.labels || {};
    var renderer = L.canvas({ tolerance: 6 });
    var group = L.featureGroup();
    var destinations = [];
    data.features.forEach(function (f) {
      var c = f.geometry.coordinates;
      if (f.properties.kind === "journey") {
        var line = L.polyline([[c[0][1], c[0][0]], [c[1][1], c[1][0]]], {
          renderer: renderer, weight: 2, opacity: 0.55,
          color: f.properties.stage === "accepted" ? "#8b1a1a" : "#d9822b"
        });
        line.feature = f;
        line.bindTooltip(text(f.properties.code), { sticky: true });
        line.on("click", function () { window.location.href = "/relocations/" + encodeURIComponent(f.properties.id); });
        line.addTo(group);
      } else {
        destinations.push(f);
      }
    });
    destinations.forEach(function (f) {
      var c = f.geometry.coordinates;
      var marker = L.circleMarker([c[1], c[0]], {
        renderer: renderer, radius: radius(f.properties.received), color: "#4a0d0d", weight: 1,
        fillColor: "#c0392b", fillOpacity: 0.75
      });
      marker.bindTooltip(text(f.properties.name + " · " + (labels.received || "") + " " + f.properties.received));
      marker.addTo(group);
    });
    group.addTo(map);
    state.layer = group;
    var status = document.getElementById("journey-status");
    if (status) {
      status.textContent = data.journeys
        ? (labels.count || "").replace("%(journeys)s", data.journeys).replace("%(destinations)s", data.destinations)
        : (labels.empty || "");
      status.setAttribute("data-journeys", String(data.journeys));
    }
    if (data.journeys && !state.fitted) {
      map.fitBounds(group.getBounds(), { padding: [20, 20] });
      state.fitted = true;
    }
  }

  function load(map, state, url) {
    var status = document.getElementById("journey-status");
    if (status) { status.textContent = (state.options.labels || {}).loading || "…"; }
    fetch(url, { headers: { "Accept": "application/geo+json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { draw(map, state, data); })
      .catch(function () {
        if (status) { status.textContent = (state.options.labels || {}).failed || "error"; }
      });
  }

  window.RelocationJourneys = {
    attach: function (map, options) {
      var state = { options: options, layer: null, fitted: false };
      load(map, state, options.url);
      var form = document.getElementById("journey-filter");
      if (!form) { return; }
      form.addEventListener("change", function () {
        var query = new URLSearchParams(new FormData(form));
        Array.from(query.keys()).forEach(function (k) { if (!query.get(k)) { query.delete(k); } });
        var base = options.url.split("?")[0];
        var extra = new URLSearchParams(options.url.split("?")[1] || "");
        if (extra.get("display")) { query.set("display", extra.get("display")); }
        state.fitted = false;
        load(map, state, base + (query.toString() ? "?" + query.toString() : ""));
        query.delete("display");
        history.replaceState(null, "", window.location.pathname + (query.toString() ? "?" + query.toString() : ""));
      });
      form.addEventListener("submit", function (event) { event.preventDefault(); });
    }
  };
}());

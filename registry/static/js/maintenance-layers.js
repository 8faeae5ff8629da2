/* The maintenance map's three overlays (status, open work orders, condition trend), filled from a GeoJSON
   endpoint for the visible box each time the view settles. The map script maps/maintenance.py
   (MaintenanceLayers) writes: registryMaintenanceLayers(map, layerControl, {colours, trendColours, labels,
   dataUrl}). Popups are built with textContent, so names from the registry are never read as HTML. */
window.registryMaintenanceLayers = function (map, control, opts) {
    var colours = opts.colours, trendColours = opts.trendColours, labels = opts.labels;
    var status = L.layerGroup().addTo(map), tasks = L.layerGroup().addTo(map), trend = L.layerGroup();
    function popup(p) {
        var box = document.createElement("div");
        var title = document.createElement("strong");
        title.textContent = p.name;
        box.appendChild(title);
        [p.code, labels[p.status] || p.status, p.priority ? (labels.priority + " " + p.priority) : "",
         p.trend ? (labels.trend + ": " + (labels[p.trend] || p.trend)) : "",
         p.active_tasks ? (labels.tasks + ": " + p.active_tasks) : ""].forEach(function (text) {
            if (!text) { return; }
            var line = document.createElement("div");
            line.textContent = text;
            box.appendChild(line);
        });
        [[p.url, labels.open_archive], [p.inspect_url, labels.inspect]].forEach(function (pair) {
            if (!pair[0]) { return; }
            var link = document.createElement("a");
            link.href = pair[0];
            link.textContent = pair[1];
            link.style.marginRight = "0.8em";
            box.appendChild(link);
        });
        return box;
    }
    function draw(data) {
        status.clearLayers(); tasks.clearLayers(); trend.clearLayers();
        (data.features || []).forEach(function (f) {
            var p = f.properties, ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
            var marker = L.circleMarker(ll, {radius: 7, weight: 2, color: "#fff", fillOpacity: 0.9,
                                             fillColor: colours[p.status] || "#555"});
            marker.feature = f;
            marker.options.status = p.status;
            marker.bindPopup(function () { return popup(p); });
            status.addLayer(marker);
            if (p.active_tasks) {
                tasks.addLayer(L.circleMarker(ll, {radius: 12, weight: 2, color: "#7b1fa2", fill: false,
                                                   dashArray: "3 3", interactive: false}));
            }
            if (p.trend) {
                trend.addLayer(L.circleMarker(ll, {radius: 5, weight: 1, color: "#222", fillOpacity: 1,
                                                   fillColor: trendColours[p.trend] || "#999"})
                               .bindPopup(function () { return popup(p); }));
            }
        });
        map.getContainer().setAttribute("data-features", String((data.features || []).length));
        map.getContainer().dispatchEvent(new CustomEvent("maintenance:loaded", {detail: data}));
    }
    var pending = null;
    function load() {
        var b = map.getBounds();
        var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
            return v.toFixed(5);
        }).join(",");
        var url = opts.dataUrl;
        url += (url.indexOf("?") >= 0 ? "&" : "?") + "bbox=" + bbox;
        if (pending) { pending.abort(); }
        pending = new AbortController();
        fetch(url, {credentials: "same-origin", signal: pending.signal,
                    headers: {"Accept": "application/geo+json"}})
            .then(function (r) { return r.ok ? r.json() : {features: []}; })
            .then(draw)
            .catch(function (e) { if (e.name !== "AbortError") { console.warn(e); } });
    }
    map.on("moveend", load);
    var overlays = {};
    overlays[labels.status] = status;
    overlays[labels.tasks] = tasks;
    overlays[labels.trend] = trend;
    // Into the map's own layer switch, beside the base maps: one switch, not two.
    Object.keys(overlays).forEach(function (name) { control.addOverlay(overlays[name], name); });
    window.maintenanceMap = {map: map, reload: load};
    load();
};

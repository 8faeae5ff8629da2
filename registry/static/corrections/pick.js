/* The corrections' small map (templates/corrections/_picker.html): shows the recorded point and, when picking,
   moves a marker where the visitor clicks and writes the point to the form's lon and lat inputs (WGS 84).
   The map is drawn in WGS 84 as the tile layer is configured; without a tile layer it shows the points alone. */
(function () {
    "use strict";
    function num(v) { return v === "" || v === undefined ? null : parseFloat(v); }
    function start() {
        var nodes = document.querySelectorAll(".correction-map");
        Array.prototype.forEach.call(nodes, function (el) {
            if (!window.L) { return; }
            var d = el.dataset, lon = num(d.lon), lat = num(d.lat);
            var map = L.map(el).setView([lat === null ? 25.1 : lat, lon === null ? 116.9 : lon], lat === null ? 9 : 16);
            if (d.tiles) {
                L.tileLayer(d.tiles, {attribution: d.attribution, subdomains: d.subdomains || "abc"}).addTo(map);
            }
            if (lat !== null) {
                L.circleMarker([lat, lon], {radius: 7, color: "#666"}).addTo(map);  // the recorded point
            }
            var newLon = num(d.newLon), newLat = num(d.newLat);
            if (newLat !== null) {
                L.marker([newLat, newLon]).addTo(map);
                map.fitBounds(L.latLngBounds([[lat, lon], [newLat, newLon]]).pad(0.5), {maxZoom: 17});
            }
            if (d.pick !== "yes") { return; }
            var lonInput = document.getElementById("correction-lon"), latInput = document.getElementById("correction-lat");
            var marker = null;
            function place(latlng) {
                if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng).addTo(map); }
                lonInput.value = latlng.lng.toFixed(6);
                latInput.value = latlng.lat.toFixed(6);
            }
            if (lonInput.value && latInput.value) { place(L.latLng(num(latInput.value), num(lonInput.value))); }
            map.on("click", function (e) { place(e.latlng); });
        });
    }
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());

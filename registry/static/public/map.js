/* The public memorial map: layers loaded by viewport from the registry's API, legend, text list,
   search by name and "near me". Every name from the registry is put into the page with textContent,
   never as HTML, so a name holding markup shows as the characters it is. */
(function () {
  "use strict";

  // WGS 84 -> GCJ-02, for the browser's own location on a GCJ-02 base map (the API shifts features itself).
  var wgsToGcj = window.registryGcj02.wgsToGcj;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function label(options, key, fallback) {
    var value = options.labels[key];
    return value === undefined ? fallback : value;
  }

  function format(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (_m, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function markerIcon(symbol, colour, extraClass) {
    var span = el("span", "pm-marker__symbol", symbol);
    span.style.backgroundColor = colour;
    return L.divIcon({className: "pm-marker " + (extraClass || ""), html: span, iconSize: [28, 28],
                      iconAnchor: [14, 14], popupAnchor: [0, -12]});
  }

  function popupFor(options, props, lines) {
    var box = el("div", "pm-popup");
    box.appendChild(el("strong", "pm-popup__name", props.name));
    lines.forEach(function (line) { if (line) { box.appendChild(el("p", "pm-popup__line", line)); } });
    if (props.is_demo) { box.appendChild(el("p", "pm-popup__demo", label(options, "demo", "示例数据"))); }
    if (props.approximate) { box.appendChild(el("p", "pm-popup__line", label(options, "approximate", ""))); }
    if (props.url) {
      var link = el("a", "pm-popup__link", label(options, "details", "详情"));
      link.href = props.url;
      box.appendChild(link);
    }
    return box;
  }

  function categoryName(options, code) {
    return (options.labels.categories || {})[code] || code || "";
  }

  function levelName(options, code) {
    return (options.labels.levels || {})[code] || code || "";
  }

  // One Leaflet layer per feature of a layer's answer; the returned list item describes it as text.
  var DRAW = {
    facilities: function (options, f, latlng) {
      var p = f.properties;
      var colour = options.colours[p.level] || options.colours.ungraded;
      var marker = L.marker(latlng, {icon: markerIcon(options.symbols[p.category] || "•", colour,
                                                      "pm-level-" + p.level),
                                     title: p.name, keyboard: true, riseOnHover: true});
      marker.bindPopup(popupFor(options, p, [categoryName(options, p.category) + " · " + levelName(options, p.level)]));
      return marker;
    },
    cemeteries: function (options, f, latlng) {
      var p = f.properties;
      var colour = options.colours[p.level] || options.colours.ungraded;
      var radius = Math.min(30, 7 + Math.sqrt(p.relocated || 0) * 1.6);
      var circle = L.circleMarker(latlng, {radius: radius, color: "#ffffff", weight: 2, fillColor: colour,
                                           fillOpacity: 0.75, className: "pm-cemetery"});
      circle.bindPopup(popupFor(options, p, [
        categoryName(options, p.category) + " · " + levelName(options, p.level),
        format(label(options, "relocated", "%(n)s"), {n: p.relocated || 0})
      ]));
      circle.bindTooltip(el("span", "", p.name));
      return circle;
    },
    heritage_sites: function (options, f, latlng) {
      var p = f.properties;
      var marker = L.marker(latlng, {icon: markerIcon(options.heritageSymbol, "#7c2d12", "pm-heritage"),
                                     title: p.name, keyboard: true});
      marker.bindPopup(popupFor(options, p, [
        p.kind, p.education_base ? label(options, "educationBase", "") : ""
      ]));
      return marker;
    },
    tombs: function (options, f, latlng, map) {
      var p = f.properties;
      if (p.cluster) {
        var span = el("span", "pm-cluster__count", p.count);
        var size = p.count > 999 ? 44 : p.count > 99 ? 38 : 32;
        var cluster = L.marker(latlng, {icon: L.divIcon({className: "pm-cluster", html: span,
                                                         iconSize: [size, size]}),
                                        title: format(label(options, "tombCluster", "%(n)s"), {n: p.count}),
                                        keyboard: true});
        cluster.on("click", function () { map.setView(latlng, Math.min(map.getZoom() + 2, 18)); });
        return cluster;
      }
      // As signed (A区 4排 20号) or in English (Area A, row 4, no. 20), both formatted by the server.
      var plot = p[options.labels.plotProperty || "plot_label"] || "";
      var dot = L.circleMarker(latlng, {radius: 5, color: "#374151", weight: 1, fillColor: "#9ca3af",
                                        fillOpacity: 0.9, className: "pm-tomb"});
      var name = p.unknown ? label(options, "unknown", p.name) : p.name;
      dot.bindPopup(popupFor(options, {name: name, url: p.url, is_demo: p.is_demo},
                             [plot ? format(label(options, "plot", "%(plot)s"), {plot: plot}) : ""]));
      return dot;
    },
    service_stations: function (options, f, latlng) {
      var p = f.properties;
      var major = p.level === "city" || p.level === "county" || p.demonstration !== "none";
      var dot = L.circleMarker(latlng, {radius: major ? 7 : 4, color: "#ffffff", weight: 1,
                                        fillColor: p.demonstration !== "none" ? "#b45309" : "#1e3a8a",
                                        fillOpacity: 0.9, className: "pm-station"});
      dot.bindPopup(popupFor(options, p, stationLines(options, p)));
      dot.bindTooltip(el("span", "", p.name));
      return dot;
    }
  };

  function stationLines(options, p) {
    var levels = options.labels.stationLevels || {}, demo = options.labels.stationDemonstration || {};
    return [
      (levels[p.level] || p.level) + (p.demonstration !== "none" ? " · " + (demo[p.demonstration] || p.demonstration) : ""),
      p.opening_hours ? format(label(options, "stationHours", "%(hours)s"), {hours: p.opening_hours}) : "",
      p.phone ? format(label(options, "stationPhone", "%(phone)s"), {phone: p.phone}) : ""
    ];
  }

  function describe(options, key, f) {
    var p = f.properties;
    if (key === "tombs") { return null; }
    if (key === "service_stations") { return [p.name, stationLines(options, p)[0]]; }
    if (key === "heritage_sites") { return [p.name, label(options, "layerHeritage", "") + (p.kind ? " · " + p.kind : "")]; }
    var extra = categoryName(options, p.category) + " · " + levelName(options, p.level);
    if (key === "cemeteries") { extra += " · " + format(label(options, "relocated", "%(n)s"), {n: p.relocated || 0}); }
    return [p.name, extra];
  }

  function boxOf(map) {
    var b = map.getBounds();
    var clamp = function (v, lim) { return Math.max(-lim, Math.min(lim, v)); };
    return [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)]
      .map(function (v) { return v.toFixed(6); }).join(",");
  }

  function legend(options) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var details = el("details", "pm-legend");
      details.open = window.matchMedia ? window.matchMedia("(min-width: 48rem)").matches : true;
      details.appendChild(el("summary", "pm-legend__title", label(options, "legend", "图例")));
      var cats = el("ul", "pm-legend__list");
      Object.keys(options.symbols).forEach(function (code) {
        var item = el("li");
        var sym = el("span", "pm-legend__symbol", options.symbols[code]);
        sym.setAttribute("aria-hidden", "true");
        item.appendChild(sym);
        item.appendChild(document.createTextNode(categoryName(options, code)));
        cats.appendChild(item);
      });
      var heritage = el("li");
      var star = el("span", "pm-legend__symbol pm-legend__symbol--heritage", options.heritageSymbol);
      star.setAttribute("aria-hidden", "true");
      heritage.appendChild(star);
      heritage.appendChild(document.createTextNode(label(options, "layerHeritage", "")));
      cats.appendChild(heritage);
      details.appendChild(cats);
      var levels = el("ul", "pm-legend__list");
      Object.keys(options.colours).forEach(function (code) {
        var item = el("li");
        var swatch = el("span", "pm-legend__swatch");
        swatch.style.backgroundColor = options.colours[code];
        swatch.setAttribute("aria-hidden", "true");
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(levelName(options, code)));
        levels.appendChild(item);
      });
      details.appendChild(levels);
      details.appendChild(el("p", "pm-legend__note", label(options, "cemeterySize", "")));
      L.DomEvent.disableClickPropagation(details);
      L.DomEvent.disableScrollPropagation(details);
      return details;
    };
    return control;
  }

  function byId(id) { return id ? document.getElementById(id) : null; }

  function attach(map, groups, options) {
    var ids = options.elements || {};
    var list = byId(ids.list), status = byId(ids.status);
    var pending = {};
    var shown = {};
    var timer = null;

    function say(text) { if (status) { status.textContent = text; } }

    // The list holds everything in view, a page at a time; only its short count is announced.
    var PAGE = 50, pageIndex = 0, lastTotal = null, countTimer = null;
    var countNode = byId(ids.listCount), pager = byId(ids.listPager);
    var showing = pager ? pager.querySelector(".pm-pager__showing") : null;
    if (pager) {
      pager.addEventListener("click", function (event) {
        var button = event.target instanceof Element ? event.target.closest("[data-page]") : null;
        if (!button) { return; }
        pageIndex += button.getAttribute("data-page") === "next" ? 1 : -1;
        renderList(true);
      });
    }

    function allItems() {
      var items = [];
      Object.keys(shown).forEach(function (key) { items = items.concat(shown[key] || []); });
      return items;
    }

    function renderList(keepPage) {
      if (!list) { return; }
      var items = allItems(), total = items.length;
      var pages = Math.max(1, Math.ceil(total / PAGE));
      if (!keepPage) { pageIndex = 0; }
      pageIndex = Math.max(0, Math.min(pageIndex, pages - 1));
      var first = pageIndex * PAGE, last = Math.min(total, first + PAGE);
      list.textContent = "";
      list.start = first + 1;
      items.slice(first, last).forEach(function (item) {
        var li = el("li");
        var name = item.url ? el("a", "", item.text[0]) : el("span", "", item.text[0]);
        if (item.url) { name.href = item.url; }
        li.appendChild(name);
        li.appendChild(el("span", "pm-list__meta", " " + item.text[1]));
        if (item.demo) { li.appendChild(el("span", "pm-badge", label(options, "demo", ""))); }
        list.appendChild(li);
      });
      if (!total) { list.appendChild(el("li", "pm-list__empty", label(options, "nothingHere", ""))); }
      list.setAttribute("data-total", String(total));
      if (pager) {
        pager.hidden = total <= PAGE;
        pager.querySelector("[data-page=previous]").disabled = pageIndex === 0;
        pager.querySelector("[data-page=next]").disabled = pageIndex >= pages - 1;
      }
      if (showing) {
        showing.textContent = total ? format(label(options, "listShowing", ""),
                                             {first: first + 1, last: last, total: total}) : "";
      }
      // The count changes the live region only when it changes, so paging or a pan that finds the same
      // places says nothing.
      // The layers answer one by one: wait for them to settle before saying anything.
      window.clearTimeout(countTimer);
      countTimer = window.setTimeout(function () {
        if (countNode && total !== lastTotal) {
          lastTotal = total;
          countNode.textContent = format(label(options, "listCount", "%(n)s"), {n: total});
        }
      }, 400);
    }

    function load(key) {
      var group = groups[key];
      if (!map.hasLayer(group)) { group.clearLayers(); shown[key] = []; renderList(); return; }
      if (pending[key]) { pending[key].abort(); }
      var controller = window.AbortController ? new AbortController() : null;
      pending[key] = controller;
      var api = options.apis[key];
      var url = api + (api.indexOf("?") < 0 ? "?" : "&") + "bbox=" + boxOf(map) + "&zoom=" + map.getZoom() +
        (options.gcj02 ? "&crs=GCJ-02" : "");
      fetch(url, {signal: controller ? controller.signal : undefined, headers: {"Accept": "application/geo+json"}})
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (body) {
          pending[key] = null;
          group.clearLayers();
          var items = [];
          body.features.forEach(function (f) {
            var c = f.geometry.coordinates;
            var layer = DRAW[key](options, f, L.latLng(c[1], c[0]), map);
            layer.feature = f;
            group.addLayer(layer);
            var text = describe(options, key, f);
            if (text) { items.push({text: text, url: f.properties.url, demo: f.properties.is_demo}); }
          });
          shown[key] = items;
          renderList();
          map.getContainer().setAttribute("data-loaded-" + key, String(body.numberReturned));
          if (body.capped) {
            say(format(label(options, "capped", ""), {shown: body.numberReturned, total: body.numberMatched}));
          } else if (status && status.textContent) {
            say("");
          }
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") { return; }
          say(label(options, "loadFailed", ""));
        });
    }

    function reload() {
      Object.keys(groups).forEach(load);
    }

    map.on("moveend", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(reload, 150);
    });
    map.on("overlayadd overlayremove", function (event) {
      Object.keys(groups).forEach(function (key) { if (groups[key] === event.layer) { load(key); } });
    });
    legend(options).addTo(map);
    wireSearch(map, options, ids, say);
    wireNearMe(map, options, ids, say);
    reload();
  }

  function wireSearch(map, options, ids, say) {
    var form = byId(ids.search), results = byId(ids.results);
    if (!form || !results) { return; }
    var marker = null;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var q = (form.elements.q.value || "").trim();
      results.textContent = "";
      if (!q) { return; }
      fetch("/api/facilities?q=" + encodeURIComponent(q) + (options.gcj02 ? "&crs=GCJ-02" : ""))
        .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
        .then(function (pair) {
          if (!pair[0]) { say(pair[1].message || label(options, "loadFailed", "")); return; }
          var features = pair[1].features;
          say(format(label(options, "found", "%(n)s"), {n: features.length}));
          features.forEach(function (f) {
            var li = el("li");
            var button = el("button", "pm-result", f.properties.name);
            button.type = "button";
            button.addEventListener("click", function () {
              var c = f.geometry.coordinates, latlng = L.latLng(c[1], c[0]);
              map.setView(latlng, 15);
              if (marker) { map.removeLayer(marker); }
              marker = L.circleMarker(latlng, {radius: 18, color: "#0b57d0", weight: 3, fill: false}).addTo(map);
              marker.bindPopup(popupFor(options, f.properties, [])).openPopup();
              map.getContainer().focus();
            });
            li.appendChild(button);
            results.appendChild(li);
          });
        })
        .catch(function () { say(label(options, "loadFailed", "")); });
    });
  }

  function wireNearMe(map, options, ids, say) {
    var button = byId(ids.near);
    if (!button) { return; }
    if (!navigator.geolocation) { button.disabled = true; return; }
    var here = null;
    button.addEventListener("click", function () {
      say(label(options, "locating", ""));
      navigator.geolocation.getCurrentPosition(function (position) {
        var lon = position.coords.longitude, lat = position.coords.latitude;
        if (options.gcj02) { var moved = wgsToGcj(lon, lat); lon = moved[0]; lat = moved[1]; }
        var latlng = L.latLng(lat, lon);
        if (here) { map.removeLayer(here); }
        here = L.circleMarker(latlng, {radius: 8, color: "#ffffff", weight: 3, fillColor: "#0b57d0", fillOpacity: 1})
          .bindTooltip(el("span", "", label(options, "youAreHere", ""))).addTo(map);
        // A four-level zoom is animated: announce once the view has settled,
        // so that what a screen reader hears matches what is on the map.
        map.once("moveend", function () { say(label(options, "nearShown", "")); });
        map.setView(latlng, 13);
      }, function () {
        say(label(options, "locationFailed", ""));
      }, {enableHighAccuracy: false, timeout: 10000, maximumAge: 60000});
    });
  }

  function pin(map, options) {
    var marker = L.marker([options.lat, options.lon], {
      icon: markerIcon(options.symbol || "•", options.colour, ""), title: options.label, keyboard: true});
    marker.bindTooltip(el("span", "", options.label), {permanent: false});
    marker.addTo(map);
  }

  window.RegistryPublicMap = {attach: attach, pin: pin, wgsToGcj: wgsToGcj};
}());

/* What every Leaflet map on the site needs for keyboards and screen readers: controls named in the
   page's language, markers named by what they mark, popups that take focus and close on Escape,
   and a link that skips past the map. Loaded after Leaflet and before any map is made; a no-op elsewhere. */
(function () {
  "use strict";
  if (!window.L || !L.Map) { return; }

  var WORDS = {
    zh: {zoomIn: "放大", zoomOut: "缩小", layers: "图层", closePopup: "关闭弹窗", skipMap: "跳过地图",
         fullscreen: "全屏", map: "地图"},
    en: {zoomIn: "Zoom in", zoomOut: "Zoom out", layers: "Layers", closePopup: "Close popup",
         skipMap: "Skip the map", fullscreen: "Full screen", map: "Map"}
  };
  var lang = (document.documentElement.lang || "zh").toLowerCase().split("-")[0];
  var words = WORDS[lang] || WORDS.zh;

  // Leaflet reads these when it builds the zoom control, so they only need to be set once, up front.
  L.Control.Zoom.prototype.options.zoomInTitle = words.zoomIn;
  L.Control.Zoom.prototype.options.zoomOutTitle = words.zoomOut;

  function name(node, text) {
    if (node && text) {
      node.setAttribute("aria-label", text);
      node.setAttribute("title", text);
    }
  }

  // Controls arrive at different times (folium's layer control, geoman's toolbar, popups), so each
  // new piece of the map is labelled as it is added.
  function label(root) {
    if (!root.querySelectorAll) { return; }
    Array.prototype.forEach.call(root.querySelectorAll(".leaflet-control-zoom-in"), function (a) { name(a, words.zoomIn); });
    Array.prototype.forEach.call(root.querySelectorAll(".leaflet-control-zoom-out"), function (a) { name(a, words.zoomOut); });
    Array.prototype.forEach.call(root.querySelectorAll(".leaflet-control-layers-toggle"), function (a) { name(a, words.layers); });
    Array.prototype.forEach.call(root.querySelectorAll(".leaflet-popup-close-button"), function (a) { name(a, words.closePopup); });
    // Geoman names a tool only by the title of the box around its button.
    Array.prototype.forEach.call(root.querySelectorAll(".button-container[title] > .leaflet-buttons-control-button"),
      function (a) { a.setAttribute("aria-label", a.parentNode.getAttribute("title")); });
  }

  // A marker's icon is announced by its content (a one-character symbol); its title is the real name.
  function nameMarker(marker) {
    var icon = marker.getElement && marker.getElement();
    var title = marker.options && (marker.options.title || marker.options.alt);
    if (!icon || !title) { return; }
    icon.setAttribute("aria-label", title);
    if (icon.tagName === "IMG") { icon.setAttribute("alt", title); }
    Array.prototype.forEach.call(icon.children, function (child) { child.setAttribute("aria-hidden", "true"); });
  }

  // A drawn circle with a popup (a cemetery, a facility on the maintenance map) is an SVG path the
  // keyboard cannot reach: make it a named button when its feature says what it is.
  function nameCircle(layer) {
    var path = layer.getElement && layer.getElement();
    var props = layer.feature && layer.feature.properties;
    var title = layer.options.title || (props && props.name);
    if (!path || !title || !layer.getPopup || !layer.getPopup() || path.getAttribute("tabindex")) { return; }
    path.setAttribute("tabindex", "0");
    path.setAttribute("role", "button");
    path.setAttribute("aria-label", String(title));
    path.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        layer.openPopup();
      }
    });
  }

  function skipLink(map) {
    var container = map.getContainer();
    if (!container.id || !container.parentNode || document.getElementById(container.id + "-after")) { return; }
    var link = document.createElement("a");
    link.className = "skip-map";
    link.href = "#" + container.id + "-after";
    link.textContent = words.skipMap;
    var after = document.createElement("span");
    after.id = container.id + "-after";
    after.className = "skip-map-target";
    after.tabIndex = -1;
    container.parentNode.insertBefore(link, container);
    container.parentNode.insertBefore(after, container.nextSibling);
    link.addEventListener("click", function (event) {
      event.preventDefault();
      after.focus();
    });
  }

  L.Map.addInitHook(function () {
    var map = this, container = map.getContainer(), opener = null;
    if (!container.getAttribute("aria-label")) { container.setAttribute("aria-label", words.map); }
    skipLink(map);
    label(container);
    if (window.MutationObserver) {
      new MutationObserver(function (changes) {
        changes.forEach(function (change) {
          Array.prototype.forEach.call(change.addedNodes, function (node) {
            // Only controls are looked into: markers and drawn shapes (thousands of them) are named
            // one by one on layeradd, and searching their panes on every addition would be quadratic.
            if (node.nodeType === 1 && node.closest && node.closest(".leaflet-control-container")) { label(node); }
          });
        });
      }).observe(container, {childList: true, subtree: true});
    }
    map.on("layeradd", function (event) {
      if (event.layer instanceof L.Marker) { nameMarker(event.layer); }
      // The popup is bound after the layer is made but before it is drawn; wait for this turn to end.
      if (event.layer instanceof L.CircleMarker) {
        window.setTimeout(function () { nameCircle(event.layer); }, 0);
      }
    });
    // An opened popup takes the focus (so a keyboard reaches its link), and gives it back on close.
    map.on("popupopen", function (event) {
      opener = document.activeElement;
      var box = event.popup.getElement();
      if (!box) { return; }
      label(box);
      var content = box.querySelector(".leaflet-popup-content");
      if (content) {
        content.setAttribute("tabindex", "-1");
        content.focus({preventScroll: true});
      }
    });
    map.on("popupclose", function () {
      if (opener && document.body.contains(opener) && opener !== document.body) {
        opener.focus({preventScroll: true});
      }
      opener = null;
    });
    // Leaflet closes a popup on Escape only while the map itself has focus, not a marker or the popup.
    container.addEventListener("keydown", function (event) {
      if ((event.key === "Escape" || event.key === "Esc") && map._popup && map.hasLayer(map._popup)) {
        map.closePopup();
        event.stopPropagation();
      }
    });
    // Space on a focused marker opens its popup, as Enter already does (Leaflet handles Enter itself).
    container.addEventListener("keydown", function (event) {
      if (event.key !== " ") { return; }
      var target = event.target;
      if (!target.classList || !target.classList.contains("leaflet-marker-icon")) { return; }
      map.eachLayer(function (layer) {
        if (layer instanceof L.Marker && layer.getElement && layer.getElement() === target) {
          event.preventDefault();
          if (layer.getPopup && layer.getPopup()) { layer.openPopup(); } else { layer.fire("click"); }
        }
      });
    });
  });
}());

/* The visit route page: its print button, and the route refitted to the map's printed size (manage.css lays the
   page out as the list, then the map, on paper). */
(function () {
  "use strict";
  function refit() {
    if (window.visitRoute) { window.visitRoute.refit(); }
  }
  window.addEventListener("beforeprint", refit);
  window.addEventListener("afterprint", refit);
  var button = document.querySelector("[data-print]");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
})();

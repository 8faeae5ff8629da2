/* Behaviour every page shares, kept out of the markup: the Content-Security-Policy runs no inline handlers. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) { window.print(); }
  });
}());

/* The visit route page: its print button (the print stylesheet in manage.css keeps the list and the map). */
(function () {
  "use strict";
  var button = document.querySelector("[data-print]");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
})();

/* Behaviour every page shares, kept out of the markup: the Content-Security-Policy runs no inline handlers. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) { window.print(); }
  });

  // The phone header's menu button shows and hides the navigation (a button, so Enter and Space work).
  function wireMenu() {
    var button = document.querySelector(".menu-toggle");
    var menu = button ? document.getElementById(button.getAttribute("aria-controls")) : null;
    if (!menu) { return; }
    document.documentElement.classList.add("has-menu-toggle");
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      menu.classList.toggle("site-menu--open", open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true" && menu.contains(document.activeElement)) {
        button.setAttribute("aria-expanded", "false");
        menu.classList.remove("site-menu--open");
        button.focus();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wireMenu);
  } else {
    wireMenu();
  }
}());

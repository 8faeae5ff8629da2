/* After a saved inspection, the form's draft on this device is no longer needed. */
(function () {
  "use strict";
  var saved = document.querySelector("[data-clear-draft]");
  if (saved) {
    try { localStorage.removeItem(saved.dataset.clearDraft); } catch (e) { /* nothing kept */ }
  }
}());

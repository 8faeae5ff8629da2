/* Ledger import: send the confirmed import with fetch and show its progress as the server streams it. */
(function () {
  "use strict";
  var form = document.getElementById("import-commit");
  if (!form || !window.fetch || !window.TextDecoder) { return; }
  var bar = document.getElementById("import-progress");
  var label = document.getElementById("import-progress-label");

  function show(message) {
    if (message.total) {
      bar.max = message.total;
      bar.value = message.done;
    } else {
      bar.removeAttribute("value");
    }
    label.textContent = (form.dataset[message.phase] || message.phase) + " " + message.done +
      (message.total ? " / " + message.total : "");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    bar.hidden = false;
    label.hidden = false;
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/x-ndjson" }
    }).then(function (response) {
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { return; }
          buffer += decoder.decode(chunk.value, { stream: true });
          var lines = buffer.split("\n");
          buffer = lines.pop();
          lines.forEach(function (line) {
            if (!line.trim()) { return; }
            var message = JSON.parse(line);
            if (message.url) { window.location.href = message.url; }
            else if (message.error) {
              label.textContent = message.error;
              label.classList.add("notice--error");
              button.disabled = false;
            } else { show(message); }
          });
          return pump();
        });
      }
      return pump();
    }).catch(function (error) {
      label.textContent = String(error);
      button.disabled = false;
    });
  });
}());

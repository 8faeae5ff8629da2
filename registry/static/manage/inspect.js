/* The inspection form on a phone: position and distance, a draft kept on the device, and submission
   that retries after a dropped connection with the same idempotency key (the server keeps one record). */
(function () {
  "use strict";
  var form = document.getElementById("inspect-form");
  if (!form) { return; }
  var draftKey = form.dataset.draftKey;
  var errorBox = document.getElementById("form-error");
  var submitStatus = document.getElementById("submit-status");
  var positionStatus = document.getElementById("position-status");

  function fields() { return form.querySelectorAll("[data-draft]"); }

  function saveDraft() {
    if (editing) { return; }  // a queued inspection being edited is kept in the queue, not as a draft
    var data = {};
    fields().forEach(function (el) {
      if (el.type === "radio") {
        if (el.checked) { data[el.name] = el.value; }
      } else {
        data[el.name] = el.value;
      }
    });
    try { localStorage.setItem(draftKey, JSON.stringify(data)); } catch (e) { /* private mode: no draft */ }
  }

  function restoreDraft() {
    var raw = null;
    try { raw = localStorage.getItem(draftKey); } catch (e) { return false; }
    if (!raw) { return false; }
    var data;
    try { data = JSON.parse(raw); } catch (e) { return false; }
    fill(data);
    var note = document.getElementById("draft-status");
    note.textContent = form.dataset.msgDraft;
    note.hidden = false;
    return true;
  }

  function fill(data) {
    fields().forEach(function (el) {
      if (!(el.name in data)) { return; }
      if (el.type === "radio") {
        el.checked = el.value === data[el.name];
      } else {
        el.value = data[el.name];
      }
    });
  }

  function clearDraft() {
    try { localStorage.removeItem(draftKey); } catch (e) { /* nothing kept */ }
  }

  function showDistance(lon, lat) {
    var url = form.dataset.distanceUrl + "?lon=" + encodeURIComponent(lon) + "&lat=" + encodeURIComponent(lat);
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.distance_m === undefined) {
          positionStatus.textContent = body.message || "";
          return;
        }
        var metres = form.dataset.msgMetres.replace("{d}", Math.round(body.distance_m));
        positionStatus.textContent = metres + " · " + (body.on_site ? form.dataset.msgOnSite : form.dataset.msgOffSite);
        positionStatus.dataset.onSite = body.on_site ? "true" : "false";
        positionStatus.dataset.distance = String(body.distance_m);
      })
      .catch(function () {
        // Offline: an estimate on the phone (the server measures again when the inspection arrives).
        var metres = roughDistance(Number(lon), Number(lat));
        if (metres === null) { return; }
        var onSite = metres <= Number(form.dataset.onSiteM);
        positionStatus.textContent = form.dataset.msgMetres.replace("{d}", Math.round(metres)) + " · " +
          (onSite ? form.dataset.msgOnSite : form.dataset.msgOffSite);
        positionStatus.dataset.onSite = onSite ? "true" : "false";
      });
  }

  function roughDistance(lon, lat) {
    var flon = Number(form.dataset.facilityLon), flat = Number(form.dataset.facilityLat);
    if (!form.dataset.facilityLon || isNaN(flon) || isNaN(flat)) { return null; }
    var rad = Math.PI / 180;
    var a = Math.pow(Math.sin((lat - flat) * rad / 2), 2) +
      Math.cos(lat * rad) * Math.cos(flat * rad) * Math.pow(Math.sin((lon - flon) * rad / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
  }

  document.getElementById("locate").addEventListener("click", function () {
    if (!navigator.geolocation) {
      positionStatus.textContent = form.dataset.msgNoGeo;
      return;
    }
    positionStatus.textContent = form.dataset.msgLocating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.elements.lon.value = pos.coords.longitude.toFixed(7);
      form.elements.lat.value = pos.coords.latitude.toFixed(7);
      saveDraft();
      showDistance(form.elements.lon.value, form.elements.lat.value);
    }, function (err) {
      positionStatus.textContent = form.dataset.msgNoGeo + err.message;
    }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 60000});
  });

  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);

  function showError(message, field) {
    errorBox.textContent = "";
    var p = document.createElement("p");
    p.textContent = message;
    errorBox.appendChild(p);
    if (field) {
      var f = document.createElement("p");
      var code = document.createElement("code");
      code.textContent = field;
      f.appendChild(code);
      errorBox.appendChild(f);
      errorBox.dataset.field = field;
    }
    errorBox.hidden = false;
    errorBox.scrollIntoView({block: "nearest"});
  }

  function send(body, attempt) {
    return fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
                               headers: {"Accept": "application/json"}})
      .then(function (r) {
        return r.json().then(function (json) { return {status: r.status, json: json}; });
      })
      .catch(function (err) {
        // A dropped connection: the server may or may not have the record; the same key makes a retry safe.
        if (attempt >= 4) { throw err; }
        submitStatus.textContent = form.dataset.msgRetry.replace("{n}", attempt);
        return new Promise(function (resolve) { setTimeout(resolve, 500 * Math.pow(2, attempt - 1)); })
          .then(function () { return send(body, attempt + 1); });
      });
  }

  var offline = window.RegistryOffline;
  var editing = new URLSearchParams(window.location.search).get("queued");

  // No signal: the inspection goes to the phone's queue (photos resized), and the queue page shows it.
  function queue(button) {
    if (!offline) {
      button.disabled = false;
      submitStatus.textContent = form.dataset.msgOffline;
      return;
    }
    offline.enqueue(form).then(function () {
      clearDraft();
      submitStatus.textContent = form.dataset.msgQueued;
      window.location.assign(form.dataset.queueUrl);
    }, function (err) {
      button.disabled = false;
      submitStatus.textContent = form.dataset.msgOffline;
      showError(String(err), "photos");
    });
  }

  form.addEventListener("submit", function (event) {
    if (!window.fetch || !window.FormData) { return; }  // the plain form post works too
    event.preventDefault();
    saveDraft();
    var button = document.getElementById("submit-inspection");
    button.disabled = true;
    errorBox.hidden = true;
    if (offline && !navigator.onLine) {
      queue(button);
      return;
    }
    submitStatus.textContent = form.dataset.msgSending;
    send(new FormData(form), 1).then(function (result) {
      if (result.status === 200 || result.status === 201) {
        clearDraft();
        var done = function () {
          window.location.assign(result.json.url + (result.json.replayed ? "?replayed=1" : ""));
        };
        // A queued inspection that was edited and has now arrived leaves the queue.
        (editing && offline ? offline.remove(editing) : Promise.resolve()).then(done, done);
        return;
      }
      button.disabled = false;
      submitStatus.textContent = "";
      showError(result.json.message || String(result.status), result.json.field);
    }).catch(function () {
      queue(button);
    });
  });

  // Reopen a queued inspection with the values and photos it was saved with.
  function reopen(item) {
    fill(item.fields);
    var input = form.elements.photos;
    if (input && window.DataTransfer && item.photos.length) {
      var files = new DataTransfer();
      item.photos.forEach(function (photo) {
        files.items.add(new File([photo.blob], photo.name, {type: photo.type}));
      });
      input.files = files.files;
    }
    var note = document.getElementById("draft-status");
    note.textContent = form.dataset.msgQueueEdit;
    note.hidden = false;
    if (item.message) { showError(item.message, item.field); }
  }

  var started;
  if (editing && offline) {
    started = offline.get(editing).then(function (item) {
      if (item && item.user === offline.currentUser()) { reopen(item); } else { editing = null; }
    }, function () { editing = null; });
  } else {
    started = Promise.resolve();
    if (!restoreDraft() && errorBox.hidden && offline) {
      // A fresh inspection gets a key made here: a form kept for offline use is opened many times, and each
      // inspection needs its own key (a repeated key would be taken for a retry of the first).
      form.elements.idempotency_key.value = offline.newKey();
      // The kept form's time is when it was fetched: a fresh inspection starts now (Beijing time, as the form).
      var beijing = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 16);
      form.elements.inspected_at.value = beijing;
    }
  }
  if (offline) {
    offline.storageWarning(document.getElementById("storage-warning"), form.dataset.msgStorage);
  }
  started.then(function () {
    if (form.elements.lon.value && form.elements.lat.value) {
      showDistance(form.elements.lon.value, form.elements.lat.value);
    }
  });
}());

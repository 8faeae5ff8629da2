/* Offline inspections on the phone: the queue in IndexedDB (each inspection with its photos and idempotency
   key), photos resized before they are stored, and sending the queue when the network is back.
   Nothing leaves the queue unless the server has the inspection; a refusal stays, with the server's reason. */
(function () {
  "use strict";
  var DB_NAME = "registry-offline";
  var STORE = "inspections";
  var MAX_SIDE = 1600;          // photos are stored at most this many pixels on their longer side
  var KEEP_BYTES = 1500000;     // a JPEG already within MAX_SIDE and this size is kept as taken (EXIF included)
  var LOW_SPACE = 0.9;          // warn when this share of the quota is used...
  var LOW_FREE = 100 * 1048576; // ...or less than this is left
  var opening = null;
  var syncing = null;

  function currentUser() {
    var meta = document.querySelector("meta[name=registry-offline-user]");
    return meta ? meta.content : "";
  }

  function open() {
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          var store = request.result.createObjectStore(STORE, {keyPath: "key"});
          store.createIndex("user", "user");
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { opening = null; reject(request.error); };
      });
    }
    return opening;
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function all() { return run("readonly", function (store) { return store.getAll(); }); }
  function get(key) { return run("readonly", function (store) { return store.get(key); }); }
  function put(item) { return run("readwrite", function (store) { store.put(item); }).then(changed); }
  function remove(key) { return run("readwrite", function (store) { store.delete(key); }).then(changed); }

  function changed() {
    window.dispatchEvent(new CustomEvent("registry-offline-change"));
  }

  function mine() {
    var user = currentUser();
    return all().then(function (items) {
      return items.filter(function (item) { return item.user === user; })
        .sort(function (a, b) { return a.saved_at < b.saved_at ? -1 : 1; });
    });
  }

  function newKey() {
    var bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // A photo as it will be stored: at most MAX_SIDE pixels, JPEG; one the browser cannot decode (HEIC) is
  // kept as it is, for the server to judge.
  function resize(file) {
    var keep = {name: file.name, type: file.type, blob: file};
    if (!window.createImageBitmap) { return Promise.resolve(keep); }
    return createImageBitmap(file, {imageOrientation: "from-image"}).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.type === "image/jpeg" && file.size <= KEEP_BYTES) {
        bitmap.close();
        return keep;
      }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          if (!blob) { resolve(keep); return; }
          withExif(file, blob).then(function (carried) {
            resolve({name: name, type: "image/jpeg", blob: carried});
          });
        }, "image/jpeg", 0.85);
      });
    }, function () { return keep; });
  }

  // The Exif block (APP1) of a JPEG, with its orientation set to 1 (the canvas has already turned the
  // pixels), or null. Markers are walked up to the start of the scan; nothing past it is read.
  function exifSegment(bytes) {
    if (bytes[0] !== 0xFF || bytes[1] !== 0xD8) { return null; }
    var at = 2;
    while (at + 4 <= bytes.length && bytes[at] === 0xFF && bytes[at + 1] !== 0xDA) {
      var length = (bytes[at + 2] << 8) | bytes[at + 3];
      var isExif = bytes[at + 1] === 0xE1 && String.fromCharCode.apply(null, bytes.subarray(at + 4, at + 10))
        === "Exif\0\0";
      if (isExif) {
        var segment = bytes.slice(at, at + 2 + length);
        uprightOrientation(segment, 10);
        return segment;
      }
      at += 2 + length;
    }
    return null;
  }

  // Set tag 0x0112 (orientation) of IFD0 to 1 in the TIFF data that starts at `tiff` in `segment`.
  function uprightOrientation(segment, tiff) {
    var view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
    if (view.byteLength < tiff + 8) { return; }
    var little = view.getUint16(tiff) === 0x4949;
    var ifd = tiff + view.getUint32(tiff + 4, little);
    if (ifd + 2 > view.byteLength) { return; }
    for (var i = 0, n = view.getUint16(ifd, little); i < n; i++) {
      var entry = ifd + 2 + 12 * i;
      if (entry + 12 > view.byteLength) { return; }
      if (view.getUint16(entry, little) === 0x0112) { view.setUint16(entry + 8, 1, little); }
    }
  }

  // The resized JPEG with the original's Exif block (time taken, GPS position) put back after its header,
  // so the registry can compare them with the form's as it does for a photo sent whole.
  function withExif(original, resized) {
    if (original.type !== "image/jpeg" || !original.arrayBuffer) { return Promise.resolve(resized); }
    return Promise.all([original.arrayBuffer(), resized.arrayBuffer()]).then(function (buffers) {
      var exif = exifSegment(new Uint8Array(buffers[0]));
      var made = new Uint8Array(buffers[1]);
      if (!exif || made[0] !== 0xFF || made[1] !== 0xD8) { return resized; }
      // After the JFIF header (APP0) when there is one, as readers expect it first.
      var cut = made[2] === 0xFF && made[3] === 0xE0 ? 4 + ((made[4] << 8) | made[5]) : 2;
      return new Blob([made.subarray(0, cut), exif, made.subarray(cut)], {type: "image/jpeg"});
    }, function () { return resized; });
  }

  // Store the form's inspection in the queue (the same key replaces an item being edited).
  function enqueue(form) {
    var fields = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string" && name !== "csrf_token") { fields[name] = value; }
    });
    var files = Array.prototype.slice.call(form.elements.photos ? form.elements.photos.files : []);
    return Promise.all(files.map(resize)).then(function (photos) {
      var item = {
        key: fields.idempotency_key, user: currentUser(), facility_id: form.dataset.facilityId,
        facility_name: form.dataset.facilityName, sync_url: form.dataset.syncUrl,
        edit_url: form.getAttribute("action") + "?queued=" + encodeURIComponent(fields.idempotency_key),
        fields: fields, photos: photos, saved_at: new Date().toISOString(), state: "queued",
        message: "", field: "", status: 0
      };
      if (navigator.storage && navigator.storage.persist) { navigator.storage.persist(); }
      return put(item).then(function () { return item; });
    });
  }

  function session(url) {
    return fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) {
        var json = (r.headers.get("Content-Type") || "").indexOf("json") >= 0;
        if (!r.ok || r.redirected || !json) { return null; }
        return r.json();
      });
  }

  function sendOne(item, token) {
    var body = new FormData();
    Object.keys(item.fields).forEach(function (name) { body.append(name, item.fields[name]); });
    body.append("csrf_token", token);
    item.photos.forEach(function (photo) { body.append("photos", photo.blob, photo.name); });
    return fetch(item.sync_url, {method: "POST", body: body, credentials: "same-origin",
                                 headers: {"Accept": "application/json", "X-CSRFToken": token}})
      .then(function (r) {
        var json = (r.headers.get("Content-Type") || "").indexOf("json") >= 0;
        if (r.redirected || !json) { return {status: 401, json: {retry: true}}; }  // sent to the sign-in page
        return r.json().then(function (body) { return {status: r.status, json: body}; });
      });
  }

  // Send every queued inspection of the signed-in user, one at a time. Resolves to a summary:
  // {sent, refused, waiting, offline, signIn}.
  function sync(sessionUrl) {
    if (syncing) { return syncing; }
    var summary = {sent: 0, refused: 0, waiting: 0, offline: false, signIn: false};
    var user = currentUser();
    syncing = mine().then(function (items) {
      var pending = items.filter(function (item) { return item.state !== "refused"; });
      summary.waiting = pending.length;
      if (!pending.length || !user) { return summary; }
      if (!navigator.onLine) { summary.offline = true; return summary; }
      return session(sessionUrl || "/manage/offline/session.json").then(function (info) {
        if (!info || String(info.user) !== user) { summary.signIn = true; return summary; }
        return pending.reduce(function (chain, item) {
          return chain.then(function () {
            if (summary.offline || summary.signIn) { return; }
            item.state = "sending";
            return put(item).then(function () { return sendOne(item, info.csrf_token); }).then(function (answer) {
              var json = answer.json || {};
              if (answer.status === 200 || answer.status === 201) {
                summary.sent += 1;
                summary.waiting -= 1;
                return remove(item.key);
              }
              if (json.retry || answer.status >= 500 || json.field === "csrf_token") {
                // Not the inspection's fault: it stays queued and goes again at the next sync.
                if (answer.status === 401) { summary.signIn = true; }
                item.state = "error";
                item.message = json.message || "";
                item.status = answer.status;
                return put(item);
              }
              item.state = "refused";
              item.message = json.message || String(answer.status);
              item.field = json.field || "";
              item.status = answer.status;
              summary.refused += 1;
              summary.waiting -= 1;
              return put(item);
            }, function () {
              // The network went away mid-way: this item and the rest wait for the next sync.
              summary.offline = true;
              item.state = "error";
              item.message = "";
              return put(item);
            });
          });
        }, Promise.resolve()).then(function () { return summary; });
      }, function () { summary.offline = true; return summary; });
    }).then(function (result) { syncing = null; return result; }, function (err) { syncing = null; throw err; });
    return syncing;
  }

  // Say, before an inspection is started, when the phone's storage for this site is nearly full.
  function storageWarning(element, template) {
    if (!element || !navigator.storage || !navigator.storage.estimate) { return Promise.resolve(false); }
    return navigator.storage.estimate().then(function (estimate) {
      var quota = estimate.quota || 0;
      var usage = estimate.usage || 0;
      var low = quota > 0 && (usage / quota >= LOW_SPACE || quota - usage < LOW_FREE);
      if (low) {
        element.textContent = template.replace("{used}", Math.round(usage / 1048576))
          .replace("{quota}", Math.round(quota / 1048576));
      }
      element.hidden = !low;
      return low;
    });
  }

  window.RegistryOffline = {
    currentUser: currentUser, all: all, mine: mine, get: get, put: put, remove: remove, newKey: newKey,
    resize: resize, enqueue: enqueue, sync: sync, storageWarning: storageWarning
  };
}());

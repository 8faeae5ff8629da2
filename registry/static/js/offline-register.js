/* On every page: a manager's phone registers the service worker, keeps the pages of their due inspections
   for offline use and sends its queue when the network is back; any other page (signed out, another user)
   deletes the pages a previous user left in the cache. */
(function () {
  "use strict";
  var PREFIX = "registry-pages-";
  var REFRESH_MS = 5 * 60 * 1000;       // another page than the due list looks for new due forms this often
  var FULL_REFRESH_MS = 60 * 60 * 1000; // and every kept page is fetched again this often (else only new ones)
  var meta = document.querySelector("meta[name=registry-offline-user]");
  var user = meta ? meta.content : "";

  // Cached pages belong to one user: every cache but the signed-in manager's own is deleted.
  function purge(keep) {
    if (!window.caches) { return Promise.resolve(); }
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf(PREFIX) === 0 && name !== keep;
      }).map(function (name) { return caches.delete(name); }));
    });
  }

  function mark(name, value) { document.documentElement.dataset[name] = String(value); }

  // Fetch and keep the due list, the queue page, each due facility's inspection form and the static files.
  function precache() {
    var stamp = "registry-offline-cached-" + user;
    var fullStamp = "registry-offline-refreshed-" + user;
    var last = 0;
    var lastFull = 0;
    try {
      last = Number(localStorage.getItem(stamp) || 0);
      lastFull = Number(localStorage.getItem(fullStamp) || 0);
    } catch (e) { /* no storage: cache every time */ }
    var full = Date.now() - lastFull >= FULL_REFRESH_MS;
    var onDueList = location.pathname === "/manage" || location.pathname === "/manage/offline";
    if (!navigator.onLine || (!onDueList && Date.now() - last < REFRESH_MS)) {
      mark("offlineCached", "skipped");
      return Promise.resolve();
    }
    return fetch("/manage/offline/pages.json", {credentials: "same-origin", cache: "no-store",
                                                headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (!r.ok || r.redirected) { throw new Error("pages.json " + r.status); }
        return r.json();
      })
      .then(function (list) {
        if (String(list.user) !== user) { throw new Error("signed in as another user"); }
        return caches.open(PREFIX + user).then(function (cache) {
          return cache.keys().then(function (requests) { return {cache: cache, requests: requests}; });
        }).then(function (kept) {
          var cache = kept.cache;
          var have = {};
          kept.requests.forEach(function (request) { have[request.url] = true; });
          var wanted = {};
          list.urls.forEach(function (url) { wanted[new URL(url, location.href).href] = true; });
          var done = 0;
          // On a weak network only what is missing is fetched; pages already kept are refreshed now and then
          // (and whenever they are opened online, by the worker).
          var queue = list.urls.filter(function (url) { return full || !have[new URL(url, location.href).href]; });
          function next() {
            var url = queue.shift();
            if (!url) { return Promise.resolve(); }
            return fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
              // A page that sent us to the sign-in page is not kept (nor is any error page).
              if (r.ok && !r.redirected) { done += 1; return cache.put(url, r); }
            }, function () { /* lost on the way: kept from the last time, if it was */ }).then(next);
          }
          return Promise.all([next(), next()]).then(function () {
            // A facility no longer due leaves the cache.
            return Promise.all(kept.requests.filter(function (request) { return !wanted[request.url]; })
              .map(function (request) { return cache.delete(request); }));
          }).then(function () {
            try {
              localStorage.setItem(stamp, String(Date.now()));
              if (full) { localStorage.setItem(fullStamp, String(Date.now())); }
            } catch (e) { /* fine */ }
            mark("offlineCached", done);
            var status = document.getElementById("cache-status");
            var box = document.getElementById("offline-queue");
            if (status && box) { status.textContent = box.dataset.msgCached.replace("{n}", done); }
          });
        });
      })
      .catch(function () { mark("offlineCached", "failed"); });
  }

  function count() {
    var badge = document.querySelector("[data-offline-count]");
    if (!badge || !window.RegistryOffline) { return; }
    window.RegistryOffline.mine().then(function (items) {
      badge.textContent = items.length ? String(items.length) : "";
      badge.hidden = !items.length;
    }, function () { /* no IndexedDB: nothing queued */ });
  }

  function sync() {
    if (!window.RegistryOffline) { return Promise.resolve(); }
    return window.RegistryOffline.sync().then(function (summary) {
      window.dispatchEvent(new CustomEvent("registry-offline-synced", {detail: summary}));
    }, function () { /* the next online event or page load tries again */ });
  }

  function start() {
    purge(user ? PREFIX + user : null);
    if (!user) { return; }
    var logout = document.querySelector("form[action='/logout']");
    if (logout) {
      // Signing out deletes this user's cached pages (the queue stays: it is unsent work, sent only as its owner).
      logout.addEventListener("submit", function () { purge(null); });
    }
    window.addEventListener("registry-offline-change", count);
    window.addEventListener("online", sync);
    count();
    sync();
    if (!("serviceWorker" in navigator) || !window.caches) { return; }
    navigator.serviceWorker.register("/manage/sw.js", {scope: "/manage"})
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function () { mark("offlineWorker", "ready"); return precache(); })
      .catch(function () { mark("offlineWorker", "failed"); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());

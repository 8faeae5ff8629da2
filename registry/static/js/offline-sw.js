/* The managers' service worker (scope /manage): pages and static files come from the network when it
   answers, else from the signed-in manager's cache, kept whole (headers too: a cached page's
   Content-Security-Policy nonce matches the nonce in its own body). It writes nothing to the registry. */
"use strict";

var PREFIX = "registry-pages-";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

// The one cache of pages (the pages delete every other user's cache when they load).
function pagesCache() {
  return caches.keys().then(function (names) {
    var name = names.filter(function (n) { return n.indexOf(PREFIX) === 0; })[0];
    return name ? caches.open(name) : null;
  });
}

function purge() {
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0; })
      .map(function (n) { return caches.delete(n); }));
  });
}

function cached(request, navigation) {
  return pagesCache().then(function (cache) {
    if (!cache) { return null; }
    // A navigation may carry a query (an edit of a queued inspection): the page is the same.
    var options = {ignoreSearch: navigation, ignoreVary: true};
    return cache.match(request, options).then(function (hit) {
      if (hit || !navigation) { return hit || null; }
      // Any other page of the area, offline: the queue page says what waits and what can be done.
      return cache.match("/manage/offline", {ignoreVary: true}).then(function (queue) { return queue || null; });
    });
  });
}

// On a weak network a kept copy is shown after this long; the network's answer still refreshes the cache.
var SLOW_MS = 8000;

function fromNetwork(event, request, navigation) {
  return fetch(request).then(function (response) {
    if (navigation && response.type === "opaqueredirect") {
      // The session ended (sent to sign in): nobody's pages stay on the phone.
      return purge().then(function () { return response; });
    }
    if (response.ok && response.type === "basic" && !response.redirected) {
      // Refresh only what the page chose to keep (the due list, the due forms, the assets): nothing else grows.
      var copy = response.clone();
      event.waitUntil(pagesCache().then(function (cache) {
        if (!cache) { return null; }
        return cache.match(request, {ignoreVary: true}).then(function (hit) {
          return hit ? cache.put(request, copy) : null;
        });
      }));
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname === "/manage/sw.js") {
    return;
  }
  var navigation = request.mode === "navigate";
  if (!navigation && url.pathname.indexOf("/static/") !== 0 && url.pathname.indexOf("/manage") !== 0) {
    return;
  }
  event.respondWith(new Promise(function (resolve, reject) {
    var settled = false;
    function settle(response) {
      if (!settled) { settled = true; resolve(response); }
    }
    var slow = setTimeout(function () {
      // Only the page itself from the cache (not the queue page in its place): the network may still answer.
      pagesCache().then(function (cache) {
        return cache ? cache.match(request, {ignoreVary: true}) : null;
      }).then(function (hit) { if (hit) { settle(hit); } });
    }, SLOW_MS);
    fromNetwork(event, request, navigation).then(function (response) {
      clearTimeout(slow);
      settle(response);
    }, function (error) {
      clearTimeout(slow);
      cached(request, navigation).then(function (hit) {
        if (hit) { settle(hit); } else if (!settled) { settled = true; reject(error); }
      });
    });
  }));
});

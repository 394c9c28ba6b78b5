// The crew app's service worker (served by dispatch/crew.py at /crew/sw.js, which puts
// VERSION and SHELL above this line). It keeps the app's own files so the app opens in a
// tunnel; the API and the feed are never cached: they go to the network or fail, and the
// app queues what it could not send.

const CACHE = `crew-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("crew-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// The shell: network first (a new release or language shows at once), the cache when the
// network fails. Anything else (the API, other pages) is left to the browser.
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== location.origin) return;
  const shell = request.mode === "navigate" ? url.pathname === "/crew/" : SHELL.includes(url.pathname);
  if (!shell) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request.mode === "navigate" ? "/crew/" : request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request.mode === "navigate" ? "/crew/" : request, { ignoreSearch: true })
        .then((hit) => hit || Response.error())),
  );
});

// A tap on the "new assignment" notification brings the app forward.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname.startsWith("/crew/"));
      return open ? open.focus() : self.clients.openWindow("/crew/");
    }),
  );
});

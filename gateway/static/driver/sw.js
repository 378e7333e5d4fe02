// The driver app's service worker (scope /driver/): keeps the app shell so the app opens
// without a network. Network first (the pages change with the code; the gateway serves them
// with no-cache), the cached copy when the network is away. The API and the socket pass by,
// except the lifecycle vocabulary the buttons are drawn from.

const CACHE = "movehub-driver-v1";
const SHELL = [
  "/driver/",
  "/driver/main.js",
  "/driver/state.js",
  "/driver/outbox.js",
  "/driver/link.js",
  "/driver/geo.js",
  "/driver/view.js",
  "/driver/driver.css",
  "/driver/manifest.webmanifest",
  "/driver/icon.svg",
  "/board/board.css",
  "/board/state.js",
  "/board/api.js",
  "/board/signin.js",
  "/board/lifecycle.js",
  "/board/map.js",
  "/api/v1/lifecycle",
];
const KEPT = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // /driver?token=... and /driver/?token=... open the same cached shell.
  const key = url.pathname === "/driver" ? "/driver/" : url.pathname;
  if (!KEPT.has(key)) return;
  event.respondWith(networkFirst(request, key));
});

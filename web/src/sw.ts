// The service worker: caches the app shell and the crypto wasm at install (the list is
// made at build time, vite.config.ts), answers them from the cache, and never caches an
// API answer. A new build is a new sw.js (its list differs): it replaces the old cache.

declare const self: ServiceWorkerGlobalScope & { __PRECACHE__: string[] };

const PRECACHE: string[] = self.__PRECACHE__;
const BASE = "/app/";

async function listHash(): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(PRECACHE.join("\n")));
  return Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function cacheName(): Promise<string> {
  return `kaari-shell-${await listHash()}`;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(await cacheName());
      await cache.addAll(PRECACHE.map((f) => new URL(f, self.registration.scope).href));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const keep = await cacheName();
      for (const name of await caches.keys()) {
        if (name.startsWith("kaari-shell-") && name !== keep) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(await cacheName());
      if (url.pathname.startsWith(`${BASE}assets/`)) {
        const hit = await cache.match(event.request);
        if (hit) return hit;
        return fetch(event.request);
      }
      // the shell (index.html for every client route): the network first, so a new
      // build shows at once; the cached copy when offline
      try {
        return await fetch(event.request);
      } catch {
        return (await cache.match(event.request)) ?? (await cache.match(BASE)) ?? Response.error();
      }
    })(),
  );
});
export {};

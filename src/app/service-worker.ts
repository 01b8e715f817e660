// The page's service worker: the app shell is precached at install, so the page opens offline from
// any path it is served under. Other same-origin files are cached on first use. Models and ONNX
// Runtime's wasm are left to transformers.js and WebLLM, which cache them themselves (keeping a second
// copy here would double hundreds of megabytes). Cross-origin requests (the remote model's API) are
// never touched. The build replaces the two placeholders below (see build/vite-plugins.ts).

const sw = self as unknown as ServiceWorkerGlobalScope;
const PRECACHE: string[] = (self as unknown as { __PRECACHE__: string[] }).__PRECACHE__;
const VERSION: string = (self as unknown as { __VERSION__: string }).__VERSION__;

const SHELL_CACHE = `trim-shell-${VERSION}`;
const RUNTIME_CACHE = 'trim-runtime';
const LEFT_TO_LIBRARIES = /\/models\/|\/ort\/|\.onnx(_data)?$|\.wasm$/;

const scoped = (path: string) => new URL(path, sw.registration.scope).href;

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(PRECACHE.map(scoped));
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith('trim-shell-') && name !== SHELL_CACHE) await caches.delete(name);
      await sw.clients.claim();
    })(),
  );
});

async function fromCache(request: Request): Promise<Response | undefined> {
  return (await caches.match(request, { ignoreSearch: request.mode === 'navigate' })) ?? undefined;
}

/** Pages: the network first (so a new version shows), the cached shell when offline. */
async function navigate(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch {
    return (await fromCache(request)) ?? (await caches.match(scoped('./'))) ?? Response.error();
  }
}

/** Everything else: the cache first; a successful network answer is kept for next time. */
async function asset(request: Request): Promise<Response> {
  const hit = await fromCache(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.status === 200 && response.type === 'basic') {
    const copy = response.clone();
    caches.open(RUNTIME_CACHE).then((c) => c.put(request, copy)).catch(() => {});
  }
  return response;
}

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin || !request.url.startsWith(sw.registration.scope)) return;
  if (request.mode === 'navigate') return event.respondWith(navigate(request));
  if (LEFT_TO_LIBRARIES.test(url.pathname) || request.headers.has('range')) return;
  event.respondWith(asset(request));
});

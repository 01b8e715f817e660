// The page's service worker. The shell of one build (HTML, JS, CSS, icons, the manifest, small data
// files) is precached per build version, and a page is always served the shell of the worker that
// controls it, so its HTML and code come from one build. A new build installs beside the old one and
// waits: it takes over when no page of the old build is open, or when the user presses "Reload" in the
// page's update notice (a `skip-waiting` message). No skipWaiting() at install: a new worker taking over
// a page that runs the old code would hand that code new files.
//
// Models and ONNX Runtime's wasm are left to transformers.js and WebLLM, which cache them themselves
// (a second copy here would double hundreds of megabytes). Cross-origin requests (the remote model's
// API) are never touched. The build replaces the two placeholders below (see build/vite-plugins.ts).

const sw = self as unknown as ServiceWorkerGlobalScope;
const PRECACHE: string[] = (self as unknown as { __PRECACHE__: string[] }).__PRECACHE__;
const VERSION: string = (self as unknown as { __VERSION__: string }).__VERSION__;

const SHELL_CACHE = `trim-shell-${VERSION}`;
const RUNTIME_CACHE = `trim-runtime-${VERSION}`;
const OWN_CACHE = /^trim-(?:shell|runtime)(?:-(.+))?$/;
/** Remembers which version was active, so the next one knows whose files an open page may still use. */
const META_CACHE = 'trim-meta';
const LEFT_TO_LIBRARIES = /\/models\/|\/ort\/|\.onnx(_data)?$|\.wasm$/;
/** A routing bundle sits beside its models but the page reads it itself: a data file, kept for offline use. */
const PAGE_READS = /\/routing\.json$/;
/** Data files change without a new file name: fetched from the network first, the cached copy when offline. */
const DATA = /\.jsonl?$/;
/** On a network that hangs instead of failing (captive portal, dead VPN), a cached data file is used after this. */
const DATA_NETWORK_WAIT_MS = 3000;

const scope = () => sw.registration.scope;
const scoped = (path: string) => new URL(path, scope()).href;
const ACTIVE_KEY = () => scoped('trim-active-version');
/** Vite writes content-hashed names under assets/: the same name is the same bytes in every build. */
const isHashedAsset = (url: URL) => url.href.startsWith(scoped('assets/'));

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      // Unhashed files (index.html, the manifest, data) skip the HTTP cache: a host's max-age must not
      // put an older index.html into this build's shell.
      await cache.addAll(PRECACHE.map((p) => new Request(scoped(p), { cache: p.startsWith('assets/') ? 'default' : 'reload' })));
    })(),
  );
});

sw.addEventListener('message', (event) => {
  // Sent by the page's "Reload" button: the user agreed to switch to this version now.
  if ((event.data as { type?: string } | null)?.type === 'skip-waiting') void sw.skipWaiting();
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const meta = await caches.open(META_CACHE);
      const previous = await (await meta.match(ACTIVE_KEY()))?.text();
      // Pages still open run the previous build's code (the user reloaded another tab): keep its files
      // until the next version activates, so their lazily loaded chunks still resolve.
      const open = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const keep = new Set([VERSION, ...(previous && open.length ? [previous] : [])]);
      for (const name of await caches.keys()) {
        const own = OWN_CACHE.exec(name);
        if (own && !keep.has(own[1] ?? '')) await caches.delete(name);
      }
      await meta.put(ACTIVE_KEY(), new Response(VERSION));
      await sw.clients.claim();
    })(),
  );
});

async function matchIn(names: string[], request: Request | string): Promise<Response | undefined> {
  for (const name of names) {
    const hit = await (await caches.open(name)).match(request);
    if (hit) return hit;
  }
  return undefined;
}

function keep(request: Request, response: Response): Response {
  if (response.ok && response.status === 200 && response.type === 'basic') {
    const copy = response.clone();
    caches.open(RUNTIME_CACHE).then((c) => c.put(request, copy)).catch(() => {});
  }
  return response;
}

/** The page itself: this build's shell, so HTML and code always match; the network only if it is missing. */
async function shell(request: Request): Promise<Response> {
  return (await matchIn([SHELL_CACHE], scoped('./'))) ?? fetch(request);
}

/** Data files: the network first (so a changed file is seen), this build's copy when offline or slow. */
function data(event: FetchEvent): Promise<Response> {
  const { request } = event;
  const network = fetch(request).then((r) => keep(request, r));
  event.waitUntil(network.catch(() => undefined));
  const cached = matchIn([RUNTIME_CACHE, SHELL_CACHE], request);
  const slow = new Promise<Response>((resolve, reject) =>
    setTimeout(() => void cached.then((hit) => (hit ? resolve(hit) : network.then(resolve, reject))), DATA_NETWORK_WAIT_MS),
  );
  return Promise.race([network, slow]).catch(async () => (await cached) ?? Response.error());
}

/**
 * Code, styles, icons: this build's copy first. A hashed asset of another build is served from that
 * build's cache (same name, same bytes), which keeps a page of the previous build working.
 */
async function asset(request: Request, url: URL): Promise<Response> {
  const hit = (await matchIn([SHELL_CACHE, RUNTIME_CACHE], request)) ?? (isHashedAsset(url) ? await caches.match(request) : undefined);
  return hit ?? keep(request, await fetch(request));
}

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin || !request.url.startsWith(scope())) return;
  if (request.mode === 'navigate') {
    // Only the page is served from the shell; a data file opened in a tab goes to the network.
    const path = url.pathname.slice(new URL(scope()).pathname.length);
    if (path === '' || path === 'index.html') event.respondWith(shell(request));
    return;
  }
  if ((LEFT_TO_LIBRARIES.test(url.pathname) && !PAGE_READS.test(url.pathname)) || request.headers.has('range')) return;
  event.respondWith(DATA.test(url.pathname) ? data(event) : asset(request, url));
});

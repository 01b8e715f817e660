// A Cache Storage cache for transformers.js in the browser that fetches on a miss. transformers.js asks
// its cache first for every model file, and (4.3) only checks that an optional file such as
// tokenizer_config.json exists through that cache or the Hub when the model lives at an absolute URL,
// so a plain cache makes folders served by URL fail to load their tokenizer. Fetching on a miss answers
// both questions from the file's own URL, and keeps every file for offline use. Only URLs under the
// given prefixes (the model folder, ONNX Runtime's files) are ever fetched: nothing else, never the Hub.

export const MODEL_CACHE_NAME = 'trim-models';

export interface FetchingCache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

export function fetchingModelCache(allowedPrefixes: readonly string[], fetcher: typeof fetch = (i, o) => fetch(i, o)): FetchingCache {
  const open = () => caches.open(MODEL_CACHE_NAME);
  const allowed = (key: string) => allowedPrefixes.some((p) => key.startsWith(p));
  return {
    async match(key) {
      const cache = await open();
      const hit = await cache.match(key);
      if (hit || !allowed(key)) return hit;
      let response: Response;
      try {
        response = await fetcher(key);
      } catch {
        return undefined; // offline and not cached: transformers.js reports the missing file
      }
      if (response.status !== 200) return undefined;
      await cache.put(key, response.clone());
      return response;
    },
    async put(key, response) {
      if (allowed(key)) await (await open()).put(key, response);
    },
  };
}

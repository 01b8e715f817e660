// Remote API keys, each bound to the origin (scheme, host and port) of the server it was entered for:
// a key is handed out only for that origin, so a link or a form that points the page at another
// server never carries the key along. By default keys live only in this page's memory and are gone on
// reload; a key the user asks to remember is kept in localStorage. A key is never put in a URL, a log,
// the ledger or the history (requests are recorded without their headers).

type KeyStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const STORAGE_KEY = 'trim.remote.apiKeys';
/** The earlier format: one key for whatever remote was set. It cannot be tied to a server, so it is dropped. */
const LEGACY_KEY = 'trim.remote.apiKey';

/** The origin a key belongs to, or null when `baseUrl` is not an http(s) URL. */
export function keyOrigin(baseUrl: string): string | null {
  try {
    const u = new URL(baseUrl);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

export class ApiKeyStore {
  private readonly keys = new Map<string, string>();
  /** True when an old, server-less remembered key was found and deleted (the page tells the user once). */
  readonly droppedLegacyKey: boolean;

  constructor(private readonly storage: KeyStorage | null) {
    for (const [origin, key] of Object.entries(this.readRemembered())) this.keys.set(origin, key);
    this.droppedLegacyKey = !!storage?.getItem(LEGACY_KEY);
    if (this.droppedLegacyKey) storage?.removeItem(LEGACY_KEY);
  }

  /** The key entered for `baseUrl`'s origin, or null: a server never gets another server's key. */
  get(baseUrl: string): string | null {
    const origin = keyOrigin(baseUrl);
    return origin ? (this.keys.get(origin) ?? null) : null;
  }

  remembered(baseUrl: string): boolean {
    const origin = keyOrigin(baseUrl);
    return !!origin && origin in this.readRemembered();
  }

  /** Sets (or, with an empty key, removes) the key for `baseUrl`'s origin. */
  set(baseUrl: string, key: string, remember: boolean): void {
    const origin = keyOrigin(baseUrl);
    if (!origin) throw new Error(`An API key needs the server it belongs to; "${baseUrl}" is not an http(s) URL.`);
    const k = key.trim();
    if (k) this.keys.set(origin, k);
    else this.keys.delete(origin);
    const stored = this.readRemembered();
    if (remember && k) stored[origin] = k;
    else delete stored[origin];
    this.writeRemembered(stored);
  }

  forget(baseUrl: string): void {
    this.set(baseUrl, '', false);
  }

  private readRemembered(): Record<string, string> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.storage?.getItem(STORAGE_KEY) ?? '{}');
    } catch {
      return {};
    }
    const out: Record<string, string> = {};
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return out;
    // Only entries whose name is its own origin: anything else was not written by this store.
    for (const [origin, key] of Object.entries(parsed)) if (typeof key === 'string' && key && keyOrigin(origin) === origin) out[origin] = key;
    return out;
  }

  private writeRemembered(keys: Record<string, string>): void {
    try {
      if (Object.keys(keys).length) this.storage?.setItem(STORAGE_KEY, JSON.stringify(keys));
      else this.storage?.removeItem(STORAGE_KEY);
    } catch {
      // Storage full or blocked: the key stays for this visit only.
    }
  }
}

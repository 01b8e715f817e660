// The remote API key. By default it lives only in this page's memory and is gone on reload; when the
// user ticks "remember", it is kept in localStorage. It is never put in a URL, a log, the ledger or
// the history (requests are recorded without their headers).

const STORAGE_KEY = 'trim.remote.apiKey';

export class ApiKeyStore {
  private key: string | null;

  constructor(private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null) {
    this.key = storage?.getItem(STORAGE_KEY) ?? null;
  }

  get(): string | null {
    return this.key;
  }

  get remembered(): boolean {
    return !!this.storage?.getItem(STORAGE_KEY);
  }

  set(key: string, remember: boolean): void {
    this.key = key.trim() || null;
    if (remember && this.key) this.storage?.setItem(STORAGE_KEY, this.key);
    else this.storage?.removeItem(STORAGE_KEY);
  }

  forget(): void {
    this.key = null;
    this.storage?.removeItem(STORAGE_KEY);
  }
}

// What a link and the settings may do: keys bound to their server, links that tighten but never
// loosen, and secrets that never stay in the address bar (src/app/secrets.ts, link-guard.ts, url-config.ts).

import { describe, expect, it } from 'vitest';
import { destinations, reviewLink } from '../src/app/link-guard.ts';
import { ApiKeyStore } from '../src/app/secrets.ts';
import { defaultSettings, type Settings } from '../src/app/settings.ts';
import { carriesCredential, isCredential, readUrlConfig } from '../src/app/url-config.ts';

function memoryStorage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    dump: () => JSON.stringify([...m]),
  };
}

const PAGE = 'https://trim.example.org/app/?x=1';
const withRemote = (baseUrl: string, s: Settings = defaultSettings()): Settings => ({ ...s, remote: { baseUrl, model: 'm', mode: 'raw' }, strongLocal: null });

describe('API keys belong to the server they were entered for', () => {
  it('hands a key only to its own origin, whatever the path', () => {
    const keys = new ApiKeyStore(memoryStorage());
    keys.set('http://127.0.0.1:9102', 'sk-mine', false);
    expect(keys.get('http://127.0.0.1:9102')).toBe('sk-mine');
    expect(keys.get('http://127.0.0.1:9102/v1')).toBe('sk-mine');
    for (const other of ['http://127.0.0.1:9101', 'https://127.0.0.1:9102', 'http://localhost:9102', 'http://127.0.0.1:9102.evil.test', 'not a url'])
      expect(keys.get(other), other).toBeNull();
  });

  it('keeps a key in memory only unless remembered, and remembers it with its origin', () => {
    const storage = memoryStorage();
    const keys = new ApiKeyStore(storage);
    keys.set('https://api.a.test', 'sk-session', false);
    expect(storage.dump()).not.toContain('sk-session');
    expect(new ApiKeyStore(storage).get('https://api.a.test')).toBeNull();
    keys.set('https://api.b.test', 'sk-kept', true);
    const again = new ApiKeyStore(storage);
    expect(again.get('https://api.b.test')).toBe('sk-kept');
    expect(again.remembered('https://api.b.test')).toBe(true);
    expect(again.get('https://api.a.test')).toBeNull();
    again.forget('https://api.b.test');
    expect(storage.dump()).not.toContain('sk-kept');
    expect(again.get('https://api.b.test')).toBeNull();
  });

  it('drops an old key that was stored without its server, and says so once', () => {
    const storage = memoryStorage({ 'trim.remote.apiKey': 'sk-old' });
    const keys = new ApiKeyStore(storage);
    expect(keys.droppedLegacyKey).toBe(true);
    expect(keys.get('http://127.0.0.1:9102')).toBeNull();
    expect(storage.dump()).not.toContain('sk-old');
    expect(new ApiKeyStore(storage).droppedLegacyKey).toBe(false);
  });

  it('ignores stored entries it did not write', () => {
    const storage = memoryStorage({ 'trim.remote.apiKeys': JSON.stringify({ '*': 'sk-any', 'https://ok.test/path': 'sk-path', 'https://ok.test': 7 }) });
    const keys = new ApiKeyStore(storage);
    expect(keys.get('https://ok.test')).toBeNull();
    expect(new ApiKeyStore(memoryStorage({ 'trim.remote.apiKeys': '{not json' })).get('https://ok.test')).toBeNull();
    expect(() => keys.set('', 'sk-x', true)).toThrow(/needs the server it belongs to/);
  });
});

describe('a link tightens, never loosens', () => {
  it('can turn confirmation on but not off', () => {
    const asked = { ...defaultSettings(), confirmRemote: true };
    const off = readUrlConfig('?confirm=0', asked);
    expect(off.settings.confirmRemote).toBe(true);
    expect(off.problems.join(' ')).toMatch(/confirm=0 was ignored: a link can turn .* on, never off/);
    expect(readUrlConfig('?confirm=false', asked).settings.confirmRemote).toBe(true);
    expect(readUrlConfig('?confirm=1', defaultSettings()).settings.confirmRemote).toBe(true);
    expect(readUrlConfig('?confirm=0', defaultSettings()).problems).toEqual([]);
  });

  it('uses a remote named in a link as the strong model unless strong= is given', () => {
    const q = '?remote=https://api.example.com&remoteModel=big';
    expect(defaultSettings().strongLocal).not.toBeNull();
    expect(readUrlConfig(q, defaultSettings()).settings.strongLocal).toBeNull();
    expect(readUrlConfig(`${q}&strong=tjs:./models/s`, defaultSettings()).settings.strongLocal).toBe('./models/s');
    expect(readUrlConfig(`?strong=tjs:./models/s&${q.slice(1)}`, defaultSettings()).settings.strongLocal).toBe('./models/s');
    // No remote (or an unusable one): the strong model stays.
    expect(readUrlConfig('?remote=&policy=thr:0.4', defaultSettings()).settings.strongLocal).toBe(defaultSettings().strongLocal);
    expect(readUrlConfig('?remote=https://api.example.com', defaultSettings()).settings.strongLocal).toBe(defaultSettings().strongLocal);
  });

  it('asks before a link reaches a host the user has not set, a first-time visitor included', () => {
    const mine = withRemote('http://127.0.0.1:9102');
    const link = readUrlConfig('?remote=http://127.0.0.1:9101&remoteModel=x&strong=&policy=strong-only&confirm=0', mine).settings;
    const review = reviewLink({ link, stored: mine, pageUrl: PAGE, agreed: [] });
    expect(review.newHosts).toEqual([{ origin: 'http://127.0.0.1:9101', host: '127.0.0.1:9101', roles: ['remote'] }]);
    // The defaults (offline demo) reach no other host, so a first visit with a remote link asks too.
    expect(reviewLink({ link, stored: defaultSettings(), pageUrl: PAGE, agreed: [] }).newHosts.map((d) => d.host)).toEqual(['127.0.0.1:9101']);
    // The user's own remote, or one they agreed to before: nothing to ask.
    expect(reviewLink({ link: withRemote('http://127.0.0.1:9102/v1', mine), stored: mine, pageUrl: PAGE, agreed: [] }).newHosts).toEqual([]);
    expect(reviewLink({ link, stored: mine, pageUrl: PAGE, agreed: ['http://127.0.0.1:9101'] }).newHosts).toEqual([]);
    // Harmless changes: nothing to ask.
    expect(reviewLink({ link: readUrlConfig('?policy=weak-only&maxSteps=3&problem=x', mine).settings, stored: mine, pageUrl: PAGE, agreed: [] }).newHosts).toEqual([]);
  });

  it('counts model folders on another host, not those beside the page', () => {
    const link = readUrlConfig('?weak=tjs:https://models.evil.test/lm&prm=tjs:./models/p%23value&strong=tjs:https://models.evil.test/s', defaultSettings()).settings;
    expect(reviewLink({ link, stored: defaultSettings(), pageUrl: PAGE, agreed: [] }).newHosts).toEqual([
      { origin: 'https://models.evil.test', host: 'models.evil.test', roles: ['weak', 'strong'] },
    ]);
    const samePage = readUrlConfig('?weak=tjs:https://trim.example.org/models/lm&prm=tjs:/other/prm', defaultSettings()).settings;
    expect(destinations(samePage, PAGE).filter((d) => d.roles.some((r) => r !== 'strong'))).toEqual([]);
    // A WebLLM id names no host (its downloads come from WebLLM's own list).
    const webllm = readUrlConfig('?weak=webllm:Qwen2.5-0.5B-Instruct-q4f32_1-MLC', defaultSettings()).settings;
    expect(reviewLink({ link: webllm, stored: defaultSettings(), pageUrl: PAGE, agreed: [] }).newHosts).toEqual([]);
  });

  it('counts a remote on the page’s own origin: it receives the problems, the page does not', () => {
    const link = withRemote('https://trim.example.org');
    expect(reviewLink({ link, stored: defaultSettings(), pageUrl: PAGE, agreed: [] }).newHosts.map((d) => d.roles)).toEqual([['remote']]);
  });
});

describe('secrets never stay in the address bar', () => {
  const KEY = 'sk-abcdef0123456789abcdef';

  it('recognises whole credential-shaped values and not words that contain their prefixes', () => {
    for (const v of [KEY, 'sk-proj-AbC123dEf456gHi789', 'hf_AbCdEfGhIjKlMnOpQrStUv', 'Bearer abc.def.ghi1234', 'gsk_0123456789abcdefABCD', 'xai-0123456789abcdefABCD', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig', 'AKIAABCDEFGHIJKLMNOP'])
      expect(isCredential(v), v).toBe(true);
    for (const v of ['sk-learning', 'risk-free', 'What is the task-skill of 2+2?', 'hf_', 'Bearer', 'eyJ', '12345678901234567890'])
      expect(isCredential(v), v).toBe(false);
    expect(carriesCredential(`https://api.example.com/v1?key=x`)).toBe(true);
    expect(carriesCredential(`https://user:pw@api.example.com`)).toBe(true);
    expect(carriesCredential(`tjs:https://host/${KEY}/model`)).toBe(true);
    expect(carriesCredential('tjs:https://host/models/lm')).toBe(false);
  });

  it('removes a credential-shaped value under any name, and every unknown parameter, without echoing them', () => {
    const c = readUrlConfig(`?k=${KEY}&foo=hf_AbCdEfGhIjKlMnOpQrStUv&remoteModel=${KEY}&colour=red&policy=weak-only`, defaultSettings());
    expect(c.secrets).toEqual(['k', 'foo', 'remoteModel']);
    expect(c.scrub).toEqual(['k', 'foo', 'remoteModel', 'colour']);
    expect(c.settings.policy).toBe('weak-only');
    const said = c.problems.join('\n');
    expect(said).toMatch(/removed from the address bar: "k", "foo", "remoteModel"/);
    expect(said).toMatch(/Unknown parameter "colour" was ignored and removed from the address bar/);
    expect(said).not.toContain(KEY);
    expect(said).not.toContain('hf_AbCd');
    expect(JSON.stringify(c.settings)).not.toContain(KEY);
  });

  it('keeps a problem that merely mentions a prefix, drops one that is a key', () => {
    const words = readUrlConfig(`?problem=${encodeURIComponent('A sk-learning risk-free task: hf_ means what? Bearer bonds?')}`, defaultSettings());
    expect(words.problem).toBe('A sk-learning risk-free task: hf_ means what? Bearer bonds?');
    expect(words.scrub).toEqual([]);
    const key = readUrlConfig(`?problem=${KEY}`, defaultSettings());
    expect(key.problem).toBeNull();
    expect(key.scrub).toEqual(['problem']);
  });
});

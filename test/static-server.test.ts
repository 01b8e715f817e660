import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP, resolvePath, SECURITY_HEADERS, startStaticServer, type StaticServer } from '../src/cli/static-server.ts';
import { REPO_ROOT } from './helpers/paths.ts';

let server: StaticServer;
let root: string;
let models: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'trim-static-'));
  models = mkdtempSync(join(tmpdir(), 'trim-models-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(root, 'assets', 'app-1.js'), 'export {}');
  writeFileSync(join(root, 'x.wasm'), Buffer.from([0, 97, 115, 109]));
  writeFileSync(join(root, 'secret.txt'), 'inside');
  writeFileSync(join(root, 'manifest.webmanifest'), '{"name":"t"}');
  mkdirSync(join(models, 'lm'));
  writeFileSync(join(models, 'lm', 'config.json'), '{"model_type":"qwen2"}');
  server = await startStaticServer({ dir: root, mounts: { '/models/': models } });
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(models, { recursive: true, force: true });
});

describe('static server', () => {
  it('serves the page, assets and mounted folders with the right types', async () => {
    const index = await fetch(server.url);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('<title>t</title>');
    const js = await fetch(server.url + 'assets/app-1.js');
    expect(js.headers.get('content-type')).toMatch(/text\/javascript/);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(server.url + 'x.wasm')).headers.get('content-type')).toBe('application/wasm');
    expect(await (await fetch(server.url + 'models/lm/config.json')).json()).toEqual({ model_type: 'qwen2' });
  });

  it('never serves outside its folders', async () => {
    expect((await fetch(server.url + 'models/..%2f..%2fetc/passwd')).status).toBe(404);
    expect((await fetch(server.url + 'nope.js')).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    expect(resolvePath('/models/%2e%2e/secret.txt', [['/models/', models]])).toBeNull();
    expect(resolvePath('/%2e%2e%2f%2e%2e%2fetc%2fpasswd', [['/', root]])).toBeNull();
    expect(resolvePath('/%E0%A4%A', [['/', root]])).toBeNull();
  });

  it('sends the security headers a meta tag cannot carry on every response, and the manifest as a manifest', async () => {
    for (const path of ['', 'index.html', 'assets/app-1.js', 'models/lm/config.json', 'nope.js']) {
      const res = await fetch(server.url + path);
      expect(res.headers.get('content-security-policy'), path).toBe(PAGE_CSP);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
    expect(PAGE_CSP).toContain("frame-ancestors 'none'");
    const manifest = await fetch(server.url + 'manifest.webmanifest');
    expect(manifest.headers.get('content-type')).toBe('application/manifest+json');
    expect(await manifest.json()).toEqual({ name: 't' });
  });

  it('sends the policy of index.html\'s meta tag, plus frame-ancestors', () => {
    // The page keeps its policy in a meta tag for hosts that send no headers; the header must not drift from it.
    const meta = readFileSync(join(REPO_ROOT, 'index.html'), 'utf8').match(/http-equiv="Content-Security-Policy" content="([^"]+)"/)?.[1];
    expect(meta, 'index.html has a CSP meta tag').toBeTruthy();
    expect(PAGE_CSP).toBe(`${meta}; frame-ancestors 'none'`);
  });

  it('README shows deployers the same headers, in _headers format', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const block = readme.match(/```text\n(\/\*\n[\s\S]*?)```/)?.[1];
    expect(block, 'README has a _headers example starting with /*').toBeTruthy();
    // The lines under "/*" (indented "Name: value") up to the next path line.
    const all = block!.split('\n').slice(1);
    const end = all.findIndex((l) => /^\S/.test(l));
    const headers = Object.fromEntries(
      all.slice(0, end < 0 ? undefined : end).filter((l) => l.trim()).map((l) => {
        const colon = l.indexOf(':');
        return [l.slice(0, colon).trim(), l.slice(colon + 1).trim()];
      }),
    );
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(headers[name], name).toBe(value);
  });
});

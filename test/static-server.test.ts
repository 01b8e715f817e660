import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePath, startStaticServer, type StaticServer } from '../src/cli/static-server.ts';

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
});

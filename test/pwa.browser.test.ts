// The page as an installable app, and its service worker's update path, in headless Chromium. Three real
// builds stand for three releases (the second and third change the code and the data file); the static
// server serves whichever a symlink points at, so swapping it is a deploy.

import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Plugin } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticServer } from '../src/cli/static-server.ts';
import { buildPageInto, launch, openPage, servePage, type Browser } from './helpers/page.ts';
import { REPO_ROOT } from './helpers/paths.ts';

let work: string;
const release = { a: '', b: '', c: '' };
let live: string;
let browser: Browser;
const servers: StaticServer[] = [];

/** A release whose page marks <html data-build> with its name: its entry chunk differs from the others'. */
function marked(name: string): Plugin {
  return {
    name: 'test:mark-build',
    transform(code, id) {
      return id.endsWith('/src/app/main.ts') ? `${code}\ndocument.documentElement.dataset.build = ${JSON.stringify(name)};\n` : null;
    },
  };
}

/**
 * The public folder as a fresh clone has it (the committed organism demo models, whose PRM config the
 * page reads on opening; not the fixtures other tests build beside them), with its own first data line.
 */
function publicFolder(name: string, firstProblem?: string): string {
  const dir = join(work, `public-${name}`);
  const models = join(REPO_ROOT, 'public', 'models');
  const demo = join(models, 'organism');
  const committed = (src: string) => !src.startsWith(models + '/') || src === demo || src.startsWith(demo + '/');
  cpSync(join(REPO_ROOT, 'public'), dir, { recursive: true, filter: committed });
  if (firstProblem) {
    const file = join(dir, 'organism', 'test.jsonl');
    writeFileSync(file, `${JSON.stringify({ id: `${name}-1`, problem: firstProblem, answer: '2' })}\n${readFileSync(file, 'utf8')}`);
  }
  return dir;
}

const versionOf = (dir: string) => readFileSync(join(dir, 'sw.js'), 'utf8').match(/const VERSION = "(\w+)"/)![1]!;
const entryOf = (dir: string) => readFileSync(join(dir, 'index.html'), 'utf8').match(/src="\.\/(assets\/index-[\w-]+\.js)"/)![1]!;

/** Serves `dir` at the live link's place: what the server sends changes at once, as after a deploy. */
function deploy(dir: string): void {
  const next = `${live}.next`;
  symlinkSync(dir, next);
  renameSync(next, live);
}

const controlled = (page: Page) => page.waitForFunction(() => navigator.serviceWorker.controller !== null);
const firstDataLine = (page: Page) => page.evaluate(async () => (await (await fetch('organism/test.jsonl')).text()).split('\n')[0]!);
const fetchStatus = (page: Page, path: string) => page.evaluate(async (p) => (await fetch(p)).status, path);
const ownCaches = (page: Page) => page.evaluate(async () => (await caches.keys()).filter((k) => /^trim-(shell|runtime)/.test(k)).sort());

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'trim-pwa-'));
  release.a = join(work, 'a');
  release.b = join(work, 'b');
  release.c = join(work, 'c');
  // One build at a time: they share the machine with the rest of the suite.
  await buildPageInto(release.a, { publicDir: publicFolder('a') });
  await buildPageInto(release.b, { publicDir: publicFolder('b', 'Release B: start with 1, then 1) +1.'), plugins: [marked('B')] });
  await buildPageInto(release.c, { publicDir: publicFolder('c', 'Release C: start with 1, then 1) +1.'), plugins: [marked('C')] });
  live = join(work, 'live');
  deploy(release.a);
  browser = await launch({ webgpu: false });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.close()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the page as an installable app', { timeout: 120_000 }, () => {
  it('Chromium reports it installable: a valid linked manifest, icons of the declared sizes, a controlling service worker', async () => {
    const site = await servePage(release.a, {});
    servers.push(site);
    const { page, errors } = await openPage(browser.context, site.url);
    await controlled(page);
    const cdp = await browser.context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: unknown[] };
    expect(installabilityErrors).toEqual([]);
    const manifest = (await cdp.send('Page.getAppManifest')) as { url: string; errors: unknown[]; data: string };
    expect(manifest.url).toBe(`${site.url}manifest.webmanifest`);
    expect(manifest.errors).toEqual([]);
    const data = JSON.parse(manifest.data) as Record<string, unknown> & { icons: { src: string; sizes: string; type: string; purpose: string }[] };
    expect(data).toMatchObject({ short_name: 'TRIM', display: 'standalone', start_url: './', scope: './', theme_color: '#2453c7' });
    expect(String(data.name)).toMatch(/TRIM/);
    expect(String(data.description).length).toBeGreaterThan(20);
    expect(data.icons.map((i) => `${i.sizes} ${i.purpose}`).sort()).toEqual(['192x192 any', '192x192 maskable', '512x512 any', '512x512 maskable']);
    expect(await page.getAttribute('meta[name="theme-color"]', 'content')).toBe(data.theme_color);
    // Each icon (and the apple-touch-icon) is served as a PNG of the size it claims.
    const links = [...data.icons.map((i) => ({ src: i.src, sizes: i.sizes })), { src: (await page.getAttribute('link[rel="apple-touch-icon"]', 'href'))!, sizes: '180x180' }];
    for (const { src, sizes } of links) {
      const seen = await page.evaluate(async (url) => {
        const res = await fetch(url);
        const bitmap = await createImageBitmap(await res.blob());
        return { type: res.headers.get('content-type'), sizes: `${bitmap.width}x${bitmap.height}` };
      }, new URL(src, manifest.url).href);
      expect(seen, src).toEqual({ type: 'image/png', sizes });
    }
    // The manifest and its relative start_url/scope resolve under the folder it is served from.
    expect(await page.evaluate(() => (document.querySelector('link[rel="manifest"]') as HTMLLinkElement).href)).toBe(manifest.url);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refuses to be framed by another site (frame-ancestors, sent by trim serve-static)', async () => {
    const site = await servePage(release.a, {});
    servers.push(site);
    const page = await browser.context.newPage();
    const refused = page.waitForEvent('console', (m) => /frame-ancestors/.test(m.text()));
    await page.setContent(`<iframe src="${site.url}"></iframe>`);
    expect((await refused).text()).toMatch(/(Framing|Refused to frame) .*frame-ancestors 'none'/s);
    await page.close();
  });

  it('a new build is picked up on the next visit with the update notice, never mixing builds, and its changed data file is seen', async () => {
    const site = await servePage(live, {});
    servers.push(site);
    const entryA = entryOf(release.a);
    const { page: first } = await openPage(browser.context, site.url);
    await controlled(first);
    expect(await first.getAttribute('html', 'data-build')).toBeNull();
    const dataA = await firstDataLine(first);

    deploy(release.b);
    expect((await fetch(site.url + entryA)).status).toBe(404);
    // Data files are revalidated: the new line is seen at once.
    expect(await firstDataLine(first)).toMatch(/Release B/);
    expect(dataA).not.toMatch(/Release/);

    // The next visit is served the build its worker holds (all of release A), while release B installs.
    const { page: second } = await openPage(browser.context, site.url);
    expect(await second.getAttribute('html', 'data-build')).toBeNull();
    expect(await second.getAttribute('script[type="module"]', 'src')).toBe(`./${entryA}`);
    await second.waitForSelector('#update-banner:not([hidden])');
    await first.waitForSelector('#update-banner:not([hidden])');
    expect(await second.textContent('#update-banner')).toMatch(/A new version of this page is ready\. Reload/);

    // The user agrees: release B takes over and this tab reloads into it, all of it.
    await second.click('#update-reload');
    await second.waitForSelector('html[data-build="B"]');
    await second.waitForSelector('body[data-ready="true"]');
    expect(await second.isHidden('#update-banner')).toBe(true);
    const filesB = new Set(readdirSync(join(release.b, 'assets')).map((f) => `assets/${f}`));
    const loaded = await second.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname.slice(1)).filter((p) => p.startsWith('assets/')));
    expect(loaded.length).toBeGreaterThan(0);
    expect(loaded.filter((p) => !filesB.has(p))).toEqual([]);
    expect(await firstDataLine(second)).toMatch(/Release B/);

    // The first tab still runs release A's code: the files it may still load are kept for it.
    expect(await first.getAttribute('html', 'data-build')).toBeNull();
    expect(await fetchStatus(first, entryA)).toBe(200);
    const [vA, vB, vC] = [versionOf(release.a), versionOf(release.b), versionOf(release.c)];
    expect((await ownCaches(second)).filter((n) => n.startsWith('trim-shell-'))).toEqual([`trim-shell-${vA}`, `trim-shell-${vB}`].sort());

    // Release C is deployed; a visit installs it. Once no tab of release B is open it takes over on its
    // own, and the older builds' caches are deleted.
    await first.close();
    deploy(release.c);
    await second.reload();
    await second.waitForSelector('#update-banner:not([hidden])');
    expect(await second.getAttribute('html', 'data-build')).toBe('B');
    const next = await browser.context.newPage();
    const workers = await watchServiceWorkers(next);
    const waiting = await workers.until((vs) => vs.find((v) => v.scriptURL === `${site.url}sw.js` && v.status === 'installed'));
    await second.close();
    await workers.until((vs) => vs.find((v) => v.versionId === waiting.versionId && v.status === 'activated'));
    await next.goto(site.url);
    await next.waitForSelector('html[data-build="C"]');
    await next.waitForSelector('body[data-ready="true"]');
    expect(await next.isHidden('#update-banner')).toBe(true);
    expect(await firstDataLine(next)).toMatch(/Release C/);
    const left = await ownCaches(next);
    expect(left.length).toBeGreaterThan(0);
    expect(left.filter((n) => !n.endsWith(vC))).toEqual([]);
    await next.close();
  });
});

interface WorkerVersion {
  versionId: string;
  scriptURL: string;
  status: string;
}

/** Service worker versions as DevTools sees them, to wait on a version's state instead of on time. */
async function watchServiceWorkers(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  const versions = new Map<string, WorkerVersion>();
  let changed = () => {};
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: vs }: { versions: WorkerVersion[] }) => {
    for (const v of vs) versions.set(v.versionId, v);
    changed();
  });
  await cdp.send('ServiceWorker.enable');
  return {
    until: <T>(found: (vs: WorkerVersion[]) => T | undefined) =>
      new Promise<T>((resolve) => {
        const check = () => {
          const hit = found([...versions.values()]);
          if (hit !== undefined) resolve(hit);
        };
        changed = check;
        check();
      }),
  };
}

// The page with a routing bundle from a link (bundle=URL): another host's bundle is fetched only after
// the user agrees, and the solve routes with the bundle's policy at the knob its calibration gives for
// the budget. The offline demo's organism models solve on the device (WebAssembly).

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleToJson } from '../src/core/bundle.ts';
import type { StaticServer } from '../src/cli/static-server.ts';
import { sampleBundle } from './helpers/bundle.ts';
import { buildPage, launch, openPage, servePage, type Browser } from './helpers/page.ts';
import { REPO_ROOT } from './helpers/paths.ts';

let built: Awaited<ReturnType<typeof buildPage>>;
let site: StaticServer;
let bundleServer: Server;
let bundleUrl: string;
let bundleRequests = 0;
let browser: Browser;

// A bundle whose weak model is almost always wrong (p_w 0.05): at λ = 0 its POMDP sends every step to
// the strong model, which the default observation model and p_w (0.866) would not. Its calibration
// says λ = 0 is the most accurate point within a 100% budget.
function routingBundle(): unknown {
  const b = sampleBundle();
  b.policies.pomdp = { ...b.policies.pomdp!, pw: 0.05, grid: [0, 0.001] };
  b.calibration = {
    pomdp: [
      { knob: 0, cost: 1, accuracy: 1, sentShare: 1, stepShare: 1 },
      { knob: 0.001, cost: 0.3, accuracy: 0.9, sentShare: 0.3, stepShare: 0.25 },
    ],
  };
  b.best = { policy: 'pomdp', knob: 0.001, beatsThr: true, thr: { cpt95: 0.4, apgr: 0.8 }, cpt95: 0.3, apgr: 0.85 };
  return bundleToJson(b);
}

beforeAll(async () => {
  built = await buildPage();
  site = await servePage(built.dir, {});
  const body = JSON.stringify(routingBundle());
  bundleServer = createServer((req, res) => {
    bundleRequests++;
    res.writeHead(req.url === '/routing.json' ? 200 : 404, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(req.url === '/routing.json' ? body : '{}');
  });
  await new Promise<void>((r) => bundleServer.listen(0, '127.0.0.1', r));
  bundleUrl = `http://127.0.0.1:${(bundleServer.address() as AddressInfo).port}/routing.json`;
  browser = await launch({ webgpu: false });
}, 300_000);

afterAll(async () => {
  await Promise.all([browser?.close(), site?.close(), new Promise((r) => bundleServer?.close(r))]);
  built?.cleanup();
});

describe('a routing bundle on the page', { timeout: 180_000 }, () => {
  it('asks before fetching another host\'s bundle, then routes with it at the knob its calibration gives for the budget', async () => {
    const problem = 'Start with 5, then 1) +2 2) -1 3) -3.';
    const link = `${site.url}?${new URLSearchParams({ bundle: bundleUrl, policy: 'pomdp', budget: '100', seed: '1', problem })}`;
    const { page, errors } = await openPage(browser.context, link);
    await page.waitForSelector('#link-dialog[open]');
    const host = new URL(bundleUrl).host;
    expect(await page.$$eval('#link-hosts li', (lis) => lis.map((li) => li.textContent))).toEqual([
      `${host} — routing bundle: downloaded from there (it decides which steps are sent)`,
    ]);
    expect(bundleRequests).toBe(0);
    await page.getByRole('button', { name: 'Use these settings' }).click();
    await page.waitForSelector('body[data-link="agreed"]');
    expect(await page.inputValue('#bundle')).toBe(bundleUrl);

    const runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
    await page.getByRole('button', { name: 'Solve', exact: true }).click();
    await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs, { timeout: 150_000 });
    expect(await page.textContent('#run-error')).toBe('');
    expect(bundleRequests).toBe(1);
    expect(await page.textContent('#policy-note')).toBe('Policy pomdp:0 from the routing bundle: sent 100.0% of steps on the problems it was tuned on (budget 100%).');
    const sources = await page.$$eval('#steps > li.step', (lis) => lis.map((li) => (li as HTMLElement).dataset.source));
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.every((s) => s === 'strong')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the offline demo routes with its own tuned bundle by default, at the bundle\'s best knob', async () => {
    const committed = JSON.parse(readFileSync(`${REPO_ROOT}/public/models/organism/routing.json`, 'utf8')) as { best: { policy: string; knob: number } };
    const { page, errors } = await openPage(browser.context, `${site.url}?seed=1`);
    expect(await page.inputValue('#policy')).toBe(committed.best.policy);
    expect(await page.inputValue('#bundle')).toBe('./models/organism/routing.json');
    const runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
    await page.getByRole('textbox', { name: 'Problem', exact: true }).fill('Start with 5, then 1) +2 2) -1 3) -3.');
    await page.getByRole('button', { name: 'Solve', exact: true }).click();
    await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs, { timeout: 150_000 });
    expect(await page.textContent('#run-error')).toBe('');
    expect(await page.textContent('#policy-note')).toBe(`Policy ${committed.best.policy}:${committed.best.knob} from the routing bundle ./models/organism/routing.json.`);
    expect(await page.textContent('#answer-text')).toMatch(/\d/);
    expect(errors).toEqual([]);
    await page.close();
  });
});

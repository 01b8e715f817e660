// The built page in headless Chromium (SwiftShader WebGPU, or none), with tiny fixture models served
// beside it and a loopback OpenAI-compatible server as the remote model. One build and two browser
// launches for the whole file: SwiftShader and WASM are slow, so the scenarios share them.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_JS_TARGET_GZIP } from '../src/app/build/vite-plugins.ts';
import type { StaticServer } from '../src/cli/static-server.ts';
import { mulberry32 } from '../src/core/rng.ts';
import { tinyModel } from './helpers/fixtures.ts';
import { continuedSteps, startOpenAIServer, type TestServer } from './helpers/openai-server.ts';
import { buildPage, launch, openPage, servePage, type Browser } from './helpers/page.ts';
import { REPO_ROOT } from './helpers/paths.ts';

let built: Awaited<ReturnType<typeof buildPage>>;
let site: StaticServer;
let remote: TestServer;
let gpu: Browser;
let noGpu: Browser;

/** A seed under which the random policy (rate 0.5) plans exactly these first steps. */
function seedFor(plan: ('strong' | 'accept')[]): number {
  for (let seed = 1; ; seed++) {
    const rng = mulberry32(seed);
    if (plan.every((p) => (rng() < 0.5 ? 'strong' : 'accept') === p)) return seed;
  }
}

function pageUrl(params: Record<string, string | number>): string {
  // Tiny random-weight fixtures (built by the test) stand in for the small model and PRM; the strong
  // model is the loopback server unless a test says otherwise.
  const q = new URLSearchParams({
    weak: 'tjs:./models/tiny-lm',
    prm: 'tjs:./models/tiny-prm#value',
    strong: '',
    remote: remote.url,
    remoteModel: 'big',
    remoteMode: 'raw',
    // Greedy decoding: the tiny random model's drafts are then the same on every run (and not blank).
    temperature: '0',
    maxStepTokens: '24',
    ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
  });
  return `${site.url}?${q}`;
}

async function solve(page: Page, problem?: string): Promise<void> {
  const runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
  if (problem !== undefined) await page.getByRole('textbox', { name: 'Problem', exact: true }).fill(problem);
  await page.getByRole('button', { name: 'Solve', exact: true }).click();
  await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs, { timeout: 120_000 });
}

/**
 * Settings and keys applied through the form persist in localStorage; tests that apply some forget them
 * after. The hosts the test user agreed to from links (trim.linkOrigins) are their standing answer and stay.
 */
const forgetSettings = (page: Page) =>
  page.evaluate(() => Object.keys(localStorage).filter((k) => k !== 'trim.linkOrigins').forEach((k) => localStorage.removeItem(k)));

/**
 * A link that reaches a new host waits for the user's agreement (src/app/link-guard.ts): agree as the
 * user would, after checking the dialog names exactly the expected hosts.
 */
async function agreeToLink(page: Page, hosts: string[]): Promise<void> {
  await page.waitForSelector('#link-dialog[open]');
  expect(await page.$$eval('#link-hosts li', (lis) => lis.map((li) => li.querySelector('strong')!.textContent))).toEqual(hosts);
  await page.getByRole('button', { name: 'Use these settings' }).click();
  await page.waitForSelector('body[data-link="agreed"]');
}

const sources = (page: Page) => page.$$eval('#steps > li.step', (lis) => lis.map((li) => (li as HTMLElement).dataset.source));
const ledgerCell = async (page: Page, scope: 'problem' | 'session', field: string) =>
  Number(await page.textContent(`#ledger-body td[data-scope="${scope}"][data-field="${field}"]`));

beforeAll(async () => {
  const [b, lm, prm] = await Promise.all([buildPage(), tinyModel({ head: 'lm' }), tinyModel({ head: 'value' })]);
  built = b;
  site = await servePage(built.dir, { '/models/tiny-lm/': lm.dir, '/models/tiny-prm/': prm.dir });
  remote = await startOpenAIServer();
  [gpu, noGpu] = await Promise.all([launch({ webgpu: true }), launch({ webgpu: false })]);
}, 300_000);

// The test user has agreed once, in each profile, to links that use the shared loopback remote, as a
// user who follows their own set-up links would; scenarios with other servers meet the question afresh.
beforeAll(async () => {
  for (const b of [gpu, noGpu]) {
    const { page } = await openPage(b.context, pageUrl({ policy: 'weak-only' }));
    await agreeToLink(page, [new URL(remote.url).host]);
    await page.close();
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([gpu?.close(), noGpu?.close(), remote?.close(), site?.close()]);
  built?.cleanup();
});

// SwiftShader and WASM are slow, and CI shares its cores: each scenario gets two minutes.
describe('the page', { timeout: 120_000 }, () => {
  it('builds an initial app bundle within the size target', () => {
    expect(built.report.initial.gzip).toBeLessThanOrEqual(INITIAL_JS_TARGET_GZIP);
    expect(built.report.initial.files.join(' ')).not.toMatch(/worker|ort/);
  });

  it('solves with both sources on WebGPU, its ledger matches the server, it stays responsive, and history survives a reload', async () => {
    remote.respond = (req) => ({ text: `Remote step ${continuedSteps(req).length + 1}: $y^2 = 4$, so $y = 2$.`, chunkDelayMs: 60 });
    const before = remote.generations.length;
    const { page, errors, dialogs } = await openPage(gpu.context, pageUrl({ policy: 'random:0.5', seed: seedFor(['strong', 'accept']), maxSteps: 3, device: 'webgpu' }));
    // SwiftShader has no shader-f16: the WebLLM presets offered are the q4f32 builds.
    const presets = await page.$$eval('#weak-preset option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(presets).toContain('webllm:Qwen2.5-Math-1.5B-Instruct-q4f32_1-MLC');
    expect(presets.join(' ')).not.toContain('q4f16');
    await page.evaluate(() => {
      const w = window as unknown as { ticks: number; statusLog: string[] };
      w.statusLog = [];
      new MutationObserver(() => w.statusLog.push(document.getElementById('weak-status')!.textContent ?? '')).observe(document.getElementById('weak-status')!, {
        childList: true,
        characterData: true,
        subtree: true,
      });
      w.ticks = 0;
      const tick = () => {
        w.ticks++;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    // The demo's example problems come from the organism test set shipped with the page.
    await page.getByRole('button', { name: 'Example problem' }).click();
    await expect.poll(() => page.getByRole('textbox', { name: 'Problem', exact: true }).inputValue()).toMatch(/^Start with \d, then 1\) /);
    const runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
    await page.getByRole('textbox', { name: 'Problem', exact: true }).fill('Solve $x^2 = 4$ for $x > 0$.');
    await page.getByRole('button', { name: 'Solve', exact: true }).click();
    // While it solves, frames keep coming and a button's handler runs.
    await page.waitForSelector('#steps li[data-live]', { timeout: 60_000 });
    const ticks0 = await page.evaluate(() => (window as unknown as { ticks: number }).ticks);
    await page.getByRole('button', { name: 'Copy link to this set-up' }).click();
    await expect.poll(() => page.textContent('#settings-message')).toMatch(/^Link \(no API key in it\)/);
    expect(await page.getAttribute('body', 'data-running')).toBe('true');
    // Frames keep coming: wait for the next ones (a frozen page fails this wait), not for a time.
    await page.waitForFunction((t0) => (window as unknown as { ticks: number }).ticks > t0 + 2, ticks0);
    await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs, { timeout: 120_000 });

    const src = await sources(page);
    expect(src).toContain('weak');
    expect(src).toContain('strong');
    expect(await page.textContent('#steps li[data-source="strong"] .where')).toBe('Remote');
    expect(await page.textContent('#steps li[data-source="weak"] .where')).toBe('On device');
    // KaTeX rendered the remote step's math.
    expect(await page.locator('#steps li[data-source="strong"] .katex').count()).toBeGreaterThan(0);
    expect(await page.textContent('#prm-status')).toMatch(/ready/);
    // Download progress was shown with sizes.
    const log = await page.evaluate(() => (window as unknown as { statusLog: string[] }).statusLog);
    expect(log.some((t) => /^Small model: downloading onnx\/model\.onnx — [\d.]+ KB of [\d.]+ KB$/.test(t)), log.join('\n')).toBe(true);

    const gens = remote.generations.slice(before);
    expect(gens.length).toBe(src.filter((s) => s === 'strong').length);
    expect(await ledgerCell(page, 'problem', 'sentRequests')).toBe(gens.length);
    expect(await ledgerCell(page, 'problem', 'strongTokens')).toBe(gens.reduce((a, g) => a + g.usage!.completion_tokens, 0));
    expect(await ledgerCell(page, 'problem', 'strongPromptTokens')).toBe(gens.reduce((a, g) => a + g.usage!.prompt_tokens, 0));
    expect(await ledgerCell(page, 'problem', 'sentChars')).toBe(gens.reduce((a, g) => a + g.rawBody.length, 0));
    expect(await page.$$eval('#ledger-body pre.body', (pres) => pres.map((p) => p.textContent))).toEqual(gens.map((g) => g.rawBody));
    expect(await page.textContent('#ledger-body .hosts')).toContain(new URL(remote.url).host);
    expect(await ledgerCell(page, 'problem', 'deviceTokens')).toBeGreaterThan(0);


    const stepsBefore = await page.$$eval('#steps > li.step', (lis) => lis.map((li) => li.textContent));
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await page.getByRole('button', { name: 'Solve $x^2 = 4$ for $x > 0$.' }).click();
    expect(await page.$$eval('#steps > li.step', (lis) => lis.map((li) => li.textContent))).toEqual(stepsBefore);
    expect(await ledgerCell(page, 'problem', 'sentRequests')).toBe(gens.length);
    expect(await ledgerCell(page, 'session', 'sentRequests')).toBe(gens.length);
    expect(errors).toEqual([]);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('opens on the offline demo: the organism models solve an example problem on the device and nothing leaves it', async () => {
    // No model parameters: the default preset (public/models/organism: weak model, PRM and strong model).
    const { page, errors } = await openPage(gpu.context, `${site.url}?seed=1`);
    await page.getByRole('button', { name: 'Example problem' }).click();
    await expect.poll(() => page.getByRole('textbox', { name: 'Problem', exact: true }).inputValue()).toMatch(/^Start with \d, then/);
    // A fixed organism problem (one of the test set's shapes) so the screenshot shows the same run each time.
    await solve(page, 'Start with 5, then 1) +2 2) -1 3) -3 4) *2 5) -1 6) -2.');
    expect(await page.textContent('#run-error')).toBe('');
    expect(await page.textContent('#run-status')).toBe('Solved.');
    expect(await page.isVisible('#answer')).toBe(true);
    expect(await page.textContent('#answer-text')).toMatch(/\d/);
    const where = await page.$$eval('#steps > li.step', (lis) => lis.map((li) => (li as HTMLElement).dataset.where));
    expect(where.length).toBeGreaterThan(0);
    expect(where.every((w) => w === 'device')).toBe(true);
    expect(await page.textContent('#weak-status')).toMatch(/ready — tjs:.*organism\/weak/);
    expect(await page.textContent('#strong-status')).toMatch(/ready — tjs:.*organism\/strong/);
    expect(await ledgerCell(page, 'problem', 'sentRequests')).toBe(0);
    expect(await ledgerCell(page, 'problem', 'prmCalls')).toBeGreaterThan(0);
    const shotDir = mkdtempSync(join(tmpdir(), 'trim-shot-'));
    await page.evaluate(() => scrollTo(0, 0));
    await page.setViewportSize({ width: 1280, height: 1300 });
    await page.screenshot({ path: join(shotDir, 'solve.png') });
    if (process.env.TRIM_UPDATE_SCREENSHOT) {
      mkdirSync(resolve(REPO_ROOT, 'test/screenshots'), { recursive: true });
      copyFileSync(join(shotDir, 'solve.png'), resolve(REPO_ROOT, 'test/screenshots/solve.png'));
    }
    rmSync(shotDir, { recursive: true, force: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Stop ends a solve mid-way: it aborts the remote request and local generation, and keeps the transcript', async () => {
    remote.enqueue({ text: 'First remote step.' });
    remote.respond = () => ({ text: 'A slow remote step that keeps going and going and going.', chunkDelayMs: 400 });
    const { page } = await openPage(gpu.context, pageUrl({ policy: 'strong-only', maxSteps: 3 }));
    const before = remote.generations.length;
    const runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
    await page.getByRole('textbox', { name: 'Problem', exact: true }).fill('What is 6 times 7?');
    await page.getByRole('button', { name: 'Solve', exact: true }).click();
    await expect.poll(() => remote.generations.length, { timeout: 60_000 }).toBe(before + 2);
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs, { timeout: 60_000 });
    expect(await page.textContent('#run-status')).toMatch(/Stopped/);
    expect(await sources(page)).toEqual(['strong']);
    await expect.poll(() => remote.generations.at(-1)!.clientClosed).toBe(true);

    // Greedy decoding of the tiny random model runs to the 2048-token cap (seconds on WASM): Stop it early.
    await page.goto(pageUrl({ policy: 'weak-only', maxStepTokens: 2048, maxSteps: 1 }));
    await page.waitForSelector('body[data-ready="true"]');
    const workers: string[] = [];
    page.on('worker', (w) => workers.push(w.url()));
    const runs2 = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
    await page.getByRole('textbox', { name: 'Problem', exact: true }).fill('Count to a thousand.');
    await page.getByRole('button', { name: 'Solve', exact: true }).click();
    await page.waitForSelector('#steps li[data-live] .live-text:not(:empty)', { timeout: 60_000 });
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs2, { timeout: 60_000 });
    expect(await page.textContent('#run-status')).toMatch(/Stopped/);
    // The worker honoured the cancel: a worker still busy 3 s after Stop would have been replaced. This
    // waits for something not to happen, so only a clock can say when: it must outlast the 3 s grace.
    await page.waitForTimeout(4000);
    expect(workers.filter((u) => u.includes('lm.worker'))).toHaveLength(1);
    await page.fill('#max-step-tokens', '32');
    await page.getByRole('button', { name: 'Apply' }).click();
    await solve(page, 'Count to three.');
    expect(workers.filter((u) => u.includes('lm.worker'))).toHaveLength(1);
    expect(await page.textContent('#run-error')).toBe('');
    expect(await ledgerCell(page, 'problem', 'deviceTokens')).toBe(32);
    await forgetSettings(page);
    await page.close();
  });

  it('reports a crashed model worker, keeps the transcript, and carries on with a fresh worker', async () => {
    remote.enqueue({ text: 'Remote step one.' });
    // Step 1 comes from the remote model; step 2 is a long greedy draft on the device, crashed half-way.
    const { page } = await openPage(gpu.context, pageUrl({ policy: 'random:0.5', seed: seedFor(['strong', 'accept']), maxStepTokens: 2048, maxSteps: 2 }));
    const runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
    await page.getByRole('textbox', { name: 'Problem', exact: true }).fill('Crash test');
    await page.getByRole('button', { name: 'Solve', exact: true }).click();
    await page.waitForSelector('#steps li[data-live][data-source="weak"] .live-text:not(:empty)', { timeout: 60_000 });
    const lm = page.workers().find((w) => w.url().includes('lm.worker'))!;
    await lm.evaluate(() => void setTimeout(() => { throw new Error('simulated crash'); }));
    await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs, { timeout: 60_000 });
    expect(await page.textContent('#run-error')).toMatch(/The small model stopped: it crashed \(.*simulated crash\)\. A fresh worker is being started; press Solve to try again\./);
    expect(await sources(page)).toEqual(['strong']);
    await expect.poll(() => page.textContent('#weak-status'), { timeout: 30_000 }).toMatch(/ready/);
    await page.fill('#max-step-tokens', '16');
    await page.getByRole('button', { name: 'Apply' }).click();
    remote.enqueue({ text: 'Remote step one.' });
    await solve(page, 'After the crash');
    expect(await page.textContent('#run-error')).toBe('');
    expect(await sources(page)).toContain('strong');
    await forgetSettings(page);
    await page.close();
  });

  it('asks before a request leaves the device when the user wants to confirm, and keeps the API key out of links, logs and storage', async () => {
    const locked = await startOpenAIServer({ apiKey: 'sk-page-secret' });
    try {
      locked.respond = () => ({ text: 'Remote says \\boxed{5}.' });
      const { page } = await openPage(gpu.context, pageUrl({ policy: 'strong-only', maxSteps: 2, remote: locked.url, confirm: 1 }));
      await agreeToLink(page, [new URL(locked.url).host]);
      await page.fill('#api-key', 'sk-page-secret');
      await page.getByRole('button', { name: 'Apply' }).click();
      expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain('sk-page-secret');
      // Refused: nothing is sent.
      const runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
      await page.getByRole('textbox', { name: 'Problem', exact: true }).fill('What is 2 + 3?');
      await page.getByRole('button', { name: 'Solve', exact: true }).click();
      await page.waitForSelector('#confirm-dialog[open]', { timeout: 60_000 });
      expect(await page.textContent('#confirm-host')).toBe(new URL(locked.url).host);
      expect(await page.textContent('#confirm-body')).toContain('What is 2 + 3?');
      await page.getByRole('button', { name: "Don't send" }).click();
      await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs);
      expect(await page.textContent('#run-error')).toMatch(/You declined to send step text to 127\.0\.0\.1/);
      expect(locked.generations).toHaveLength(0);
      // Accepted: sent with the key in the Authorization header only.
      const runs2 = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
      await page.getByRole('button', { name: 'Solve', exact: true }).click();
      await page.waitForSelector('#confirm-dialog[open]', { timeout: 60_000 });
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs2);
      expect(await page.textContent('#run-error')).toBe('');
      expect(await page.textContent('#answer-text')).toContain('5');
      expect(locked.generations).toHaveLength(1);
      expect(locked.generations[0]!.headers.authorization).toBe('Bearer sk-page-secret');
      expect(page.url()).not.toContain('sk-page-secret');
      const stored = await page.evaluate(async () => {
        const db = await new Promise<IDBDatabase>((ok) => (indexedDB.open('trim-page').onsuccess = (e) => ok((e.target as IDBOpenDBRequest).result)));
        const all = await new Promise<unknown[]>((ok) => (db.transaction('solves').objectStore('solves').getAll().onsuccess = (e) => ok((e.target as IDBRequest).result)));
        return JSON.stringify([all, localStorage, sessionStorage, document.body.innerHTML]);
      });
      expect(stored).toContain('What is 2 + 3?');
      expect(stored).not.toContain('sk-page-secret');
      // Session-only by default: gone after a reload; remembered only when asked.
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.getAttribute('#api-key', 'placeholder')).toBe('Optional');
      await page.fill('#api-key', 'sk-page-secret');
      await page.check('#remember-key');
      await page.getByRole('button', { name: 'Apply' }).click();
      expect(await page.evaluate(() => JSON.stringify(localStorage))).toContain('sk-page-secret');
      await page.getByRole('button', { name: 'Forget the key' }).click();
      expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain('sk-page-secret');
      await forgetSettings(page);
      await page.close();
    } finally {
      await locked.close();
    }
  });

  it('a link cannot redirect the user’s work: another host gets nothing until the user agrees, never the key, and "Ask me" stays on', async () => {
    const mine = await startOpenAIServer({ apiKey: 'sk-mine-0123456789abcdef' });
    const other = await startOpenAIServer();
    try {
      mine.respond = () => ({ text: 'Mine says \\boxed{2}.' });
      other.respond = () => ({ text: 'Other says \\boxed{2}.' });
      // The user sets their remote, key (remembered) and "Ask me" in the form, and applies.
      const { page } = await openPage(gpu.context, pageUrl({ remote: '', policy: 'strong-only', maxSteps: 1 }));
      await page.fill('#remote-url', mine.url);
      await page.fill('#remote-model', 'big');
      await page.selectOption('#remote-mode', 'raw');
      await page.fill('#api-key', 'sk-mine-0123456789abcdef');
      await page.check('#remember-key');
      await page.check('#confirm-remote');
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => page.textContent('#settings-message')).toBe('Settings applied.');
      expect(await page.textContent('#key-status')).toBe(`A key is set for ${new URL(mine.url).host}, remembered in this browser. It is sent to ${new URL(mine.url).host} only.`);

      // Someone sends them a link to another server that also tries to turn confirmation off.
      const link = `${site.url}?${new URLSearchParams({ remote: other.url, remoteModel: 'x', remoteMode: 'raw', strong: '', policy: 'strong-only', confirm: '0', problem: 'What is 1 + 1?' })}`;
      await page.goto(link);
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#link-dialog[open]');
      expect(await page.$$eval('#link-hosts li', (lis) => lis.map((li) => li.textContent))).toEqual([
        `${new URL(other.url).host} — remote model: receives the problem and the steps it is asked to write`,
      ]);
      // Until the user answers, their own settings are in use and the other host has heard nothing.
      expect(await page.inputValue('#remote-url')).toBe(mine.url);
      expect(await page.isChecked('#confirm-remote')).toBe(true);
      expect(await page.textContent('#notices')).toMatch(/confirm=0 was ignored: a link can turn "Ask me before each request" on, never off/);
      expect(other.requests).toHaveLength(0);
      expect(other.preflights).toHaveLength(0);

      // Declining keeps everything of theirs; only the problem text is taken from the link.
      await page.getByRole('button', { name: 'Keep my settings' }).click();
      await page.waitForSelector('body[data-link="declined"]');
      expect(await page.inputValue('#remote-url')).toBe(mine.url);
      expect(await page.getByRole('textbox', { name: 'Problem', exact: true }).inputValue()).toBe('What is 1 + 1?');
      expect(new URL(page.url()).searchParams.get('remote')).toBe(mine.url);
      let runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
      await page.getByRole('button', { name: 'Solve', exact: true }).click();
      await page.waitForSelector('#confirm-dialog[open]', { timeout: 60_000 });
      expect(await page.textContent('#confirm-host')).toBe(new URL(mine.url).host);
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs);
      expect(await page.textContent('#run-error')).toBe('');
      expect(mine.generations).toHaveLength(1);
      expect(mine.generations[0]!.headers.authorization).toBe('Bearer sk-mine-0123456789abcdef');
      expect(other.requests).toHaveLength(0);
      expect(other.preflights).toHaveLength(0);

      // Agreeing: the link's server is used, confirmation stays on, and the key stays with its own server.
      await page.goto(link);
      await page.waitForSelector('body[data-ready="true"]');
      await agreeToLink(page, [new URL(other.url).host]);
      expect(other.requests).toHaveLength(0);
      expect(await page.inputValue('#remote-url')).toBe(other.url);
      expect(await page.isChecked('#confirm-remote')).toBe(true);
      expect(await page.textContent('#key-status')).toMatch(/^No API key for 127\.0\.0\.1:\d+: requests go without one/);
      runs = Number((await page.getAttribute('body', 'data-runs')) ?? 0);
      await page.getByRole('button', { name: 'Solve', exact: true }).click();
      await page.waitForSelector('#confirm-dialog[open]', { timeout: 60_000 });
      expect(await page.textContent('#confirm-host')).toBe(new URL(other.url).host);
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) > n, runs);
      expect(await page.textContent('#run-error')).toBe('');
      expect(other.generations).toHaveLength(1);
      expect(other.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
      // The page did not even ask the other server whether it may send an Authorization header.
      expect(other.preflights.every((p) => !/authorization/i.test(p.headers['access-control-request-headers'] ?? ''))).toBe(true);
      expect(mine.generations).toHaveLength(1);
      await forgetSettings(page);
      await page.close();
    } finally {
      await Promise.all([mine.close(), other.close()]);
    }
  });

  it('removes credential-shaped values under any name, and unknown parameters, from the address bar without echoing them', async () => {
    const key = 'sk-abcdef0123456789abcdef';
    const hf = 'hf_AbCdEfGhIjKlMnOpQrStUvWx';
    const problem = 'A sk-learning task: what is 2 + 2?';
    const { page } = await openPage(gpu.context, `${site.url}?${new URLSearchParams({ k: key, foo: hf, colour: 'red', policy: 'weak-only', problem })}`);
    const params = new URL(page.url()).searchParams;
    expect([...params.keys()]).toEqual(['policy', 'problem']);
    expect(params.get('problem')).toBe(problem);
    expect(page.url()).not.toContain('sk-abc');
    expect(page.url()).not.toContain('hf_');
    expect(await page.getByRole('textbox', { name: 'Problem', exact: true }).inputValue()).toBe(problem);
    const notices = (await page.textContent('#notices')) ?? '';
    expect(notices).toMatch(/Ignored and removed from the address bar: "k", "foo"/);
    expect(notices).toMatch(/Unknown parameter "colour" was ignored and removed from the address bar/);
    expect(notices).not.toContain(key);
    expect(notices).not.toContain(hf);
    // Nothing of them was kept either.
    expect(await page.evaluate(() => JSON.stringify([localStorage, sessionStorage]))).not.toMatch(/sk-abc|hf_AbC/);
    await page.close();
  });

  it('uses the remote a link (or the form) names as the strong model when no strong= is given', async () => {
    const named = await startOpenAIServer();
    try {
      named.respond = () => ({ text: 'The named remote says \\boxed{3}.' });
      // The stored settings are the offline demo's, whose strong model runs on the device.
      const base = { weak: 'tjs:./models/tiny-lm', prm: 'tjs:./models/tiny-prm#value', temperature: '0', maxStepTokens: '24', policy: 'strong-only', maxSteps: '1' };
      const { page } = await openPage(gpu.context, `${site.url}?${new URLSearchParams({ ...base, remote: named.url, remoteModel: 'big', remoteMode: 'raw' })}`);
      await agreeToLink(page, [new URL(named.url).host]);
      expect(await page.inputValue('#strong-spec')).toBe('');
      await solve(page, 'What is 1 + 2?');
      expect(await page.textContent('#run-error')).toBe('');
      expect(await sources(page)).toEqual(['strong']);
      expect(await page.textContent('#steps li[data-source="strong"] .where')).toBe('Remote');
      expect(named.generations).toHaveLength(1);
      // The form: typing a remote over the demo's settings does the same unless the strong field is edited.
      await page.goto(`${site.url}?seed=1`);
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.inputValue('#strong-spec')).toBe('tjs:./models/organism/strong');
      await page.fill('#remote-url', named.url);
      await page.fill('#remote-model', 'big');
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => page.textContent('#settings-message')).toBe('Settings applied.');
      expect(await page.inputValue('#strong-spec')).toBe('');
      await forgetSettings(page);
      await page.close();
    } finally {
      await named.close();
    }
  });

  it('reports a remote 401, 500 and a hung remote clearly, and keeps the transcript', async () => {
    const first = { text: 'Remote step one.' };
    // The hung case uses the page's own timeout setting against a server that accepts and never answers:
    // each try ends on that clock, but the test waits for the run's end (body[data-runs]), not for a time.
    // 5 s leaves the answered first step plenty of room on a loaded machine (1 s once did not).
    const cases: [string, () => void, RegExp, Record<string, number>][] = [
      ['401', () => remote.enqueue(first, { status: 401, message: 'Incorrect API key provided.' }), /answered HTTP 401: Incorrect API key provided\. Check the API key/, {}],
      ['500', () => remote.enqueue(first, ...Array.from({ length: 3 }, () => ({ status: 500, message: 'boom' }))), /is unavailable: .*500/, {}],
      ['hang', () => remote.enqueue(first, ...Array.from({ length: 3 }, () => ({ fault: 'hang' as const }))), /is unavailable: no response within 5 s \(3 tries\)/, { timeout: 5 }],
    ];
    const { page } = await openPage(gpu.context, site.url);
    for (const [name, arrange, message, params] of cases) {
      arrange();
      await page.goto(pageUrl({ policy: 'strong-only', maxSteps: 3, ...params }));
      await page.waitForSelector('body[data-ready="true"]');
      await solve(page, `Problem for the ${name} case`);
      expect(await page.textContent('#run-error'), name).toMatch(message);
      expect(await sources(page), name).toEqual(['strong']);
      const stored = await page.$$eval('.history-list li', (lis) => lis.map((li) => li.textContent ?? ''));
      expect(stored.find((t) => t.includes(`the ${name} case`)), name).toMatch(/1 step, 1 by the strong model \(remote\) · ended with an error/);
      // A server that answers (even with an error, even by hanging) is reachable: nothing is held.
      expect(await page.locator('#steps [data-held]').count(), name).toBe(0);
      expect(await page.isVisible('#network-status'), name).toBe(false);
    }
    await page.close();
  });

  it('shows hostile model and problem text as text and runs nothing', async () => {
    const hostile =
      '<img src=x onerror="window.pwned=1;alert(1)"> <script>window.pwned=2</script> $\\href{javascript:window.pwned=3}{click}$ ' +
      '\\url{javascript:alert(4)} $\\htmlClass{x}{y}$ <a href="javascript:alert(5)">link</a> ' +
      // TeX bombs and KaTeX's trust-gated commands: bounded expansion and sizes, no styles or ids from the model.
      '$\\def\\x{\\x\\x}\\x$ $\\rule{100000em}{100000em}$ $\\htmlStyle{background:url(javascript:alert(9))}{s}$ $\\htmlId{evil}{i}$ ' +
      '$\\includegraphics{x.png}$ \\boxed{<img src=y onerror=alert(6)>}';
    remote.respond = () => ({ text: hostile });
    // thr:0.99 sends every draft of the tiny PRM on: each step shows its discarded draft, and the hostile remote text.
    const { page, dialogs, errors } = await openPage(gpu.context, pageUrl({ policy: 'thr:0.99', maxSteps: 2 }));
    await solve(page, `<img src=z onerror="window.pwned=7"> $\\href{javascript:alert(8)}{x}$`);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    for (const sel of ['#steps', '#answer', '#ledger-body', '#history-body']) {
      expect(await page.locator(`${sel} img, ${sel} script, ${sel} a, ${sel} iframe, ${sel} [onerror], ${sel} #evil`).count(), sel).toBe(0);
    }
    expect(await page.$$eval('#steps [style]', (els) => els.filter((e) => /url\(|javascript/i.test(e.getAttribute('style') ?? '')).length)).toBe(0);
    const drafts = await page.$$eval('#steps li[data-source="strong"] details.draft summary', (ss) => ss.map((x) => x.textContent));
    expect(drafts.length).toBeGreaterThan(0);
    expect(drafts[0]).toMatch(/^Discarded draft from the device · PRM 0\.\d\d · 24 tokens$/);
    const text = await page.textContent('#steps li[data-source="strong"] .step-text');
    expect(text).toContain('<img src=x onerror="window.pwned=1;alert(1)">');
    expect(text).toContain('<script>window.pwned=2</script>');
    expect(await page.textContent('#ledger-body pre.body')).toContain('<img src=z onerror=');
    expect(errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
    await page.close();
  });

  it('without WebGPU says why, solves on WebAssembly with the self-check PRM and a strong model on the device, refuses WebLLM clearly, and clears the model cache', async () => {
    const { page } = await openPage(noGpu.context, pageUrl({ weak: 'tjs:./models/tiny-lm', prm: 'self', policy: 'thr', budget: 30, remote: '', maxSteps: 2 }));
    expect(await page.textContent('#device-status')).toMatch(/^No WebGPU: .*no GPU adapter.*WebAssembly/);
    await solve(page, 'Solve $x^2 = 4$ for $x > 0$.');
    expect((await sources(page)).length).toBeGreaterThan(0);
    expect(await page.textContent('#weak-status')).toMatch(/ready.*wasm/);
    expect(await page.textContent('#run-error')).toBe('');
    // The budget picked the threshold (in the calibration worker).
    expect(await page.textContent('#policy-note')).toMatch(/^Policy thr:0\.\d+: sends about 30% of steps on simulated problems/);
    // The self-check PRM scored the draft with the small model itself.
    expect(await page.textContent('#steps li[data-index="0"] [data-field="score"]')).toMatch(/^PRM [01]\.\d\d$/);
    expect(await ledgerCell(page, 'problem', 'prmCalls')).toBeGreaterThan(0);
    expect(await page.evaluate(() => caches.keys())).toContain('transformers-cache');
    await page.getByRole('button', { name: 'Clear model cache' }).click();
    await expect.poll(() => page.textContent('#settings-message')).toMatch(/Cleared: .*transformers-cache/);
    expect(await page.evaluate(() => caches.keys())).not.toContain('transformers-cache');
    // A strong model on the device: it writes the step, nothing leaves the device, its tokens count there.
    await page.goto(pageUrl({ weak: 'tjs:./models/tiny-lm', strong: 'tjs:./models/tiny-lm', prm: 'none', policy: 'strong-only', remote: '', maxSteps: 1 }));
    await page.waitForSelector('body[data-ready="true"]');
    await solve(page, 'Solve $x^2 = 4$ for $x > 0$.');
    expect(await page.textContent('#run-error')).toBe('');
    expect(await page.textContent('#steps li[data-source="strong"] .where')).toBe('Strong model, on device');
    expect(await page.getAttribute('#steps li[data-source="strong"]', 'data-held')).toBeNull();
    expect(await ledgerCell(page, 'problem', 'deviceTokens')).toBe(24);
    expect(await ledgerCell(page, 'problem', 'strongTokens')).toBe(0);
    expect(await ledgerCell(page, 'problem', 'sentRequests')).toBe(0);
    expect(await page.textContent('#strong-status')).toMatch(/ready/);
    // WebLLM needs WebGPU: the page says so and what to do instead.
    await page.goto(pageUrl({ weak: 'webllm:Qwen2.5-0.5B-Instruct-q4f32_1-MLC', prm: 'self', policy: 'weak-only', remote: '' }));
    await page.waitForSelector('body[data-ready="true"]');
    await solve(page, 'What is 1 + 1?');
    expect(await page.textContent('#run-error')).toMatch(/WebLLM models need WebGPU.*Choose the offline demo or a transformers\.js model/);
    await page.close();
  });

  it('a remote that refuses connections while the browser says online: held, marked steps, the banner, no error; the next solve tries it again', async () => {
    // The organism's small model writes real, short steps (the tiny random one runs into its token cap
    // and ends the solve after one step); strong-only sends every step, so every step is held, and
    // each held step has no draft yet: the small model writes it.
    const { page } = await openPage(
      gpu.context,
      pageUrl({ weak: 'tjs:./models/organism/weak', prm: 'none', policy: 'strong-only', maxSteps: 3, maxStepTokens: 64 }),
    );
    const dead = createHttpServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const proxy = createTcpServer((sock) => {
      const up = connect(Number(new URL(remote.url).port), '127.0.0.1');
      sock.pipe(up).pipe(sock);
      up.on('error', () => sock.destroy());
      sock.on('error', () => up.destroy());
    });
    try {
      // Through the settings form, as a user would point the page at a server that is down.
      await page.fill('#remote-url', `http://127.0.0.1:${port}`);
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => page.textContent('#settings-message')).toBe('Settings applied.');
      expect(await page.evaluate(() => navigator.onLine)).toBe(true);
      await solve(page, 'Start with 5, then 1) +2 2) -1 3) -3.');
      expect(await page.textContent('#run-error')).toBe('');
      expect(await page.textContent('#run-status')).not.toMatch(/error/);
      const held = await page.$$eval('#steps > li.step', (lis) => lis.map((li) => (li as HTMLElement).dataset.held));
      expect(held.length).toBeGreaterThanOrEqual(2);
      expect(held).toEqual(held.map(() => 'unreachable'));
      expect(await sources(page)).toEqual(held.map(() => 'weak'));
      expect(await page.textContent('#steps .held')).toMatch(/could not be reached: this step would have been sent/);
      expect(await page.isVisible('#network-status')).toBe(true);
      expect(await page.textContent('#network-status')).toContain(`The remote model at 127.0.0.1:${port} cannot be reached, so routing to it is paused for this solve`);
      // Step 1 tried three times (the page retries twice); step 2 was held without waiting on retries again.
      expect(await ledgerCell(page, 'problem', 'sentRequests')).toBe(3);
      expect((await page.$$eval('.history-list li', (lis) => lis.map((li) => li.textContent ?? ''))).find((t) => t.includes('Start with 5'))).not.toMatch(/error/);

      // The server comes back on that port (forwarding to the loopback remote): the next solve uses it.
      await new Promise<void>((r, fail) => proxy.once('error', fail).listen(port, '127.0.0.1', () => r()));
      remote.respond = () => ({ text: 'Remote says \\boxed{4}.' });
      const before = remote.generations.length;
      await solve(page, 'Back again: what is 2 + 2?');
      expect(await page.textContent('#run-error')).toBe('');
      expect(await sources(page)).toEqual(['strong']);
      expect(remote.generations.length).toBe(before + 1);
      expect(await page.locator('#steps [data-held]').count()).toBe(0);
      expect(await page.isVisible('#network-status')).toBe(false);
    } finally {
      proxy.close();
      await forgetSettings(page);
      await page.close();
    }
  });

  it('offline: the shell loads from the service worker, remote steps are held, and a local-only solve works', async () => {
    const { page } = await openPage(gpu.context, pageUrl({ policy: 'thr:0.99', maxSteps: 2 }));
    // The service worker installed on the first visit of this profile; wait until it controls the page.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    const before = remote.requests.length;
    await site.close();
    await gpu.context.setOffline(true);
    try {
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      await solve(page, 'Offline: what is 2 + 2?');
      expect(await page.textContent('#run-error')).toBe('');
      expect(await page.textContent('#run-status')).not.toMatch(/error/);
      const held = await page.$$eval('#steps > li.step', (lis) => lis.map((li) => (li as HTMLElement).dataset.held));
      expect(held.length).toBeGreaterThan(0);
      // A browser that knows it is offline holds without trying ('offline'); Chromium 150 under offline
      // emulation keeps navigator.onLine true, and the failed request holds the steps ('unreachable').
      const reason = await page.evaluate(() => (navigator.onLine ? 'unreachable' : 'offline'));
      expect(held).toEqual(held.map(() => reason));
      expect(await page.textContent('#steps .held')).toMatch(/would have been sent/);
      expect(await page.isVisible('#network-status')).toBe(true);
      expect(await page.textContent('#network-status')).toMatch(reason === 'offline' ? /^Offline: routing to the remote model is paused/ : /cannot be reached, so routing to it is paused/);
      expect(remote.requests.length).toBe(before);
    } finally {
      await gpu.context.setOffline(false);
    }
  });
});

// "Check my work" in the built page (headless Chromium, WebAssembly): the organism demo's checker (its
// strong model read by lm-likelihood, chosen automatically as its folder records a calibrated threshold;
// or the PRM, chosen beside the threshold or when no strong model is on the device) scores a student's
// solution on the device, the wrong step is flagged, nothing leaves the device while checking, and a
// hint request (to a loopback OpenAI-compatible server) holds only the steps up to the flagged one.
// The solution's mistake ("8+1=3") was picked because both checkers score it far under their thresholds
// (PRM 0.007 at step 2 against 0.999 for step 1, measured with `trim score`; strong model 5e-8 against
// 0.99996, `trim check --prm-lm`), so the test does not hang on exact scores.

import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibratedThreshold } from '../src/app/check-state.ts';
import { DEMO_PRM, DEMO_STRONG } from '../src/app/settings.ts';
import type { StaticServer } from '../src/cli/static-server.ts';
import { checkSolution } from '../src/organism/checker.ts';
import { startOpenAIServer, type TestServer } from './helpers/openai-server.ts';
import { buildPage, launch, openPage, servePage, type Browser } from './helpers/page.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const PROBLEM = 'Start with 5, then 1) +3 2) +1 3) -8 4) +2 5) -1.';
// Step 2 is wrong (8+1 is 9); the student carries the wrong value on correctly.
const STEPS = ['1) 5+3=8', '2) 8+1=3', '3) 3-8=-5', '4) -5+2=-3', '5) -3-1=\\boxed{-4}'];
const FLAGGED = 1;

let built: Awaited<ReturnType<typeof buildPage>>;
let site: StaticServer;
let remote: TestServer;
let browser: Browser;

function checkUrl(params: Record<string, string> = {}): string {
  const q = new URLSearchParams({ mode: 'check', problem: PROBLEM, solution: STEPS.join('\n'), ...params });
  return `${site.url}?${q}`;
}

/** The loopback server writes hints; the demo's strong model on the device is switched off. */
const remoteParams = () => ({ remote: remote.url, remoteModel: 'big', remoteMode: 'continue', strong: '' });

async function check(page: Page): Promise<void> {
  const n = Number((await page.getAttribute('body', 'data-checks')) ?? 0);
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await page.waitForFunction((k) => Number(document.body.dataset.checks ?? 0) > k, n, { timeout: 120_000 });
  expect(await page.textContent('#check-error')).toBe('');
}

const steps = (page: Page) =>
  page.$$eval('#check-steps > li', (lis) =>
    lis.map((li) => ({ score: Number((li as HTMLElement).dataset.score), flagged: (li as HTMLElement).dataset.flagged ?? null, verdict: (li as HTMLElement).dataset.verdict })),
  );
const ledgerCell = async (page: Page, field: string) => Number(await page.textContent(`#ledger-body td[data-scope="problem"][data-field="${field}"]`));

beforeAll(async () => {
  built = await buildPage();
  site = await servePage(built.dir, {});
  remote = await startOpenAIServer();
  browser = await launch({ webgpu: false });
  // The test user has agreed once to links that use the loopback remote (see test/page.browser.test.ts).
  const { page } = await openPage(browser.context, checkUrl(remoteParams()));
  await page.waitForSelector('#link-dialog[open]');
  await page.getByRole('button', { name: 'Use these settings' }).click();
  await page.waitForSelector('body[data-link="agreed"]');
  await page.close();
}, 300_000);

afterAll(async () => {
  await Promise.all([browser?.close(), remote?.close(), site?.close()]);
  built?.cleanup();
});

describe('check my work', { timeout: 150_000 }, () => {
  it('flags the wrong step on the organism demo with nothing sent, re-scores only an edited last step, and offers a corrected step from the device', async () => {
    remote.reset();
    const { page, errors } = await openPage(browser.context, checkUrl());
    // The link opens the mode with the student's solution in place.
    expect(await page.isChecked('#mode-switch input[value="check"]')).toBe(true);
    expect(await page.isVisible('#check-panel')).toBe(true);
    expect(await page.isVisible('#solve-button')).toBe(false);
    expect(await page.inputValue('#solution')).toBe(STEPS.join('\n'));
    await check(page);
    const first = await steps(page);
    expect(first).toHaveLength(STEPS.length);
    expect(first.every((s) => s.score >= 0 && s.score <= 1)).toBe(true);
    expect(first.map((s) => s.flagged)).toEqual(STEPS.map((_, i) => (i === FLAGGED ? 'true' : null)));
    expect(first.map((s) => s.verdict)).toEqual(['looks-right', 'check-this', 'after-flagged', 'after-flagged', 'after-flagged']);
    expect(await page.textContent('#check-steps > li[data-flagged="true"]')).toContain('Look here first');
    // Automatic: the demo's strong model, whose folder records a calibrated threshold, is the checker.
    expect(await page.inputValue('#checker')).toBe('auto');
    expect(await page.textContent('#flag-threshold-note')).toMatch(/^Checker: the strong model on this device/);
    const full = { scored: await page.getAttribute('#check-steps', 'data-scored'), ms: Number(await page.getAttribute('#check-steps', 'data-ms')) };
    expect(full.scored).toBe('5');
    // Nothing left the device: no request reached the server, the ledger says 0, and the PRM ran here.
    expect(remote.requests).toHaveLength(0);
    expect(remote.preflights).toHaveLength(0);
    expect(await ledgerCell(page, 'sentRequests')).toBe(0);
    expect(await ledgerCell(page, 'prmCalls')).toBe(STEPS.length);
    expect(await page.textContent('#ledger-body')).toContain('No request left this device for this problem.');

    // Editing the last step re-scores that step only; the others keep their scores.
    const edited = [...STEPS.slice(0, -1), '5) -3 - 1 = \\boxed{-4}'];
    await page.fill('#solution', edited.join('\n'));
    await check(page);
    expect(await page.getAttribute('#check-steps', 'data-scored')).toBe('1');
    expect(await page.textContent('#check-status')).toMatch(/^Scored 1 of 5 steps in \d+ ms \(4 kept from the last check\)\./);
    const again = await steps(page);
    expect(again.slice(0, -1).map((s) => s.score)).toEqual(first.slice(0, -1).map((s) => s.score));
    expect(again[FLAGGED]!.flagged).toBe('true');
    const recheckMs = Number(await page.getAttribute('#check-steps', 'data-ms'));
    console.log(`check my work (organism strong model by lm-likelihood, WASM): full check of 5 steps ${full.ms} ms, re-check after editing the last step ${recheckMs} ms`);

    // The demo's strong model is on the device and cannot write hints: it writes step 2 again.
    expect(await page.textContent('#help-button')).toBe('Show a corrected step');
    const helps = Number((await page.getAttribute('body', 'data-helps')) ?? 0);
    await page.click('#help-button');
    await page.waitForFunction((k) => Number(document.body.dataset.helps ?? 0) > k, helps);
    expect(await page.getAttribute('#help-text', 'data-kind')).toBe('corrected');
    expect(await page.textContent('#help-text .step-text')).toMatch(/^2\)/);
    expect(remote.requests).toHaveLength(0);
    expect(await ledgerCell(page, 'sentRequests')).toBe(0);
    expect(errors).toEqual([]);

    if (process.env.TRIM_UPDATE_SCREENSHOT) {
      await page.setViewportSize({ width: 1100, height: 1000 });
      await page.locator('#solve').screenshot({ path: resolve(built.dir, 'check.png') });
      mkdirSync(resolve(REPO_ROOT, 'test/screenshots'), { recursive: true });
      copyFileSync(resolve(built.dir, 'check.png'), resolve(REPO_ROOT, 'test/screenshots/check.png'));
    }
    await page.close();
  });

  it('asks before the hint request leaves, which holds only the steps up to the flagged one, and shows the hint', async () => {
    remote.reset();
    remote.respond = () => ({ text: 'Look again at what 8 + 1 makes.' });
    const { page, errors } = await openPage(browser.context, checkUrl(remoteParams()));
    await check(page);
    expect((await steps(page)).findIndex((s) => s.flagged === 'true')).toBe(FLAGGED);
    expect(remote.requests).toHaveLength(0);
    expect(await ledgerCell(page, 'sentRequests')).toBe(0);
    expect(await page.textContent('#help-button')).toBe('Get a hint for this step');
    // "Ask me" is on by default in this mode: the dialog shows the exact body first.
    expect(await page.isChecked('#check-confirm')).toBe(true);
    // Refused: nothing is sent, nothing is lost.
    const refused = Number((await page.getAttribute('body', 'data-helps')) ?? 0);
    await page.click('#help-button');
    await page.waitForSelector('#confirm-dialog[open]');
    await page.getByRole('button', { name: "Don't send" }).click();
    await page.waitForFunction((k) => Number(document.body.dataset.helps ?? 0) > k, refused);
    expect(await page.textContent('#help-text')).toMatch(/You declined to send your steps to 127\.0\.0\.1:\d+; nothing was sent/);
    expect(remote.requests).toHaveLength(0);
    expect(remote.preflights).toHaveLength(0);
    expect(await ledgerCell(page, 'sentRequests')).toBe(0);
    expect(await page.locator('#check-steps > li[data-flagged="true"]').count()).toBe(1);
    // Accepted.
    const helps = Number((await page.getAttribute('body', 'data-helps')) ?? 0);
    await page.click('#help-button');
    await page.waitForSelector('#confirm-dialog[open]');
    const shown = (await page.textContent('#confirm-body'))!;
    expect(remote.requests).toHaveLength(0);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForFunction((k) => Number(document.body.dataset.helps ?? 0) > k, helps);
    expect(await page.getAttribute('#help-text', 'data-kind')).toBe('hint');
    expect(await page.textContent('#help-text')).toContain('Look again at what 8 + 1 makes.');
    // The server got the problem, step 1 and the flagged step 2, and no later step.
    expect(remote.generations).toHaveLength(1);
    const sent = remote.generations[0]!;
    expect(sent.rawBody).toBe(shown);
    const text = JSON.stringify(sent.body.messages);
    expect(text).toContain(PROBLEM);
    for (const s of STEPS.slice(0, FLAGGED + 1)) expect(text).toContain(JSON.stringify(s).slice(1, -1));
    for (const s of STEPS.slice(FLAGGED + 1)) expect(text).not.toContain(JSON.stringify(s).slice(1, -1));
    // The ledger shows that one request and its exact body.
    expect(await ledgerCell(page, 'sentRequests')).toBe(1);
    expect(await ledgerCell(page, 'sentChars')).toBe(sent.rawBody.length);
    expect(await page.textContent('#ledger-body .transmission .body')).toBe(sent.rawBody);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the flag threshold is a setting: its default is the checker folder\'s calibrated one, a new value re-reads the verdicts without scoring, and it is kept', async () => {
    const { page } = await openPage(browser.context, checkUrl());
    await check(page);
    // Whatever the demo strong model's folder carries now (training/train.py --stage flags records it).
    const config = JSON.parse(readFileSync(resolve(REPO_ROOT, 'public', DEMO_STRONG, 'config.json'), 'utf8'));
    expect(calibratedThreshold(config).source).toBe('calibrated');
    const k = calibratedThreshold(config).threshold;
    expect(Number(await page.getAttribute('#flag-threshold', 'placeholder'))).toBeCloseTo(k, k < 0.01 ? 5 : 3);
    const prmCalls = await ledgerCell(page, 'prmCalls');
    // Every score is below 1: the first step becomes the flagged one.
    await page.fill('#flag-threshold', '1');
    await page.dispatchEvent('#flag-threshold', 'change');
    await page.waitForSelector('#check-steps > li[data-index="0"][data-flagged="true"]');
    expect(await page.locator('#check-steps > li[data-flagged="true"]').count()).toBe(1);
    expect(await ledgerCell(page, 'prmCalls')).toBe(prmCalls);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.inputValue('#flag-threshold')).toBe('1');
    await page.fill('#flag-threshold', '');
    await page.dispatchEvent('#flag-threshold', 'change');
    expect(await page.evaluate(() => localStorage.getItem('trim.flagThreshold'))).toBeNull();
    await page.close();
  });

  it('the PRM as the checker (chosen beside the threshold): its calibrated threshold, the same step flagged, and the choice is kept', async () => {
    const { page, errors } = await openPage(browser.context, checkUrl());
    await page.selectOption('#checker', 'prm');
    await check(page);
    expect((await steps(page)).findIndex((s) => s.flagged === 'true')).toBe(FLAGGED);
    expect(await page.textContent('#flag-threshold-note')).toMatch(/^Checker: the PRM\./);
    if (DEMO_PRM.kind !== 'tjs') throw new Error('the demo PRM is expected to be a transformers.js folder');
    const config = JSON.parse(readFileSync(resolve(REPO_ROOT, 'public', DEMO_PRM.url, 'config.json'), 'utf8'));
    expect(Number(await page.getAttribute('#flag-threshold', 'placeholder'))).toBeCloseTo(calibratedThreshold(config).threshold, 3);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.inputValue('#checker')).toBe('prm');
    await page.selectOption('#checker', 'auto');
    expect(await page.evaluate(() => localStorage.getItem('trim.checker'))).toBeNull();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('checks with the self-check PRM too (the small model judges each step), nothing sent', async () => {
    remote.reset();
    const { page, errors } = await openPage(browser.context, checkUrl({ prm: 'self' }));
    // Automatic would take the demo's strong model: the PRM of the settings (self-check) is asked for.
    await page.selectOption('#checker', 'prm');
    await check(page);
    const got = await steps(page);
    expect(got).toHaveLength(STEPS.length);
    expect(got.every((s) => s.score >= 0 && s.score <= 1)).toBe(true);
    expect(await page.textContent('#check-status')).toMatch(/^Scored 5 of 5 steps in \d+ ms\./);
    expect(remote.requests).toHaveLength(0);
    expect(await ledgerCell(page, 'sentRequests')).toBe(0);
    await page.selectOption('#checker', 'auto');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fills a problem and a solution with one wrong step from the example set', async () => {
    const { page } = await openPage(browser.context, `${site.url}?mode=check`);
    await page.getByRole('button', { name: 'Example with a mistake' }).click();
    await expect.poll(() => page.inputValue('#solution')).toMatch(/^1\) \d+[+*-]\d=\d+\n2\) /);
    expect(await page.inputValue('#problem')).toMatch(/^Start with \d, then 1\) /);
    const solution = (await page.inputValue('#solution')).split('\n');
    expect(solution.at(-1)).toMatch(/\\boxed\{-?\d+\}$/);
    // One slip: the organism checker finds a first wrong step (the rest carry on from it).
    const verdict = checkSolution(await page.inputValue('#problem'), solution);
    expect(verdict.firstError).not.toBeNull();
    expect(verdict.steps.filter((s) => s.label === 'first-wrong')).toHaveLength(1);
    await page.close();
  });

  it('a remote that refuses connections while the browser says online: the hint is held, the flag and the steps stay', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const { page } = await openPage(browser.context, checkUrl({ ...remoteParams(), remote: `http://127.0.0.1:${port}`, timeout: '5' }));
    await page.waitForSelector('#link-dialog[open]');
    await page.getByRole('button', { name: 'Use these settings' }).click();
    await page.waitForSelector('body[data-link="agreed"]');
    await check(page);
    const helps = Number((await page.getAttribute('body', 'data-helps')) ?? 0);
    await page.click('#help-button');
    await page.waitForSelector('#confirm-dialog[open]');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForFunction((k) => Number(document.body.dataset.helps ?? 0) > k, helps);
    expect(await page.textContent('#help-text')).toMatch(/^The remote model cannot be reached \(.+\), so the hint is held\. Your steps and scores are kept/);
    expect(await page.getAttribute('#check-steps > li[data-flagged="true"]', 'data-index')).toBe(String(FLAGGED));
    expect(await page.isEnabled('#help-button')).toBe(true);
    await page.close();
  });

  // Last: it closes the page's server.
  it('offline: checking scores and flags on the device, and the hint is held with nothing lost', async () => {
    remote.reset();
    const { page } = await openPage(browser.context, checkUrl(remoteParams()));
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    // Used once online, as anyone would before going offline: the models are then in the browser's cache.
    await check(page);
    await site.close();
    await browser.context.setOffline(true);
    try {
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      await check(page);
      expect((await steps(page)).findIndex((s) => s.flagged === 'true')).toBe(FLAGGED);
      const helps = Number((await page.getAttribute('body', 'data-helps')) ?? 0);
      await page.click('#help-button');
      // A browser that knows it is offline holds without asking; one that does not (Chromium under
      // offline emulation keeps navigator.onLine true) asks first, and the failed request holds it.
      const online = await page.evaluate(() => navigator.onLine);
      if (online) {
        await page.waitForSelector('#confirm-dialog[open]');
        await page.getByRole('button', { name: 'Send', exact: true }).click();
      }
      await page.waitForFunction((k) => Number(document.body.dataset.helps ?? 0) > k, helps);
      expect(await page.textContent('#help-text')).toMatch(/the hint is held\. Your steps and scores are kept/);
      expect(await page.getAttribute('#check-steps > li[data-flagged="true"]', 'data-index')).toBe(String(FLAGGED));
      expect(await page.inputValue('#solution')).toBe(STEPS.join('\n'));
      expect(remote.requests).toHaveLength(0);
    } finally {
      await browser.context.setOffline(false);
      await page.close();
    }
  });
});

// The transformers.js step model and PRM in headless Chromium: the same tiny models and the same calls
// (test/browser/tjs-plan.ts) on WebGPU (SwiftShader) and on WASM give Node's numbers within 1e-3, with
// the KV caches kept in GPU buffers on WebGPU (the rollback-by-mark path a CPU run never takes). The
// first calls run more than 32 new tokens: where ONNX Runtime's WebGPU attention goes wrong on SwiftShader
// unless its subgroup features are held back (src/backends/webgpu-subgroups.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHarnessPage } from './helpers/harness-page.ts';
import { startStaticServer, type StaticServer } from '../src/cli/static-server.ts';
import { runTjsPlan, SCORE_SEQUENCE, type TjsPlan, type TjsPlanResult } from './browser/tjs-plan.ts';
import { tinyModel } from './helpers/fixtures.ts';
import { launch, type Browser } from './helpers/page.ts';
import { FIXTURE_CACHE, REPO_ROOT } from './helpers/paths.ts';
import { scriptedLm } from './helpers/scripted-lm.ts';

const TOL = 1e-3;
let outDir: string;
let site: StaticServer;
let browser: Browser;
let folders: { lm: string; scripted: string; value: string; twoClass: string };
let node: TjsPlanResult;

/** A fixture folder as the page fetches it. */
const url = (dir: string) => `/models/${dir.slice(dir.lastIndexOf('/') + 1)}`;

const ALL_PRMS = ['value', 'two-class', 'lm-tag'] as const;

/**
 * WASM runs every part. SwiftShader compiles and runs WebGPU kernels slowly (tens of seconds per
 * model), so WebGPU runs the random model and one PRM: both caches in GPU buffers, and the PRM's
 * regenerated step rolls back to its mark there.
 */
function plan(device: TjsPlan['device'], at: (dir: string) => string, prms: readonly (typeof ALL_PRMS)[number][] = ALL_PRMS, scripted = true): TjsPlan {
  const folder = { value: folders.value, 'two-class': folders.twoClass, 'lm-tag': folders.lm };
  return {
    device,
    lm: at(folders.lm),
    ...(scripted ? { scripted: at(folders.scripted) } : {}),
    prms: prms.map((head) => ({ model: at(folder[head]), head })),
  };
}

beforeAll(async () => {
  const [lm, value, twoClass, scripted] = await Promise.all([
    tinyModel({ head: 'lm', precisions: ['fp32', 'q4'], seed: 7 }),
    tinyModel({ head: 'value', precisions: ['fp32', 'q4'], seed: 7 }),
    tinyModel({ head: 'two-class', precisions: ['fp32', 'q4'], seed: 7 }),
    scriptedLm(),
  ]);
  folders = { lm: lm.dir, scripted: scripted.dir, value: value.dir, twoClass: twoClass.dir };
  node = await runTjsPlan(plan('cpu', (d) => d));
  outDir = mkdtempSync(join(tmpdir(), 'trim-tjs-page-'));
  const root = resolve(REPO_ROOT, 'test/browser');
  await buildHarnessPage({ root, html: 'tjs.html', outDir });
  site = await startStaticServer({ dir: outDir, mounts: { '/models/': FIXTURE_CACHE } });
  browser = await launch({ webgpu: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

async function inBrowser(p: TjsPlan): Promise<TjsPlanResult & { adapter: string | null }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${site.url}/tjs.html`);
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
    const out = await page.evaluate((p) => window.tjsRun(p), p);
    expect(errors).toEqual([]);
    return out;
  } finally {
    await page.close();
  }
}

function expectAgreement(got: TjsPlanResult): void {
  // The scripted model's output is exact, and its cache reuse the same token for token.
  if (got.scripted.length) {
    expect(got.scripted).toEqual(node.scripted);
    expect(got.scripted.map((s) => s.text)).toEqual(['x=1', 'y+', 'w']);
  }
  expect(got.lm.map((g) => g.text)).toEqual(node.lm.map((g) => g.text));
  got.lm.forEach((g, i) => g.logprobs.forEach((lp, j) => expect(Math.abs(lp - node.lm[i]!.logprobs[j]!)).toBeLessThan(TOL)));
  got.probe.forEach((p, i) => expect(Math.abs(p - node.probe[i]!)).toBeLessThan(TOL));
  for (const [head, scores] of Object.entries(got.prm)) {
    expect(scores).toHaveLength(SCORE_SEQUENCE.length);
    scores.forEach((call, i) => {
      expect(call).toHaveLength(SCORE_SEQUENCE[i]!.length);
      call.forEach((s, j) => expect(Math.abs(s - node.prm[head]![i]![j]!), `${head} call ${i} step ${j}`).toBeLessThan(TOL));
    });
  }
}

describe('transformers.js backends in Chromium', () => {
  it('run on WebGPU (SwiftShader) with GPU-resident KV caches and agree with Node within 1e-3', async () => {
    const got = await inBrowser(plan('webgpu', url, ['value'], false));
    expect(got.adapter).toBe('swiftshader');
    expect(got.kvOnGpu).toEqual([true, true]);
    expect(Object.keys(got.prm)).toEqual(['value']);
    expectAgreement(got);
  }, 240_000);

  it('run on WASM and agree with Node within 1e-3', async () => {
    const got = await inBrowser(plan('wasm', url));
    expect(got.kvOnGpu).toEqual([false, false, false, false, false]);
    expect(Object.keys(got.prm)).toEqual(['value', 'two-class', 'lm-tag']);
    expectAgreement(got);
  }, 240_000);
});

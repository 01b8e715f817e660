// npm run bench:real-size — random-weight models at the exact shapes of Qwen2.5-0.5B-Instruct (the small
// model, lm head) and Skywork-o1-Open-PRM-Qwen-2.5-1.5B (value head), q4, written as `trim convert`
// writes a checkpoint, run through the loaders the CLI and the page use:
//   Node (onnxruntime-node, CPU): load time, peak RSS, decode ms/token, PRM ms per step at 5/10/30
//     steps of 60 tokens, incremental against full re-scoring;
//   headless Chromium (WASM; WebGPU on SwiftShader): the page's model workers and browser cache, models
//     from a loopback static server: load time, peak RSS of Chromium's processes, decode ms/token,
//     PRM ms per step, and a second load from the cache;
//   the page itself, on WASM, solving a short problem with both models.
// About 70 minutes on 2 cores, most of it SwiftShader's; a benchmark, not a test. Flags: --skip-node,
// --skip-browser, --skip-wasm, --skip-webgpu, --skip-lm (browser), --skip-page, --browser-points 5,10,30 (PRM
// points on WASM), --webgpu-points 5,10,30, --webgpu-decode-tokens 2 (tokens the small model samples for its
// decode timing on WebGPU), --webgpu-limit-min 120 (minutes each model's first run on WebGPU may take before
// it is stopped; its row keeps what was measured), --skip-prm (the full-depth PRM in the browser),
// --webgpu-depth-proxy LAYERS (also runs, on WebGPU, the PRM's widths with only LAYERS layers at 5/10/30
// steps, then a same-shape probe: the per-step curve in minutes instead of an hour).

import { execFileSync, spawn } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';

import { buildHarnessPage } from '../helpers/harness-page.ts';
import { startStaticServer } from '../../src/cli/static-server.ts';
import { buildPage, CHROMIUM, launch, openPage, type Browser } from '../helpers/page.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { depthProxy, PRM, PROXY_CACHE_ROOT, realSizeModels, SMALL } from './real-size/models.ts';
import type { BenchAnswer, BenchAsk, BenchProgress } from './real-size/bench-page.ts';
import { DECODE_TOKENS, PRM_POINTS, type PointTimes, type ProbeTimes } from './real-size/workload.ts';

const { values: flags } = parseArgs({
  options: {
    'skip-node': { type: 'boolean' },
    'skip-browser': { type: 'boolean' },
    'skip-webgpu': { type: 'boolean' },
    'skip-wasm': { type: 'boolean' },
    'skip-lm': { type: 'boolean' },
    'skip-prm': { type: 'boolean' },
    'webgpu-depth-proxy': { type: 'string' },
    'skip-page': { type: 'boolean' },
    'browser-points': { type: 'string' },
    'webgpu-points': { type: 'string' },
    'webgpu-decode-tokens': { type: 'string' },
    'webgpu-limit-min': { type: 'string' },
  },
});
const points = (flag: string | undefined, d: readonly number[]) => (flag ? flag.split(',').map(Number) : [...d]);
const pointsFor = { wasm: points(flags['browser-points'], PRM_POINTS), webgpu: points(flags['webgpu-points'], PRM_POINTS) };
// SwiftShader runs a 1.5B model's forward pass on the CPU through a GPU emulator: a decoded token there
// costs about a minute, so two of them give ms/token.
const decodeTokensFor = { wasm: DECODE_TOKENS, webgpu: Number(flags['webgpu-decode-tokens'] ?? 2) };
// A model's first-load run there is stopped after this many minutes (the PRM's 30 steps took 51 here);
// the row keeps what it measured.
const limitMinFor = { wasm: Infinity, webgpu: Number(flags['webgpu-limit-min'] ?? 120) };
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

interface Row {
  where: string;
  model: string;
  loadS: string;
  memMB: string;
  decode: string;
  prm: string;
  note: string;
}
const rows: Row[] = [];
const fmtMs = (x: number | undefined) => (x === undefined ? '–' : x >= 10_000 ? `${(x / 1000).toFixed(0)} s` : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`);
const perPoint = (r: Record<number, number> | undefined, pts: readonly number[]) => (r ? pts.map((p) => `${p}:${fmtMs(r[p])}`).join(' ') : '–');
/** "5:11 s (cpu 9.8 s) …": the CPU time shows the work itself when other jobs stretch the wall time. */
const perPointCpu = (r: PointTimes | undefined, pts: readonly number[]) =>
  r ? pts.map((p) => `${p}:${fmtMs(r.ms[p])}${r.cpuMs?.[p] !== undefined ? ` (cpu ${fmtMs(r.cpuMs[p])})` : ''}`).join(' ') : '–';

const dirs = await realSizeModels([SMALL, PRM], log);
const sizeMB = (dir: string) => Math.round(readdirSync(join(dir, 'onnx')).reduce((s, f) => s + Number(execFileSync('stat', ['-c', '%s', join(dir, 'onnx', f)]).toString()), 0) / 2 ** 20);
const proxy = flags['webgpu-depth-proxy'] ? depthProxy(Number(flags['webgpu-depth-proxy'])) : null;
const proxyDir = proxy ? (await realSizeModels([proxy], log, PROXY_CACHE_ROOT))[proxy.id]! : null;
log(`models: ${SMALL.id} ${sizeMB(dirs[SMALL.id]!)} MiB of onnx files, ${PRM.id} ${sizeMB(dirs[PRM.id]!)} MiB (${readdirSync(join(dirs[PRM.id]!, 'onnx')).join(', ')})`);

// ---- Node --------------------------------------------------------------------------------------
async function nodeRun(kind: 'lm' | 'prm', dir: string): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'test/bench/real-size/node-run.ts'), kind, dir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`node-run ${kind} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!);
}

if (!flags['skip-node']) {
  log('Node: small model …');
  const lm = (await nodeRun('lm', dirs[SMALL.id]!)) as { loadMs: number; peakRssMB: number; msPerToken: number; tokens: number };
  rows.push({ where: 'Node, CPU', model: '0.5B lm', loadS: fmtMs(lm.loadMs), memMB: `${lm.peakRssMB}`, decode: `${lm.msPerToken.toFixed(0)} ms`, prm: '', note: `RSS peak of the process; ${lm.tokens} tokens` });
  log(JSON.stringify(lm));
  log('Node: PRM, incremental then full …');
  const prm = (await nodeRun('prm', dirs[PRM.id]!)) as { loadMs: number; peakRssMB: number; incremental: PointTimes; full: Record<number, number> };
  rows.push({ where: 'Node, CPU', model: '1.5B value PRM', loadS: fmtMs(prm.loadMs), memMB: `${prm.peakRssMB}`, decode: '', prm: `incremental ${perPointCpu(prm.incremental, PRM_POINTS)}`, note: `full re-scoring ${perPoint(prm.full, PRM_POINTS)}` });
  log(JSON.stringify(prm));
}

// ---- Chromium ----------------------------------------------------------------------------------
/** Chromium's processes of this profile (their command lines name its folder). */
function chromiumPids(profileMarker: string): string[] {
  return readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(profileMarker);
    } catch {
      return false; // the process ended between the listing and the read
    }
  });
}

/** CPU time (user + system) used so far by every Chromium process of this profile, in ms. */
function chromiumCpuMs(profileMarker: string): number {
  let ticks = 0;
  for (const pid of chromiumPids(profileMarker)) {
    try {
      // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (1/100 s).
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // the process ended
    }
  }
  return ticks * 10;
}

/** Resident memory of every Chromium process of this profile (browser, renderer, GPU), sampled. */
function chromiumRssMB(profileMarker: string): number {
  let kb = 0;
  for (const pid of chromiumPids(profileMarker)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // the process ended
    }
  }
  return Math.round(kb / 1024);
}

async function withPeak<T>(browser: Browser, run: () => Promise<T>): Promise<{ value: T; peakMB: number }> {
  const marker = `--user-data-dir=${browser.profile}`;
  let peak = chromiumRssMB(marker);
  const timer = setInterval(() => (peak = Math.max(peak, chromiumRssMB(marker))), 500);
  try {
    const value = await run();
    return { value, peakMB: Math.max(peak, chromiumRssMB(marker)) };
  } finally {
    clearInterval(timer);
  }
}

/** What the page reported before its run ended or was stopped. */
interface Heard {
  loadMs?: number;
  steps: Record<number, { ms: number; cpuMs?: number }>;
}

async function benchPage(browser: Browser, url: string, heard: Heard = { steps: {} }): Promise<Page> {
  const page = await browser.context.newPage();
  await page.exposeFunction('chromiumCpuMs', () => chromiumCpuMs(`--user-data-dir=${browser.profile}`));
  await page.exposeFunction('benchProgress', (e: BenchProgress) => {
    if ('loadMs' in e) heard.loadMs = e.loadMs;
    else {
      heard.steps[e.step] = { ms: e.ms, ...(e.cpuMs !== undefined ? { cpuMs: e.cpuMs } : {}) };
      // Every call, not only the table's points: the whole curve, to tell growth from a busy moment.
      log(`  step ${e.step}: ${fmtMs(e.ms)}${e.cpuMs !== undefined ? ` (cpu ${fmtMs(e.cpuMs)})` : ''}`);
    }
  });
  page.on('pageerror', (e) => log(`  pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && log(`  console: ${m.text()}`));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
  return page;
}

class Overtime extends Error {
  constructor(minutes: number) {
    super(`stopped after ${minutes} min, before the run ended`);
  }
}

const withCpu = (t: { ms: number; cpuMs?: number }) => `${fmtMs(t.ms)}${t.cpuMs !== undefined ? ` (cpu ${fmtMs(t.cpuMs)})` : ''}`;
const probeNote = (p: ProbeTimes, n: number) =>
  `step ${n + 1} at a new past length ${withCpu(p.newShape)}, the same shapes again ${p.sameShape.map(withCpu).join(', ')}`;

const mapSteps = (h: Heard, key: 'ms' | 'cpuMs'): Record<number, number> =>
  Object.fromEntries(Object.entries(h.steps).flatMap(([k, v]) => (v[key] !== undefined ? [[k, v[key]]] : [])));

if (!flags['skip-browser']) {
  const outDir = mkdtempSync(join(tmpdir(), 'trim-real-size-'));
  const root = resolve(REPO_ROOT, 'test/bench/real-size');
  log('building the benchmark page …');
  await buildHarnessPage({ root, html: 'bench.html', outDir, esWorkers: true });
  const site = await startStaticServer({
    dir: outDir,
    mounts: { '/models/lm/': dirs[SMALL.id]!, '/models/prm/': dirs[PRM.id]!, ...(proxyDir ? { '/models/prm-proxy/': proxyDir } : {}) },
  });
  /** What each browser runs: the two models, and on WebGPU the PRM's depth proxy when asked for. */
  const runsFor = (device: 'wasm' | 'webgpu') => [
    ...(flags['skip-lm'] ? [] : [{ kind: 'lm' as const, url: './models/lm', model: '0.5B lm', points: pointsFor[device], probe: false }]),
    ...(flags['skip-prm'] ? [] : [{ kind: 'prm' as const, url: './models/prm', model: '1.5B value PRM', points: pointsFor[device], probe: false }]),
    ...(device === 'webgpu' && proxy
      ? [{ kind: 'prm' as const, url: './models/prm-proxy', model: `1.5B PRM depth proxy: ${proxy.options.layers} of ${PRM.options.layers} layers, real widths`, points: [...PRM_POINTS], probe: true }]
      : []),
  ];
  try {
    const devices = (['wasm', 'webgpu'] as const).filter((d) => !flags[`skip-${d}`]);
    for (const device of devices) {
      const browser = await launch({ webgpu: device === 'webgpu' });
      const where = device === 'wasm' ? 'Chromium, WASM' : 'Chromium, WebGPU (SwiftShader)';
      try {
        for (const run of runsFor(device)) {
          const { kind, model } = run;
          const ask: BenchAsk = { kind, url: run.url, device, points: run.points, decodeTokens: decodeTokensFor[device], ...(run.probe ? { shapeProbe: true } : {}) };
          log(`${where}: ${model}, first load and timings …`);
          const heard: Heard = { steps: {} };
          const page = await benchPage(browser, new URL('bench.html', site.url).href, heard);
          let first: { value: BenchAnswer; peakMB: number };
          const limitMin = limitMinFor[device];
          let stop: ReturnType<typeof setTimeout> | undefined;
          const overtime = new Promise<never>((_, reject) => {
            if (Number.isFinite(limitMin)) stop = setTimeout(() => reject(new Overtime(limitMin)), limitMin * 60_000);
          });
          try {
            first = await withPeak(browser, () => Promise.race([page.evaluate((a) => window.bench(a), ask), overtime]));
          } catch (err) {
            const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
            log(`  ${err instanceof Overtime ? 'stopped' : 'failed'}: ${msg}; heard ${JSON.stringify(heard)}`);
            // The planned points that finished, and the first and last call heard.
            const heardSteps = Object.keys(heard.steps).map(Number);
            const done = [...new Set([...heardSteps.filter((k) => k === 1 || k === Math.max(...heardSteps) || run.points.includes(k))])].sort((a, b) => a - b);
            rows.push({
              where,
              model,
              loadS: heard.loadMs !== undefined ? fmtMs(heard.loadMs) : err instanceof Overtime ? 'not loaded' : 'failed',
              memMB: '',
              decode: '',
              prm: done.length ? `incremental ${perPointCpu({ ms: mapSteps(heard, 'ms'), cpuMs: mapSteps(heard, 'cpuMs') }, done)}` : '',
              note: msg.slice(0, 160),
            });
            await page.close();
            continue;
          } finally {
            clearTimeout(stop);
          }
          await page.close();
          log(`  ${JSON.stringify(first)}`);
          log(`${where}: ${model}, second load (browser cache) …`);
          const again = await benchPage(browser, new URL('bench.html', site.url).href);
          const second = await withPeak(browser, () => again.evaluate((a) => window.bench({ ...a, loadOnly: true }), ask));
          await again.close();
          log(`  ${JSON.stringify(second)}`);
          rows.push({
            where,
            model,
            loadS: `${fmtMs(first.value.loadMs)} (cached ${fmtMs(second.value.loadMs)})`,
            memMB: `${first.peakMB}`,
            decode: first.value.decode ? `${first.value.decode.msPerToken.toFixed(0)} ms (${first.value.decode.tokens} tokens)` : '',
            prm: first.value.incremental ? `incremental ${perPointCpu(first.value.incremental, run.points)}` : '',
            note: `${first.value.description}; page heap ${first.value.pageHeapMB ?? '?'} MB; ${second.value.cachedFiles} files cached${first.value.probe ? `; ${probeNote(first.value.probe, Math.max(...run.points))}` : ''}`,
          });
        }
      } finally {
        await browser.close();
      }
    }
  } finally {
    await site.close();
    rmSync(outDir, { recursive: true, force: true });
  }
}

// ---- The page ----------------------------------------------------------------------------------
if (!flags['skip-page']) {
  log('the page: building it, then a short solve on WASM with both models …');
  const built = await buildPage();
  const site = await startStaticServer({ dir: built.dir, mounts: { '/models/real-lm/': dirs[SMALL.id]!, '/models/real-prm/': dirs[PRM.id]! } });
  const browser = await launch({ webgpu: false });
  try {
    const q = new URLSearchParams({
      weak: 'tjs:./models/real-lm',
      prm: 'tjs:./models/real-prm#value',
      strong: '',
      remote: '',
      // Scores every step and keeps it (thr:0 would skip scoring; a random PRM's sigmoid is never this low).
      policy: 'thr:0.000001',
      temperature: '0',
      maxStepTokens: '8',
      maxSteps: '2',
    });
    const { page, errors } = await openPage(browser.context, `${site.url}?${q}`);
    const t0 = performance.now();
    const { peakMB } = await withPeak(browser, async () => {
      await page.getByRole('textbox', { name: 'Problem', exact: true }).fill('What is 2 + 2?');
      await page.getByRole('button', { name: 'Solve', exact: true }).click();
      await page.waitForFunction(() => Number(document.body.dataset.runs ?? 0) > 0, null, { timeout: 30 * 60_000 });
    });
    const seconds = (performance.now() - t0) / 1000;
    const steps = await page.$$eval('#steps > li.step', (lis) => lis.length);
    const scores = await page.$$eval('#steps [data-field="score"]', (els) => els.map((e) => e.textContent ?? ''));
    const timings = await page.$$eval('#steps [data-field="timing"]', (els) => els.map((e) => e.textContent ?? ''));
    const runError = (await page.textContent('#run-error')) ?? '';
    const status = [await page.textContent('#weak-status'), await page.textContent('#prm-status').catch(() => '')].join(' | ');
    log(`  page: ${steps} steps, scores ${JSON.stringify(scores)}, error "${runError}", ${status}; errors ${JSON.stringify(errors)}`);
    rows.push({
      where: 'the page, WASM',
      model: '0.5B lm + 1.5B PRM',
      loadS: `${seconds.toFixed(0)} s to solve`,
      memMB: `${peakMB}`,
      decode: '',
      prm: '',
      note: runError ? `FAILED: ${runError}` : `${steps} steps drafted and scored (${scores.join(', ')}; ${timings.join('; ')}), load included`,
    });
  } finally {
    await browser.close();
    await site.close();
    built.cleanup();
  }
}

// ---- Table -------------------------------------------------------------------------------------
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`\nReal-size models, random weights, q4 (${SMALL.copies} shapes; ${PRM.copies} shapes), byte-level tokenizer padded to 151,936 ids`);
console.log(`Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; Node ${process.version}; ${execFileSync(CHROMIUM, ['--version'], { env: { ...process.env, CHROMIUM_FLAGS: '' } }).toString().trim()}`);
console.log(
  `Decode: ms per token over ${DECODE_TOKENS} sampled tokens (${decodeTokensFor.webgpu} on WebGPU), prompt cached. PRM: time of the call that scores steps 1..N (60 tokens each), and in brackets the CPU time it used (of the process / of all Chromium's processes). Memory: peak RSS (MB) of the process / of Chromium's processes.`,
);
const head: Row = { where: 'where', model: 'model', loadS: 'load', memMB: 'peak MB', decode: 'decode/token', prm: 'PRM per step (at N steps)', note: 'note' };
const keys = Object.keys(head) as (keyof Row)[];
console.log(`| ${keys.map((k) => head[k]).join(' | ')} |`);
console.log(`|${keys.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${keys.map((k) => r[k] || '–').join(' | ')} |`);

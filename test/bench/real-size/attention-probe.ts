// nice -n 10 npx tsx test/bench/real-size/attention-probe.ts: where a PRM step's time goes on WebGPU as the
// KV cache grows. The attention block of the Skywork 1.5B PRM (12 query heads, 2 KV heads, head size 128)
// as micro-graphs (test/bench/real-size/attention-variants.ts), each run in headless Chromium through
// onnxruntime-web, with 60 new tokens on top of a short and a long cache. Variants switch one suspect off
// at a time or write the block another way; the growth of a variant's CPU time from the short cache to the
// long one is what it costs per cached token, and its output is compared with the MatMul block (ours5d).
// A benchmark, not a test. Flags: --variants a,b (default all), --past 300,1900, --seq 60, --layers 4
// (independent copies of the block per graph), --reps 3 (best of), --device webgpu|wasm, --no-subgroups
// (ONNX Runtime's device without the subgroup features, as src/backends/webgpu-subgroups.ts has it on
// SwiftShader; without it the fused attention kernels are wrong there from 32 new tokens on).

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startStaticServer } from '../../../src/cli/static-server.ts';
import { encodeModel, GraphBuilder, tensorProto } from '../../../src/onnx/onnx-graph.ts';
import { launch } from '../../helpers/page.ts';
import { REPO_ROOT } from '../../helpers/paths.ts';
import { ATTENTION_VARIANTS, attentionBlock, type AttentionShape, type AttentionVariant } from './attention-variants.ts';

const { values: flags } = parseArgs({
  options: {
    variants: { type: 'string' },
    past: { type: 'string' },
    reps: { type: 'string' },
    device: { type: 'string' },
    seq: { type: 'string' },
    layers: { type: 'string' },
    'no-subgroups': { type: 'boolean' },
  },
});
const shape: AttentionShape = { heads: 12, kvHeads: 2, headDim: 128 };
const variants = (flags.variants?.split(',') ?? Object.keys(ATTENTION_VARIANTS)) as AttentionVariant[];
const pasts = (flags.past ?? '300,1900').split(',').map(Number);
const reps = Number(flags.reps ?? 3);
const seq = Number(flags.seq ?? 60);
const layers = Number(flags.layers ?? 4);
const device = flags.device ?? 'webgpu';
const noSubgroups = flags['no-subgroups'] === true;
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

function chromiumCpuMs(marker: string): number {
  let ticks = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker)) continue;
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // the process ended
    }
  }
  return ticks * 10;
}

const dir = mkdtempSync(join(tmpdir(), 'trim-attn-probe-'));
for (const v of variants) {
  const g = new GraphBuilder(`attention-${v}`);
  attentionBlock(g, shape, v, layers);
  const inits = await Promise.all(g.initializers.map(async (t) => tensorProto(t, { raw: await t.bytes() })));
  writeFileSync(join(dir, `${v}.onnx`), encodeModel(g, inits));
}
writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./probe.mjs"></script><body></body>');
writeFileSync(
  join(dir, 'probe.mjs'),
  `import * as ort from './ort/ort.webgpu.min.mjs';
ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
ort.env.wasm.numThreads = 1;
window.adapterInfo = async () => {
  const a = await navigator.gpu?.requestAdapter();
  return a ? { features: [...a.features].sort(), info: { vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description, isFallbackAdapter: a.info.isFallbackAdapter, subgroupMinSize: a.info.subgroupMinSize, subgroupMaxSize: a.info.subgroupMaxSize } } : null;
};
// --no-subgroups: ONNX Runtime gets an adapter that does not offer the subgroups feature (so its kernels
// cannot take their subgroup paths).
window.hideSubgroups = async () => {
  // ONNX Runtime's native WebGPU provider asks for the device itself (env.webgpu.adapter is JSEP's), so the
  // request is filtered where every caller goes through it.
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = function (d = {}) {
    return requestDevice.call(this, { ...d, requiredFeatures: (d.requiredFeatures ?? []).filter((f) => !f.includes('subgroup')) });
  };
};
const rand = (n) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898) * 0.5; return a; };
window.probe = async ({ variant, past, seq, reps, device, shape, layers }) => {
  const session = await ort.InferenceSession.create('./graphs/' + variant + '.onnx', {
    executionProviders: [device],
    preferredOutputLocation: device === 'webgpu' ? Object.fromEntries(session_outputs(layers).map((n) => [n, 'gpu-buffer'])) : undefined,
  });
  const { heads, kvHeads, headDim } = shape;
  const T = past + seq;
  const feeds = {
    q: new ort.Tensor('float32', rand(seq * heads * headDim), [1, seq, heads * headDim]),
    k: new ort.Tensor('float32', rand(seq * kvHeads * headDim), [1, seq, kvHeads * headDim]),
    v: new ort.Tensor('float32', rand(seq * kvHeads * headDim), [1, seq, kvHeads * headDim]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
  };
  for (let i = 0; i < layers; i++) {
    feeds['past_key.' + i] = new ort.Tensor('float32', rand(kvHeads * past * headDim), [1, kvHeads, past, headDim]);
    feeds['past_value.' + i] = new ort.Tensor('float32', rand(kvHeads * past * headDim), [1, kvHeads, past, headDim]);
  }
  const times = [];
  let first = [];
  for (let r = 0; r <= reps; r++) {
    const c0 = await window.cpuMs();
    const t0 = performance.now();
    const out = await session.run(feeds);
    const o = out['out.' + (layers - 1)];
    const data = await o.getData();
    const ms = performance.now() - t0;
    const c1 = await window.cpuMs();
    first = Array.from(data);
    for (const t of Object.values(out)) t.dispose?.();
    if (r > 0) times.push({ ms, cpuMs: c1 - c0 });
  }
  await session.release();
  const dev = ort.env.webgpu?.device;
  return { times, out: first, deviceFeatures: dev ? [...(await dev).features].filter((f) => f.includes('subgroup')) : null };
};
function session_outputs(layers) { const n = []; for (let i = 0; i < layers; i++) n.push('present_key.' + i, 'present_value.' + i); return n; }
document.body.dataset.ready = 'true';
`,
);
const site = await startStaticServer({ dir, mounts: { '/ort/': resolve(REPO_ROOT, 'node_modules/onnxruntime-web/dist'), '/graphs/': dir } });
const browser = await launch({ webgpu: device === 'webgpu' });
const marker = `--user-data-dir=${browser.profile}`;
try {
  const page = await browser.context.newPage();
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && log(`console: ${m.text()}`));
  await page.exposeFunction('cpuMs', () => chromiumCpuMs(marker));
  await page.goto(new URL('index.html', site.url).href);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
  if (device === 'webgpu') log(`adapter: ${JSON.stringify(await page.evaluate(() => (window as unknown as { adapterInfo(): Promise<unknown> }).adapterInfo()))}`);
  if (noSubgroups) await page.evaluate(() => (window as unknown as { hideSubgroups(): Promise<void> }).hideSubgroups());
  const results: string[] = [];
  // Each variant's output against the reference block's (ours5d) on the same inputs.
  const reference: Record<number, number[]> = {};
  const order = variants.includes('ours5d') ? ['ours5d' as const, ...variants.filter((v) => v !== 'ours5d')] : variants;
  for (const variant of order) {
    for (const past of pasts) {
      const r = (await page.evaluate((a) => (window as unknown as { probe(a: unknown): Promise<unknown> }).probe(a), { variant, past, seq, reps, device, shape, layers })) as {
        times: { ms: number; cpuMs: number }[];
        out: number[];
        deviceFeatures: string[] | null;
      };
      if (device === 'webgpu') log(`  ONNX Runtime's device has ${r.deviceFeatures?.length ? r.deviceFeatures.join(', ') : 'no subgroup features'}`);
      if (variant === 'ours5d') reference[past] = r.out;
      const ref = reference[past];
      const diff = ref ? Math.max(...r.out.map((x, j) => Math.abs(x - ref[j]!))) : NaN;
      if (ref && diff > 1e-4) {
        const width = shape.heads * shape.headDim;
        const bad: string[] = [];
        for (let row = 0; row < seq; row++) {
          for (let h = 0; h < shape.heads; h++) {
            let m = 0;
            for (let j = 0; j < shape.headDim; j++) m = Math.max(m, Math.abs(r.out[row * width + h * shape.headDim + j]! - ref[row * width + h * shape.headDim + j]!));
            if (m > 1e-4) bad.push(`${row}/${h}`);
          }
        }
        log(`  rows/heads that differ (${bad.length}): ${bad.slice(0, 40).join(' ')}${bad.length > 40 ? ' …' : ''}`);
      }
      const cpu = Math.min(...r.times.map((t) => t.cpuMs));
      const wall = Math.min(...r.times.map((t) => t.ms));
      log(`${variant} past ${past}: wall ${r.times.map((t) => t.ms.toFixed(0)).join('/')} ms, cpu ${r.times.map((t) => t.cpuMs).join('/')} ms, max |out - ours5d| ${diff.toExponential(1)}, out sum ${r.out.reduce((a, x) => a + x, 0).toFixed(4)} first ${r.out.slice(0, 3).map((x) => x.toFixed(5))} last ${r.out.slice(-3).map((x) => x.toFixed(5))}`);
      results.push(`| ${variant} (${ATTENTION_VARIANTS[variant]}) | ${past} | ${wall.toFixed(0)} | ${cpu} | ${Number.isNaN(diff) ? '–' : diff.toExponential(1)} |`);
    }
  }
  console.log(`\n${process.argv.slice(1).join(' ')}\nAttention block x${layers} layers (${shape.heads} heads, ${shape.kvHeads} KV heads, head ${shape.headDim}), ${seq} new tokens, ${device}${noSubgroups ? ' (adapter without subgroups)' : ''}; best of ${reps} runs`);
  console.log('| variant | past | wall ms | CPU ms (all Chromium processes) | max abs diff from ours5d (last layer\'s output) |\n|---|---|---|---|---|');
  for (const r of results) console.log(r);
} finally {
  await browser.close();
  await site.close();
  rmSync(dir, { recursive: true, force: true });
}

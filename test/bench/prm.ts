// PRM scoring time per step, full re-scoring (what the reference code does after every step) against
// incremental scoring (the KV cache follows the steps, only the new step runs), at 5, 10, 20 and 30
// steps of about 60 tokens. The model is built by src/onnx with random weights and is large enough that
// compute, not overhead, dominates (4 layers, hidden 256, two-class head, fp32, CPU).
//
// "At N steps" is the call a solve run makes after drafting step N: it scores steps 1..N. Each time is
// the median of several calls. Run: npm run bench:prm [-- --reps 5] [-- --head value]

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prmHead, type PrmHead } from '../../src/backends/prm-layout.ts';
import { loadTjsPrm, type TjsPrm } from '../../src/backends/tjs-prm.ts';
import { buildRandomModel } from '../../src/onnx/build-random.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
// Steps of 60 bytes: the built tokenizer has one token per byte, so 60 tokens each, as in bench:real-size.
import { steps } from './real-size/workload.ts';

const { values } = parseArgs({ options: { reps: { type: 'string' }, head: { type: 'string' } } });
const REPS = Math.max(1, Number(values.reps ?? 5));
const HEAD: PrmHead = prmHead(values.head ?? 'two-class');
const POINTS = [5, 10, 20, 30];
const SHAPE = { layers: 4, hidden: 256, heads: 8, kvHeads: 4 };

const FOLDER_HEAD = { 'two-class': 'two-class', value: 'value', 'lm-tag': 'lm' } as const;

async function model(): Promise<string> {
  const dir = join(REPO_ROOT, '.cache/bench', `prm-${FOLDER_HEAD[HEAD]}-${SHAPE.layers}x${SHAPE.hidden}`);
  if (!existsSync(join(dir, 'config.json'))) {
    process.stderr.write(`building ${dir} …\n`);
    await buildRandomModel(dir, { head: FOLDER_HEAD[HEAD], ...SHAPE, seed: 1, overwrite: true });
  }
  return dir;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

const problem = 'Solve for x: 2x + 3 = 11, then compute y = x + 3 and report y.';
const all = steps(Math.max(...POINTS));
const dir = await model();
const full: TjsPrm = await loadTjsPrm({ model: dir, head: HEAD, incremental: false });
const inc: TjsPrm = await loadTjsPrm({ model: dir, head: HEAD });

// Warm up both sessions (first runs allocate and pick kernels).
await full.score({ problem, steps: all.slice(0, 2) });
await inc.score({ problem, steps: all.slice(0, 2) });

const rows: { n: number; tokens: number; fullMs: number; incMs: number }[] = [];
for (const n of POINTS) {
  const fullTimes: number[] = [];
  for (let r = 0; r < REPS; r++) fullTimes.push(await timed(() => full.score({ problem, steps: all.slice(0, n) })));
  const incTimes: number[] = [];
  for (let r = 0; r < REPS; r++) {
    // Steps 1..n-1 cached (as after the previous call); the timed call runs step n only.
    await inc.score({ problem, steps: all.slice(0, n - 1) });
    incTimes.push(await timed(() => inc.score({ problem, steps: all.slice(0, n) })));
  }
  rows.push({ n, tokens: inc.lastReuse!.tokens, fullMs: median(fullTimes), incMs: median(incTimes) });
}
await full.dispose();
await inc.dispose();

const pad = (s: string | number, w: number) => String(s).padStart(w);
console.log(`PRM scoring per step: ${HEAD} head, ${SHAPE.layers} layers, hidden ${SHAPE.hidden}, ${SHAPE.heads}/${SHAPE.kvHeads} heads, fp32, CPU (onnxruntime-node), median of ${REPS}`);
console.log(`${pad('steps', 6)} ${pad('tokens', 7)} ${pad('full ms', 9)} ${pad('incremental ms', 15)} ${pad('ratio', 7)}`);
for (const r of rows) {
  console.log(`${pad(r.n, 6)} ${pad(r.tokens, 7)} ${pad(r.fullMs.toFixed(1), 9)} ${pad(r.incMs.toFixed(1), 15)} ${pad((r.fullMs / r.incMs).toFixed(1) + '×', 7)}`);
}
const last = rows[rows.length - 1]!;
const ratio = last.fullMs / last.incMs;
console.log(`ratio at ${last.n} steps: ${ratio.toFixed(1)}× (target ≥ 10×)${ratio >= 10 ? '' : '  BELOW TARGET'}`);

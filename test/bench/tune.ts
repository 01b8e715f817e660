// npm run bench:tune — how long `trim tune` takes with instant servers: 150 scripted problems (three steps
// each, half with a wrong middle step; test/helpers/tune-world.ts) on loopback servers that answer at
// once, every phase at its defaults (rollout labels, TRIM-Agg trained as the fidelity gate decides).
// Prints the wall time and the summary lines of the tune. BENCH_PROBLEMS changes the count.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { startTuneWorld } from '../helpers/tune-world.ts';

const PROBLEMS = Number(process.env.BENCH_PROBLEMS ?? 150);
const dir = mkdtempSync(join(tmpdir(), 'trim-bench-tune-'));
const world = await startTuneWorld(dir, PROBLEMS);
try {
  const t0 = performance.now();
  const code = await main(['tune', '--data', world.data, ...world.flags, '--out', join(dir, 'bundle.json'), '--seed', '1']);
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`\ntrim tune on ${PROBLEMS} problems with instant servers: ${s.toFixed(0)} s (${(s / 60).toFixed(1)} min), exit code ${code}\n`);
} finally {
  await world.close();
  rmSync(dir, { recursive: true, force: true });
}

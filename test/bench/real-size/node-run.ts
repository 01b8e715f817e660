// One real-size model in one Node process (so its peak RSS is its own), through the CLI's loaders:
// prints one JSON line. Usage: tsx node-run.ts lm|prm FOLDER
import { loadTjsStepModel } from '../../../src/backends/tjs-lm.ts';
import { loadTjsPrm } from '../../../src/backends/tjs-prm.ts';
import { decodeMsPerToken, fullScoring, incrementalScoring } from './workload.ts';

const [kind, dir] = process.argv.slice(2);
if ((kind !== 'lm' && kind !== 'prm') || !dir) throw new Error('usage: node-run.ts lm|prm FOLDER');
const t0 = performance.now();
const mb = () => Math.round(process.resourceUsage().maxRSS / 1024);
if (kind === 'lm') {
  const m = await loadTjsStepModel({ model: dir, dtype: 'q4' });
  const loadMs = performance.now() - t0;
  const loadRssMB = mb();
  const decode = await decodeMsPerToken(m);
  await m.dispose();
  console.log(JSON.stringify({ loadMs, loadRssMB, peakRssMB: mb(), ...decode }));
} else {
  const inc = await loadTjsPrm({ model: dir, dtype: 'q4' });
  const loadMs = performance.now() - t0;
  const loadRssMB = mb();
  // CPU time of the whole process: onnxruntime-node's threads included.
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const incremental = await incrementalScoring(inc, undefined, cpuMs);
  await inc.dispose();
  const full = await loadTjsPrm({ model: dir, dtype: 'q4', incremental: false });
  const fullMs = await fullScoring(full);
  await full.dispose();
  console.log(JSON.stringify({ loadMs, loadRssMB, peakRssMB: mb(), incremental, full: fullMs }));
}

// nice -n 10 npx tsx test/bench/real-size/attention-probe-node.ts: the attention micro-graphs of
// attention-probe.ts (attention-variants.ts) in onnxruntime-node, the CPU provider `trim serve`, the CLI
// and the Node benches use: CPU ms of the process per call (its threads included) at each cache length,
// and each variant's output against the MatMul block (ours5d). Flags: --variants, --past, --seq, --layers,
// --reps, as attention-probe.ts.

import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { encodeModel, GraphBuilder, tensorProto } from '../../../src/onnx/onnx-graph.ts';
import { ATTENTION_VARIANTS, attentionBlock, type AttentionShape, type AttentionVariant } from './attention-variants.ts';

const { values: flags } = parseArgs({
  options: { variants: { type: 'string' }, past: { type: 'string' }, reps: { type: 'string' }, seq: { type: 'string' }, layers: { type: 'string' } },
});
const shape: AttentionShape = { heads: 12, kvHeads: 2, headDim: 128 };
const variants = (flags.variants?.split(',') ?? ['ours5d', 'mha', 'gqa']) as AttentionVariant[];
const pasts = (flags.past ?? '300,1900').split(',').map(Number);
const reps = Number(flags.reps ?? 3);
const seq = Number(flags.seq ?? 60);
const layers = Number(flags.layers ?? 2);
const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const rows: string[] = [];
const reference: Record<number, Float32Array> = {};
for (const variant of ['ours5d' as const, ...variants.filter((v) => v !== 'ours5d')]) {
  const g = new GraphBuilder(`attention-${variant}`);
  attentionBlock(g, shape, variant, layers);
  const inits = await Promise.all(g.initializers.map(async (t) => tensorProto(t, { raw: await t.bytes() })));
  const session = await ort.InferenceSession.create(encodeModel(g, inits));
  for (const past of pasts) {
    const { heads, kvHeads, headDim } = shape;
    const feeds: Record<string, ort.Tensor> = {
      q: new ort.Tensor('float32', rand(seq * heads * headDim), [1, seq, heads * headDim]),
      k: new ort.Tensor('float32', rand(seq * kvHeads * headDim), [1, seq, kvHeads * headDim]),
      v: new ort.Tensor('float32', rand(seq * kvHeads * headDim), [1, seq, kvHeads * headDim]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(past + seq).fill(1n), [1, past + seq]),
    };
    for (let i = 0; i < layers; i++) {
      feeds[`past_key.${i}`] = new ort.Tensor('float32', rand(kvHeads * past * headDim), [1, kvHeads, past, headDim]);
      feeds[`past_value.${i}`] = new ort.Tensor('float32', rand(kvHeads * past * headDim), [1, kvHeads, past, headDim]);
    }
    const times: { ms: number; cpu: number }[] = [];
    let out: Float32Array = new Float32Array();
    for (let r = 0; r <= reps; r++) {
      const c0 = cpuMs();
      const t0 = performance.now();
      const res = await session.run(feeds);
      if (r > 0) times.push({ ms: performance.now() - t0, cpu: cpuMs() - c0 });
      out = res[`out.${layers - 1}`]!.data as Float32Array;
    }
    if (variant === 'ours5d') reference[past] = out;
    const ref = reference[past]!;
    const diff = out.reduce((m, x, j) => Math.max(m, Math.abs(x - ref[j]!)), 0);
    rows.push(`| ${variant} (${ATTENTION_VARIANTS[variant]}) | ${past} | ${Math.min(...times.map((t) => t.ms)).toFixed(0)} | ${Math.min(...times.map((t) => t.cpu)).toFixed(0)} | ${diff.toExponential(1)} |`);
  }
  await session.release();
}
console.log(`\nAttention block x${layers} layers (${shape.heads} heads, ${shape.kvHeads} KV heads, head ${shape.headDim}), ${seq} new tokens, onnxruntime-node ${ort.env.versions.node ?? ''} CPU; best of ${reps}`);
console.log("| variant | past | wall ms | CPU ms (process) | max abs diff from ours5d |\n|---|---|---|---|---|");
for (const r of rows) console.log(r);

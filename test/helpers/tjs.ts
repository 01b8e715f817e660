// Small helpers to drive transformers.js models in Node tests: local-only loading, int64 tensors, a forward
// call that threads the KV cache, and comparisons against the reference forward pass.

import { env, Tensor } from '@huggingface/transformers';
import type { LayerCache } from '../../src/onnx/reference.ts';

/** Loads models only from `root` on disk; a missing file fails at once instead of reaching the network. */
export function useLocalModels(root: string): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root;
}

export function int64(rows: number[][]): Tensor {
  const flat = rows.flat();
  return new Tensor('int64', BigInt64Array.from(flat.map(BigInt)), [rows.length, rows[0]?.length ?? 0]);
}

export type Past = Record<string, Tensor>;

interface Forwardable {
  forward(inputs: Record<string, unknown>): Promise<Record<string, Tensor>>;
}

export interface ForwardResult {
  logits: Float32Array;
  dims: number[];
  /** present.* renamed to past_key_values.* for the next call. */
  past: Past;
}

/** One model.forward() call; `past` continues a previous call's cache. */
export async function forward(
  model: unknown,
  ids: number[][],
  o: { mask?: number[][]; positions?: number[][]; past?: Past } = {},
): Promise<ForwardResult> {
  const pastLen = o.past ? (Object.values(o.past)[0]?.dims[2] ?? 0) : 0;
  const mask = o.mask ?? ids.map((r) => new Array<number>(pastLen + r.length).fill(1));
  const inputs: Record<string, unknown> = { input_ids: int64(ids), attention_mask: int64(mask) };
  if (o.positions) inputs.position_ids = int64(o.positions);
  if (o.past) inputs.past_key_values = o.past;
  const out = await (model as Forwardable).forward(inputs);
  const past: Past = {};
  for (const [k, v] of Object.entries(out)) {
    if (k.startsWith('present.')) past[k.replace('present.', 'past_key_values.')] = v;
  }
  const logits = out.logits;
  if (!logits) throw new Error(`model.forward returned no "logits" (got ${Object.keys(out).join(', ')})`);
  return { logits: logits.data as Float32Array, dims: logits.dims, past };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The graph's present.{i}.key|value for layer i, as reference-cache arrays. */
export function presentOf(past: Past, layer: number): LayerCache {
  const k = past[`past_key_values.${layer}.key`]!;
  const v = past[`past_key_values.${layer}.value`]!;
  return { key: k.data as Float32Array, value: v.data as Float32Array, length: k.dims[2]! };
}

/** Rows [from, to) of a [1, S, W] logits array. */
export function rowsOf(logits: Float32Array, width: number, from: number, to: number): Float32Array {
  return logits.slice(from * width, to * width);
}

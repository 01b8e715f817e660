// Next-token sampling over raw logits with our own seeded generator. transformers.js' generate() has no
// seed, and TRIM needs a seeded draft to replay exactly (tests, `--seed`, KV reuse checks), so the local
// decode loop samples here.

import { mulberry32, type Rng } from '../core/rng.ts';
import type { Sampling } from '../core/types.ts';

/** Sampling with every knob resolved. temperature 0 is greedy; topK 0 and topP 1 switch those filters off. */
export interface SamplingConfig {
  temperature: number;
  topP: number;
  topK: number;
}

export const NO_FILTERS: SamplingConfig = { temperature: 1, topP: 1, topK: 0 };

/** A request's sampling over a model's defaults; out-of-range values are clamped to the nearest valid one. */
export function resolveSampling(request: Sampling | undefined, defaults: SamplingConfig): SamplingConfig {
  const t = request?.temperature ?? defaults.temperature;
  const p = request?.topP ?? defaults.topP;
  const k = request?.topK ?? defaults.topK;
  return {
    temperature: Number.isFinite(t) ? Math.max(0, t) : defaults.temperature,
    topP: Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : defaults.topP,
    topK: Number.isFinite(k) ? Math.max(0, Math.floor(k)) : defaults.topK,
  };
}

/** One generator per call: a seeded call replays exactly; an unseeded one draws a fresh seed. */
export function samplingRng(seed: number | undefined): Rng {
  return mulberry32(seed ?? Math.floor(Math.random() * 2 ** 32));
}

function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * Picks the next token id. Order as in Hugging Face's samplers: temperature, then top-k, then top-p on
 * the renormalised top-k distribution (keeping the smallest set whose mass reaches topP, at least one).
 */
export function sampleToken(logits: ArrayLike<number>, cfg: SamplingConfig, rng: Rng): number {
  if (cfg.temperature === 0) return argmax(logits);
  let ids = cfg.topK > 0 ? topKIds(logits, cfg.topK) : finiteIds(logits);
  if (ids.length === 0) return argmax(logits);
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  const max = logits[ids[0]!]!;
  const weights = ids.map((i) => Math.exp((logits[i]! - max) / cfg.temperature));
  let total = weights.reduce((a, b) => a + b, 0);
  if (cfg.topP < 1) {
    let mass = 0;
    let keep = 0;
    while (keep < weights.length && (keep === 0 || mass < cfg.topP * total)) mass += weights[keep++]!;
    ids = ids.slice(0, keep);
    weights.length = keep;
    total = mass;
  }
  let u = rng() * total;
  for (let j = 0; j < ids.length; j++) {
    u -= weights[j]!;
    if (u < 0) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}

function finiteIds(logits: ArrayLike<number>): number[] {
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) if (Number.isFinite(logits[i]!)) ids.push(i);
  return ids;
}

/**
 * The k largest finite logits, by one pass with a size-k min-heap: sorting a 150k vocabulary for every
 * token would cost more than a small model's forward pass.
 */
function topKIds(logits: ArrayLike<number>, k: number): number[] {
  const heap: number[] = [];
  // Ties go to the smaller id, like the stable sort of the full vocabulary.
  const less = (a: number, b: number) => logits[a]! < logits[b]! || (logits[a] === logits[b] && a > b);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i]!)) continue;
    if (heap.length < k) {
      heap.push(i);
      for (let j = heap.length - 1; j > 0; ) {
        const p = (j - 1) >> 1;
        if (!less(heap[j]!, heap[p]!)) break;
        [heap[j], heap[p]] = [heap[p]!, heap[j]!];
        j = p;
      }
    } else if (less(heap[0]!, i)) {
      heap[0] = i;
      down(0);
    }
  }
  return heap;
}

/** log softmax of one entry, computed stably. */
export function logProbOf(logits: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return logits[id]! - max - Math.log(sum);
}

// The work every real-size run does, in Node and in the browser alike: one problem, steps of exactly 60
// bytes (60 tokens with the byte-level tokenizer), and the points at which PRM scoring is timed.

import { mulberry32 } from '../../../src/core/rng.ts';

export const PROBLEM = 'Solve for x: 2x + 3 = 11, then compute y = x + 3 and report y.';
export const PRM_POINTS = [5, 10, 30] as const;
/** Tokens sampled per decode timing (after a warm-up call that caches the prompt). */
export const DECODE_TOKENS = 32;

/** `n` steps of 60 bytes each. */
export function steps(n: number): string[] {
  const rng = mulberry32(9);
  const words = ['add', 'the', 'two', 'sides', 'so', 'x', '=', '4', 'then', 'divide', 'by', '2', 'we', 'get', 'y', '+', '3'];
  return Array.from({ length: n }, (_, i) => {
    let s = `Step ${i + 1}:`;
    while (s.length < 60) s += ' ' + words[Math.floor(rng() * words.length)];
    return s.slice(0, 59) + '.';
  });
}

export interface StepModelLike {
  next(r: { problem: string; steps: string[]; maxTokens: number; sampling: { temperature: number; topP: number; topK: number; seed: number } }): Promise<{ completionTokens: number }>;
}
export interface ScorerLike {
  score(r: { problem: string; steps: string[] }): Promise<number[]>;
}

const now = () => performance.now();

/** Milliseconds per sampled token, the prompt already cached by a warm-up call. */
export async function decodeMsPerToken(m: StepModelLike, tokens = DECODE_TOKENS): Promise<{ msPerToken: number; tokens: number; firstCallMs: number }> {
  const r = (seed: number, maxTokens: number) => ({ problem: PROBLEM, steps: [], maxTokens, sampling: { temperature: 1, topP: 1, topK: 0, seed } });
  let t0 = now();
  await m.next(r(1, 2));
  const firstCallMs = now() - t0;
  t0 = now();
  const out = await m.next(r(2, tokens));
  return { msPerToken: (now() - t0) / out.completionTokens, tokens: out.completionTokens, firstCallMs };
}

/** Milliseconds per point; `cpuMs` also counts the CPU time spent, which other jobs on the machine do not inflate. */
export interface PointTimes {
  ms: Record<number, number>;
  cpuMs?: Record<number, number>;
}

/**
 * Incremental scoring as a solve does it: after step k is drafted, steps 1..k are scored (steps 1..k-1
 * come from the cache). Returns the time of the call at each point (up to the last point), and its CPU
 * time when `cpuMs` reads a CPU clock (milliseconds of CPU used so far by whatever runs the model).
 */
export async function incrementalScoring(
  prm: ScorerLike,
  points: readonly number[] = PRM_POINTS,
  cpuMs?: () => number | Promise<number>,
  /** Sees every call as it ends, so a run stopped for time still reports the steps it scored. */
  onStep?: (k: number, ms: number, cpuMs?: number) => unknown,
): Promise<PointTimes> {
  const all = steps(Math.max(...points));
  const out: PointTimes = { ms: {}, ...(cpuMs ? { cpuMs: {} } : {}) };
  for (let k = 1; k <= all.length; k++) {
    const c0 = await cpuMs?.();
    const t0 = now();
    await prm.score({ problem: PROBLEM, steps: all.slice(0, k) });
    const t1 = now();
    const c1 = await cpuMs?.();
    await onStep?.(k, t1 - t0, c0 !== undefined && c1 !== undefined ? c1 - c0 : undefined);
    if (!points.includes(k)) continue;
    out.ms[k] = t1 - t0;
    if (out.cpuMs && c0 !== undefined && c1 !== undefined) out.cpuMs[k] = c1 - c0;
  }
  return out;
}

/** Full re-scoring of steps 1..n (what the reference code does after every step). */
export async function fullScoring(prm: ScorerLike, points: readonly number[] = PRM_POINTS): Promise<Record<number, number>> {
  const all = steps(Math.max(...points));
  const out: Record<number, number> = {};
  for (const n of points) {
    const t0 = now();
    await prm.score({ problem: PROBLEM, steps: all.slice(0, n) });
    out[n] = now() - t0;
  }
  return out;
}

export interface ProbeTimes {
  /** Step n+1 after the curve of n steps: a past length no call has had. */
  newShape: { ms: number; cpuMs?: number };
  /** Step n+1 replaced by equal-length variants: the same input shapes as `newShape`, run again. */
  sameShape: { ms: number; cpuMs?: number }[];
}

/**
 * Whether a call's cost belongs to its input shapes being new (a backend compiling or planning per
 * shape) rather than to the work: after incrementalScoring up to `n` steps, scores step n+1, then
 * variants of it whose first byte differs (same length, so the cache rolls back to step n and the same
 * token count runs at the same past length). Same-shape calls far cheaper than the new-shape one put the
 * cost on the new shape.
 */
export async function shapeProbe(prm: ScorerLike, n: number, cpuMs?: () => number | Promise<number>): Promise<ProbeTimes> {
  const all = steps(n + 1);
  const timed = async (s: string[]) => {
    const c0 = await cpuMs?.();
    const t0 = now();
    await prm.score({ problem: PROBLEM, steps: s });
    const ms = now() - t0;
    const c1 = await cpuMs?.();
    return { ms, ...(c0 !== undefined && c1 !== undefined ? { cpuMs: c1 - c0 } : {}) };
  };
  const newShape = await timed(all);
  const last = all[n]!;
  const sameShape = [];
  for (const first of ['s', 'x']) sameShape.push(await timed([...all.slice(0, n), first + last.slice(1)]));
  return { newShape, sameShape };
}

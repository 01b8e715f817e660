// A decoder's key/value cache that follows a token sequence. Callers say which tokens they need; the
// cache keeps the longest prefix it already holds, drops the rest and feeds only what is new. A step
// model and a PRM both see the same text grow by one step at a time, so almost every call is "feed the
// new step on top"; the rare divergence (a regenerated step, another problem) rolls back exactly.
//
// Rolling back must never change a number: K/V at position i depend only on tokens 0..i, so the kept
// prefix is bitwise what a fresh run computes. On the CPU the tensors are cut in place. On WebGPU they
// live in GPU buffers that cannot be cut without a download, so the cache keeps one earlier state alive
// (a "mark", e.g. the end of the prompt) and rolls back to it, recomputing the few tokens after it.

import { Tensor } from '@huggingface/transformers';
import { AbortedError } from '../core/errors.ts';
import { ContextLengthError, idsTensor } from './tjs-runtime.ts';

/** The part of a transformers.js model the cache drives. */
export interface Forwarder {
  forward(inputs: Record<string, unknown>): Promise<Record<string, Tensor>>;
}

type Past = Record<string, Tensor>;

/** Logits of the tokens of one forward call: `count` rows of `width` values. */
export interface Rows {
  data: Float32Array;
  width: number;
  count: number;
}

/** Sees each chunk's logits; `first` is the position of the chunk's first token in the sequence. */
export type RowReader = (rows: Rows, first: number) => void;

export interface KvCacheOptions {
  /** Longest sequence the model accepts. */
  maxPositions: number;
  /**
   * Tokens per forward call when feeding a long input: bounds the logits tensor (tokens × vocabulary,
   * 600 MB for 1000 tokens of a 150k vocabulary) and lets a stop request in between.
   */
  chunk?: number;
}

export interface FeedOptions {
  read?: RowReader;
  signal?: AbortSignal;
}

export class KvCache {
  private ids: number[] = [];
  private past: Past | null = null;
  private marked: { length: number; past: Past } | null = null;
  private readonly chunk: number;

  constructor(
    private readonly model: Forwarder,
    private readonly o: KvCacheOptions,
  ) {
    this.chunk = Math.max(1, o.chunk ?? 256);
  }

  /** Number of tokens whose K/V are held. */
  get length(): number {
    return this.ids.length;
  }

  /** Whether the K/V tensors live in GPU buffers (WebGPU keeps them there between calls). */
  get onGpu(): boolean {
    return !!this.past && onGpu(this.past);
  }

  /** How many leading tokens of `ids` the cache holds. */
  commonPrefix(ids: readonly number[]): number {
    const n = Math.min(ids.length, this.ids.length);
    let i = 0;
    while (i < n && ids[i] === this.ids[i]) i++;
    return i;
  }

  /**
   * Keeps the current state alive for a cheap rollback to it later (GPU caches only: on the CPU a
   * rollback cuts the tensors and needs no copy).
   */
  mark(): void {
    if (!this.past || !onGpu(this.past)) return;
    if (this.marked && this.marked.past !== this.past) disposePast(this.marked.past);
    this.marked = { length: this.ids.length, past: this.past };
  }

  /** Keeps only the first `n` tokens. */
  async truncate(n: number, signal?: AbortSignal): Promise<void> {
    if (n >= this.ids.length) return;
    const keep = this.ids.slice(0, n);
    if (n === 0 || !this.past) return this.reset();
    if (!onGpu(this.past)) {
      const cut = slicePast(this.past, n);
      this.reset();
      this.past = cut;
      this.ids = keep;
      return;
    }
    const mark = this.marked && this.marked.length <= n ? this.marked : null;
    if (mark) {
      if (this.past !== mark.past) disposePast(this.past);
      this.past = mark.past;
      this.ids = keep.slice(0, mark.length);
    } else {
      this.reset();
    }
    await this.extend(keep.slice(this.ids.length), { ...(signal ? { signal } : {}) });
  }

  /** Feeds `ids` after the cached tokens, in chunks; the cache then holds them too. */
  async extend(ids: readonly number[], o: FeedOptions = {}): Promise<void> {
    const total = this.ids.length + ids.length;
    if (total > this.o.maxPositions) throw new ContextLengthError(total, this.o.maxPositions);
    for (let at = 0; at < ids.length; at += this.chunk) {
      if (o.signal?.aborted) throw new AbortedError();
      const part = ids.slice(at, at + this.chunk);
      const { rows, present } = await this.run(part, this.past);
      if (this.past) this.release(this.past);
      this.past = present;
      const first = this.ids.length;
      this.ids.push(...part);
      o.read?.(rows, first);
    }
  }

  /** Runs `ids` on top of the cache without keeping them (e.g. probing a continuation). */
  async peek(ids: readonly number[], read: RowReader): Promise<void> {
    if (ids.length === 0) return;
    const { rows, present } = await this.run(ids, this.past);
    disposePast(present);
    read(rows, this.ids.length);
  }

  /** Drops every cached token and frees the tensors. */
  reset(): void {
    // The mark may be the current state itself: free each state once.
    for (const p of new Set([this.past, this.marked?.past])) if (p) disposePast(p);
    this.past = null;
    this.marked = null;
    this.ids = [];
  }

  dispose(): void {
    this.reset();
  }

  private async run(ids: readonly number[], past: Past | null): Promise<{ rows: Rows; present: Past }> {
    const start = this.ids.length;
    if (start + ids.length > this.o.maxPositions) throw new ContextLengthError(start + ids.length, this.o.maxPositions);
    const inputs: Record<string, unknown> = {
      input_ids: idsTensor(ids),
      attention_mask: idsTensor(new Array<number>(start + ids.length).fill(1)),
      position_ids: idsTensor(ids.map((_, i) => start + i)),
    };
    if (past) inputs.past_key_values = past;
    const out = await this.model.forward(inputs);
    const present: Past = {};
    let logits: Tensor | undefined;
    for (const [name, t] of Object.entries(out)) {
      if (name.startsWith('present.')) present[`past_key_values.${name.slice('present.'.length)}`] = t;
      else if (name === 'logits') logits = t;
      else t.dispose();
    }
    if (!logits) {
      disposePast(present);
      throw new Error(`The model returned no "logits" output (it returned ${Object.keys(out).join(', ')}).`);
    }
    const f32 = logits.to('float32');
    const dims = logits.dims;
    const rows: Rows = { data: f32.data as Float32Array, width: dims[dims.length - 1]!, count: ids.length };
    return { rows, present };
  }

  /** Frees a state unless the mark still needs it. */
  private release(p: Past): void {
    if (this.marked?.past !== p) disposePast(p);
  }
}

function onGpu(p: Past): boolean {
  return Object.values(p).some((t) => t.location === 'gpu-buffer');
}

function disposePast(p: Past): void {
  for (const t of Object.values(p)) t.dispose();
}

/** Keeps positions [0, n) of every [batch, heads, length, headDim] tensor. */
function slicePast(p: Past, n: number): Past {
  const out: Past = {};
  for (const [name, t] of Object.entries(p)) {
    const [b, h, len, d] = t.dims as [number, number, number, number];
    const src = t.data as unknown as { subarray(a: number, b: number): ArrayLike<number> } & ArrayLike<number>;
    const Ctor = (src as unknown as { constructor: new (n: number) => { set(a: ArrayLike<number>, at: number): void } }).constructor;
    const dst = new Ctor(b * h * n * d);
    for (let bh = 0; bh < b * h; bh++) dst.set(src.subarray(bh * len * d, bh * len * d + n * d), bh * n * d);
    out[name] = new Tensor(t.type, dst as never, [b, h, n, d]);
  }
  return out;
}

// A process reward model on the device through transformers.js, scored incrementally: the KV cache
// follows the steps, so scoring step t runs only step t and its marker on top of the cached prefix
// instead of the whole history (the reference code re-scores everything, quadratic in the steps).
//
// Token layout: prompt tokens, then per step encode(step) + encode(marker) + encode(after), each piece
// tokenized on its own. Full re-scoring uses exactly the same tokens, so both modes agree to rounding;
// they differ from tokenizing the whole string at once only where a merge would cross a piece boundary.

import { AbortedError, ConfigError, ModelLoadError } from '../core/errors.ts';
import { getTemplate, type ChatTemplate } from '../core/prompt.ts';
import type { ScoreRequest, StepScorer } from '../core/types.ts';
import { defuseControlTokens } from './control-tokens.ts';
import { KvCache, type Forwarder, type Rows } from './kv-cache.ts';
import { checkHeadWidth, headMargin, isPrmHead, prmLayout, renderPrmPrompt, sigmoid, type PrmHead, type PrmLayout } from './prm-layout.ts';
import type { TjsModelOptions } from './tjs-options.ts';
import { brokenOutput, encode, loadTjs, type TjsLoaded } from './tjs-runtime.ts';
import { serialQueue } from './serial-queue.ts';

export interface TjsPrmOptions extends TjsModelOptions {
  /** Default: the head recorded in the folder's config.json by our builder (lm → lm-tag). */
  head?: PrmHead;
  /** Changes to the head's default layout (prompt pattern, marker, separator, good/bad tokens). */
  layout?: Partial<PrmLayout>;
  /** Chat template for the 'chat' prompt; default qwen2.5. */
  template?: ChatTemplate | string;
  /** false: every call re-scores all steps from scratch (slow; the reference behaviour). Default true. */
  incremental?: boolean;
  /** Tokens per forward call; default unlimited for value/two-class, 256 for lm-tag (vocabulary rows). */
  chunk?: number;
  id?: string;
}

/** What the last call ran. */
export interface ScoreReuse {
  /** Tokens of the whole input. */
  tokens: number;
  /** Tokens whose K/V came from the cache. */
  cachedTokens: number;
  /** Whether the cache lives in GPU buffers. */
  kvOnGpu: boolean;
}

export interface TjsPrm extends StepScorer {
  readonly head: PrmHead;
  readonly layout: PrmLayout;
  /** "tjs:<folder>#value (cpu, fp32)". */
  readonly description: string;
  readonly lastReuse: ScoreReuse | null;
  dispose(): Promise<void>;
}

export async function loadTjsPrm(o: TjsPrmOptions): Promise<TjsPrm> {
  const loaded = await loadTjs(o);
  try {
    return await tjsPrm(loaded, o);
  } catch (err) {
    await loaded.model.dispose();
    throw err;
  }
}

/** The head our builder wrote into config.json ("trim": {"head": …}); lm folders score with lm-tag. */
function recordedHead(config: Record<string, unknown>): PrmHead | null {
  const h = (config.trim as { head?: unknown } | undefined)?.head;
  if (h === 'lm') return 'lm-tag';
  return typeof h === 'string' && isPrmHead(h) ? h : null;
}

/** A scorer over an already loaded folder; checks the head against the model's output width. */
export async function tjsPrm(loaded: TjsLoaded, o: Omit<TjsPrmOptions, keyof TjsModelOptions> = {}): Promise<TjsPrm> {
  const head = o.head ?? recordedHead(loaded.config);
  if (!head) throw new ConfigError(`The folder ${loaded.label} does not say which PRM head it has: give --prm-head two-class, value or lm-tag.`);
  const layout = prmLayout(head, o.layout);
  const template = typeof o.template === 'object' ? o.template : getTemplate(o.template ?? 'qwen2.5');
  const { tokenizer } = loaded;
  const model = loaded.model as unknown as Forwarder;
  const cacheOptions = { maxPositions: loaded.maxPositions, chunk: o.chunk ?? (head === 'lm-tag' ? 256 : Number.MAX_SAFE_INTEGER) };
  const tagIds = { good: -1, bad: -1 };
  if (head === 'lm-tag') {
    tagIds.good = singleToken(layout.good, 'good');
    tagIds.bad = singleToken(layout.bad, 'bad');
  }
  function singleToken(text: string, role: string): number {
    const ids = encode(tokenizer, text);
    if (ids.length !== 1) throw new ConfigError(`The lm-tag ${role} token "${text}" is ${ids.length} tokens for this tokenizer; give a text that is exactly one token.`);
    return ids[0]!;
  }
  const bos = typeof tokenizer.bos_token === 'string' ? tokenizer.bos_token : '';
  const markerIds = encode(tokenizer, layout.marker);
  const afterIds = encode(tokenizer, layout.after);

  // One short run before use: a folder whose head is not the one asked for fails here, with advice.
  const probe = new KvCache(model, cacheOptions);
  let width = 0;
  await probe.extend(markerIds, { read: (rows) => (width = rows.width) });
  probe.dispose();
  checkHeadWidth(head, width, loaded.label);

  const incremental = o.incremental ?? true;
  const cache = new KvCache(model, cacheOptions);
  /** margins[i]: the head's margin at cached position i. */
  let margins: number[] = [];
  let lastReuse: ScoreReuse | null = null;
  const calls = serialQueue();

  const keepMargins = (into: number[]) => (rows: Rows, first: number) => {
    for (let j = 0; j < rows.count; j++) into[first + j] = headMargin(head, rows.data.subarray(j * rows.width, (j + 1) * rows.width), tagIds);
  };

  /** Tokens of the whole input, where each step's score is read, and where the last step starts. */
  function layoutTokens(r: ScoreRequest): { ids: number[]; at: number[]; lastStart: number } {
    const ids = encode(tokenizer, renderPrmPrompt(layout, template, defuseControlTokens(r.problem), bos));
    const at: number[] = [];
    let lastStart = ids.length;
    for (const step of r.steps) {
      lastStart = ids.length;
      ids.push(...encode(tokenizer, defuseControlTokens(step)), ...markerIds);
      at.push(ids.length - 1);
      ids.push(...afterIds);
    }
    return { ids, at, lastStart };
  }

  function scoresAt(m: readonly number[], at: readonly number[]): number[] {
    const scores = at.map((p) => sigmoid(m[p]!));
    if (scores.some(Number.isNaN)) throw new ModelLoadError(brokenOutput(loaded));
    return scores;
  }

  async function score(r: ScoreRequest): Promise<number[]> {
    if (r.signal?.aborted) throw new AbortedError();
    if (r.steps.length === 0) return [];
    const { ids, at, lastStart } = layoutTokens(r);
    const feed = r.signal ? { signal: r.signal } : {};
    if (!incremental) {
      const fresh = new KvCache(model, cacheOptions);
      const m: number[] = [];
      try {
        await fresh.extend(ids, { ...feed, read: keepMargins(m) });
      } finally {
        fresh.dispose();
      }
      lastReuse = { tokens: ids.length, cachedTokens: 0, kvOnGpu: false };
      return scoresAt(m, at);
    }
    const keep = cache.commonPrefix(ids);
    await cache.truncate(keep, r.signal);
    margins.length = cache.length;
    const read = keepMargins(margins);
    if (cache.length < lastStart) await cache.extend(ids.slice(cache.length, lastStart), { ...feed, read });
    // The accepted prefix ends here; if the last step is regenerated, the cache rolls back to this point.
    if (cache.length === lastStart) cache.mark();
    await cache.extend(ids.slice(cache.length), { ...feed, read });
    lastReuse = { tokens: ids.length, cachedTokens: keep, kvOnGpu: cache.onGpu };
    return scoresAt(margins, at);
  }

  return {
    id: o.id ?? `tjs:${loaded.label}#${head}`,
    where: 'device',
    head,
    layout,
    description: `tjs:${loaded.label}#${head} (${loaded.device}, ${loaded.dtype})`,
    get lastReuse() {
      return lastReuse;
    },
    score(r) {
      // One call at a time: the cache is shared state.
      return calls.run(() => score(r));
    },
    async dispose() {
      await calls.idle();
      cache.dispose();
      margins = [];
      await loaded.model.dispose();
    },
  };
}

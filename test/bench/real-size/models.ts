// The real-size benchmark's models: random weights at the exact shapes of the checkpoints the README
// recommends, written by the same writer `trim convert` uses (q4 only, external data past 1 GiB). They
// are built once into .cache/real-size/<key>/, where the key hashes the builder's sources and these
// configurations, so a change to src/onnx rebuilds them and nothing else does.
//
// Tokenizer: the project's byte-level tokenizer with its vocabulary padded to 151,936 ids (placeholder
// entries no text encodes to), since no real tokenizer files can be fetched here. Prompts are therefore
// one token per byte: longer in tokens than Qwen's BPE would make them, so the timings are conservative.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildRandomModel, type RandomModelOptions } from '../../../src/onnx/build-random.ts';
import { REPO_ROOT } from '../../helpers/paths.ts';

export interface RealSizeModel {
  id: string;
  /** The checkpoint whose config.json these shapes copy. */
  copies: string;
  options: RandomModelOptions;
}

const QWEN_VOCAB = 151_936;

export const SMALL: RealSizeModel = {
  id: 'qwen2.5-0.5b-lm',
  copies: 'Qwen/Qwen2.5-0.5B-Instruct',
  options: {
    head: 'lm', layers: 24, hidden: 896, heads: 14, kvHeads: 2, intermediate: 4864, vocab: QWEN_VOCAB,
    tie: true, maxPositions: 32_768, ropeTheta: 1_000_000, seed: 11, precisions: ['q4'], padVocab: true,
  },
};

/** Skywork's 1.5B PRM is Qwen2.5-Math-1.5B-Instruct with a value head: 4,096 positions, rope θ 10,000. */
export const PRM: RealSizeModel = {
  id: 'skywork-prm-1.5b-value',
  copies: 'Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B',
  options: {
    head: 'value', layers: 28, hidden: 1536, heads: 12, kvHeads: 2, intermediate: 8960, vocab: QWEN_VOCAB,
    tie: true, maxPositions: 4096, ropeTheta: 10_000, seed: 12, precisions: ['q4'], padVocab: true,
  },
};

export const CACHE_ROOT = join(REPO_ROOT, '.cache/real-size');

/**
 * The Skywork PRM's widths (hidden size, heads, KV heads, head size, MLP, vocabulary, tied embedding)
 * with only `layers` decoder layers: the per-step curve of a backend too slow for 28 layers (SwiftShader)
 * in minutes. Growth with the cache length shows there as it would at full depth, layer for layer.
 */
export function depthProxy(layers: number): RealSizeModel {
  if (!Number.isInteger(layers) || layers < 1 || layers >= PRM.options.layers!) {
    throw new Error(`--webgpu-depth-proxy wants a whole number of layers from 1 to ${PRM.options.layers! - 1}; got ${layers}`);
  }
  return { id: `${PRM.id}-${layers}-layers`, copies: `${PRM.copies} widths, ${layers} of ${PRM.options.layers} layers`, options: { ...PRM.options, layers } };
}
/** Its own cache root: realSizeModels removes other builds under a root, and the full-size ones must stay. */
export const PROXY_CACHE_ROOT = join(REPO_ROOT, '.cache/real-size-depth-proxy');

async function builderKey(models: readonly RealSizeModel[]): Promise<string> {
  const h = createHash('sha256');
  const dir = join(REPO_ROOT, 'src/onnx');
  for (const f of (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort()) h.update(f).update(await readFile(join(dir, f)));
  h.update(JSON.stringify(models));
  return h.digest('hex').slice(0, 16);
}

/** Folder of each model, built if this builder has not built it yet; older builds are removed (disk). */
export async function realSizeModels(models: readonly RealSizeModel[], log: (s: string) => void, cacheRoot = CACHE_ROOT): Promise<Record<string, string>> {
  const key = await builderKey(models);
  const root = join(cacheRoot, key);
  if (existsSync(cacheRoot)) {
    for (const old of await readdir(cacheRoot)) if (old !== key) await rm(join(cacheRoot, old), { recursive: true, force: true });
  }
  const out: Record<string, string> = {};
  for (const m of models) {
    const dir = join(root, m.id);
    if (!existsSync(join(dir, 'config.json'))) {
      log(`building ${m.id} (${m.copies} shapes, random weights, q4) into ${dir} …`);
      const t0 = performance.now();
      await buildRandomModel(dir, { ...m.options, overwrite: true, onProgress: (s) => log(`  ${m.id}: ${s}`) });
      log(`  ${m.id} built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    out[m.id] = dir;
  }
  return out;
}

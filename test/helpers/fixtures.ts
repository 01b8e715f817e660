// Tiny models built by src/onnx for tests, cached in .cache/fixtures under a hash of their options and of
// the builder's own source (a changed builder never serves a stale model). Never committed.
//
// Load one in transformers.js with env.localModelPath = fixture.root and the model id fixture.name.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildRandomModel, randomModelSpec, type RandomModelOptions } from '../../src/onnx/build-random.ts';
import { randomWeights } from '../../src/onnx/random-weights.ts';
import type { Qwen2Spec } from '../../src/onnx/spec.ts';
import type { WeightSource } from '../../src/onnx/weights.ts';
import { FIXTURE_CACHE, REPO_ROOT } from './paths.ts';

export interface Fixture {
  /** Folder holding the model (config.json, tokenizer.json, onnx/…). */
  dir: string;
  /** Parent folder: transformers.js env.localModelPath. */
  root: string;
  /** Model id relative to root. */
  name: string;
  spec: Qwen2Spec;
  /** The model's weights, regenerated from its seed (for the reference forward pass). */
  weights: WeightSource;
}

let builderHash: string | null = null;

function hashBuilderSource(): string {
  if (builderHash) return builderHash;
  const dir = resolve(REPO_ROOT, 'src/onnx');
  const h = createHash('sha256');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
    h.update(f).update(readFileSync(join(dir, f)));
  }
  builderHash = h.digest('hex').slice(0, 12);
  return builderHash;
}

function keyOf(o: RandomModelOptions): string {
  const canonical = JSON.stringify(o, Object.keys(o).sort());
  return createHash('sha256').update(canonical).update(hashBuilderSource()).digest('hex').slice(0, 16);
}

/** Builds (or reuses) a random-weight model; defaults: lm head, 2 layers, hidden 64, 4/2 heads, fp32. */
export async function tinyModel(opts: Omit<RandomModelOptions, 'overwrite'> = {}): Promise<Fixture> {
  const name = `${opts.head ?? 'lm'}-${keyOf(opts)}`;
  const dir = join(FIXTURE_CACHE, name);
  const spec = randomModelSpec(opts);
  if (!existsSync(join(dir, 'config.json'))) {
    // Build aside and rename: parallel test workers may race for the same fixture; the loser discards its copy.
    const scratch = `${dir}.build-${process.pid}-${Date.now()}`;
    await buildRandomModel(scratch, opts);
    try {
      await rename(scratch, dir);
    } catch (err) {
      await rm(scratch, { recursive: true, force: true });
      if (!existsSync(join(dir, 'config.json'))) throw err;
    }
  }
  return { dir, root: FIXTURE_CACHE + '/', name, spec, weights: randomWeights(spec, opts.seed ?? 0) };
}

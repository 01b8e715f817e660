// Converting Hugging Face safetensors checkpoints the test writes itself: single file and shards, tied and
// untied, F32/F16/BF16, every head; the converted model must compute what the checkpoint's weights say.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoModel, AutoModelForCausalLM } from '@huggingface/transformers';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { convertCheckpoint } from '../src/onnx/convert.ts';
import { CheckpointError, SafetensorsFormatError } from '../src/onnx/errors.ts';
import { effectiveWeights, type Precision } from '../src/onnx/precision.ts';
import { randomModelSpec } from '../src/onnx/build-random.ts';
import { randomWeights } from '../src/onnx/random-weights.ts';
import { referenceForward } from '../src/onnx/reference.ts';
import type { HeadKind, Qwen2Spec } from '../src/onnx/spec.ts';
import { mapSource, readAll, type Tensor32 } from '../src/onnx/weights.ts';
import { OutputExistsError, writeModelFolder } from '../src/onnx/write-model.ts';
import { roundToBf16, roundToHalf, writeCheckpoint, type CheckpointOptions } from './helpers/checkpoint.ts';
import { forward, maxAbsDiff, useLocalModels } from './helpers/tjs.ts';
import { mulberry32 } from '../src/core/rng.ts';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'trim-convert-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function tokens(n: number, seed: number): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rng() * 260));
}

async function weightsFor(spec: Qwen2Spec, seed: number): Promise<Map<string, Tensor32>> {
  return readAll(spec, randomWeights(spec, seed));
}

const ROUND = { F32: (d: Float32Array) => d, BF16: roundToBf16, F16: roundToHalf } as const;

interface Case {
  label: string;
  head: HeadKind;
  tie: boolean;
  ckpt: CheckpointOptions;
  precision: Precision;
  /** Tensors the checkpoint carries beyond what the head needs (they must be ignored). */
  extra?: boolean;
}

const cases: Case[] = [
  { label: 'lm tied, F32, single file', head: 'lm', tie: true, ckpt: { dtype: 'F32' }, precision: 'fp32' },
  { label: 'lm untied, BF16, 3 shards', head: 'lm', tie: false, ckpt: { dtype: 'BF16', shards: 3 }, precision: 'fp32' },
  { label: 'lm untied, BF16, 2 shards, q4', head: 'lm', tie: false, ckpt: { dtype: 'BF16', shards: 2 }, precision: 'q4' },
  { label: 'value, F16, wrapper prefix, extra lm_head', head: 'value', tie: true, ckpt: { dtype: 'F16', prefix: 'pretrained_model.' }, precision: 'fp32', extra: true },
  { label: 'value, BF16, q4', head: 'value', tie: false, ckpt: { dtype: 'BF16' }, precision: 'q4' },
  { label: 'two-class, BF16, 4 shards', head: 'two-class', tie: false, ckpt: { dtype: 'BF16', shards: 4 }, precision: 'fp32', extra: true },
  { label: 'two-class, F32, q4', head: 'two-class', tie: true, ckpt: { dtype: 'F32' }, precision: 'q4' },
];

describe.each(cases)('convert $label', (c) => {
  it('loads in transformers.js and matches the reference on the checkpoint weights', async () => {
    const spec = randomModelSpec({ head: c.head, tie: c.tie });
    const weights = await weightsFor(spec, 3);
    const saved = new Map(weights);
    if (c.extra) saved.set('lm_head.weight', { shape: [spec.vocabSize, spec.hiddenSize], data: new Float32Array(spec.vocabSize * spec.hiddenSize).fill(9) });
    const ckptDir = join(work, `ckpt-${c.label.replace(/\W+/g, '-')}`);
    await writeCheckpoint(ckptDir, spec, saved, c.ckpt);
    const outName = `out-${basename(ckptDir)}`;
    const written = await convertCheckpoint({ checkpoint: ckptDir, outDir: join(work, outName), head: c.head, precisions: [c.precision] });
    expect(written.spec).toEqual(spec);
    expect(await readFile(join(work, outName, 'tokenizer.json'), 'utf8')).toBe(await readFile(join(ckptDir, 'tokenizer.json'), 'utf8'));
    const config = JSON.parse(await readFile(join(work, outName, 'config.json'), 'utf8'));
    expect(config.trim).toMatchObject({ head: c.head, source: 'checkpoint', checkpoint_torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[c.ckpt.dtype] });
    expect(config['transformers.js_config'].dtype).toBe(c.precision);

    // What the model should compute: the weights as stored in the checkpoint's dtype.
    const stored = new Map([...weights].map(([n, t]) => [n, { shape: t.shape, data: ROUND[c.ckpt.dtype](t.data) }]));
    const expected = await effectiveWeights(spec, mapSource(stored), c.precision);
    useLocalModels(work + '/');
    const Auto = c.head === 'lm' ? AutoModelForCausalLM : AutoModel;
    const model = await Auto.from_pretrained(outName, { dtype: c.precision, device: 'cpu' });
    const ids = tokens(17, 5);
    const got = await forward(model, [ids]);
    const ref = referenceForward(spec, expected, { inputIds: [ids] });
    expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThan(1e-4);
    // The dtype rounding is real: the unrounded weights give a measurably different answer.
    if (c.ckpt.dtype !== 'F32') {
      const unrounded = referenceForward(spec, await effectiveWeights(spec, mapSource(weights), c.precision), { inputIds: [ids] });
      expect(maxAbsDiff(got.logits, unrounded.logits)).toBeGreaterThan(1e-4);
    }
    await (model as { dispose(): Promise<unknown> }).dispose();
  });
});

describe('conversion failures say what to do and lose nothing', () => {
  let spec: Qwen2Spec;
  let weights: Map<string, Tensor32>;
  beforeAll(async () => {
    spec = randomModelSpec({ head: 'value', layers: 1 });
    weights = await weightsFor(spec, 4);
  });

  async function ckpt(name: string, o: CheckpointOptions = { dtype: 'BF16' }, w = weights): Promise<string> {
    const dir = join(work, name);
    await writeCheckpoint(dir, spec, w, o);
    return dir;
  }

  it('names the head the checkpoint does have', async () => {
    const dir = await ckpt('wrong-head');
    const err = await convertCheckpoint({ checkpoint: dir, outDir: join(work, 'wrong-head-out'), head: 'two-class', precisions: ['fp32'] }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/no two-class head.*--head value/);
    expect(existsSync(join(work, 'wrong-head-out'))).toBe(false);
  });

  it('reports a missing shard', async () => {
    const dir = await ckpt('missing-shard', { dtype: 'BF16', shards: 2 });
    await rm(join(dir, 'model-00002-of-00002.safetensors'));
    await expect(convertCheckpoint({ checkpoint: dir, outDir: join(work, 'ms-out'), head: 'value', precisions: ['fp32'] })).rejects.toThrow(
      /model-00002-of-00002\.safetensors.*missing/,
    );
  });

  it('reports a truncated weight file', async () => {
    const dir = await ckpt('truncated', { dtype: 'F32' });
    const file = join(dir, 'model.safetensors');
    await truncate(file, (await readFile(file)).byteLength - 100);
    const err = await convertCheckpoint({ checkpoint: dir, outDir: join(work, 'tr-out'), head: 'value', precisions: ['fp32'] }).catch((e) => e);
    expect(err).toBeInstanceOf(SafetensorsFormatError);
    expect(err.message).toMatch(/truncated/);
  });

  it('reports a weight whose shape disagrees with config.json', async () => {
    const dir = await ckpt('bad-shape', { dtype: 'F32', config: { intermediate_size: spec.intermediateSize + 1 } });
    await expect(convertCheckpoint({ checkpoint: dir, outDir: join(work, 'bs-out'), head: 'value', precisions: ['fp32'] })).rejects.toThrow(
      /mlp\.gate_proj\.weight" has shape \[\d+,\d+\] but config\.json implies/,
    );
  });

  it('refuses a config that claims more layers than the checkpoint holds, without trying to build them', async () => {
    const dir = await ckpt('many-layers', { dtype: 'F32', config: { num_hidden_layers: 10_000_000 } });
    await expect(convertCheckpoint({ checkpoint: dir, outDir: join(work, 'ml-out'), head: 'value', precisions: ['fp32'] })).rejects.toThrow(
      /says 10000000 layers .* only \d+ tensors/,
    );
  });

  it('refuses other architectures and rope scaling it does not implement', async () => {
    const llama = await ckpt('llama', { dtype: 'F32', config: { model_type: 'llama' } });
    await expect(convertCheckpoint({ checkpoint: llama, outDir: join(work, 'l-out'), head: 'value', precisions: ['fp32'] })).rejects.toThrow(/only qwen2/);
    const yarn = await ckpt('yarn', { dtype: 'F32', config: { rope_scaling: { type: 'yarn', factor: 4 } } });
    await expect(convertCheckpoint({ checkpoint: yarn, outDir: join(work, 'y-out'), head: 'value', precisions: ['fp32'] })).rejects.toThrow(/rope_scaling/);
  });

  it('refuses PyTorch .bin checkpoints with a clear message', async () => {
    const dir = join(work, 'bin-only');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), '{"model_type":"qwen2"}');
    await writeFile(join(dir, 'pytorch_model.bin'), 'x');
    await expect(convertCheckpoint({ checkpoint: dir, outDir: join(work, 'b-out'), head: 'value', precisions: ['fp32'] })).rejects.toThrow(/safetensors/);
  });

  it('never overwrites a non-empty folder without being told, and leaves no partial folder behind', async () => {
    const dir = await ckpt('good');
    const out = join(work, 'occupied');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'notes.txt'), 'mine');
    await expect(convertCheckpoint({ checkpoint: dir, outDir: out, head: 'value', precisions: ['fp32'] })).rejects.toBeInstanceOf(OutputExistsError);
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    // A failure in the middle of writing: the source dies after a few tensors.
    let reads = 0;
    const dying = { read: async (name: string) => {
      if (++reads > 4) throw new Error('disk went away');
      return weights.get(name)!;
    } };
    await expect(writeModelFolder({
      outDir: join(work, 'dying-out'), spec, source: dying, precisions: ['fp32'],
      tokenizer: { json: { 'tokenizer.json': {} } }, provenance: { source: 'test' }, externalData: 'always',
    })).rejects.toThrow(/disk went away/);
    expect(reads).toBe(5);
    expect(existsSync(join(work, 'dying-out'))).toBe(false);
    expect(readdirSync(dirname(out)).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});

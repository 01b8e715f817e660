// Built models load in transformers.js and compute what HF Qwen2 computes: every head, fp32 and q4, with
// and without the KV cache, checked against the independent reference forward pass.

import { beforeAll, describe, expect, it } from 'vitest';
import { AutoModel, AutoModelForCausalLM, Tensor } from '@huggingface/transformers';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyModel, type Fixture } from './helpers/fixtures.ts';
import type { RandomModelOptions } from '../src/onnx/build-random.ts';
import { forward, maxAbsDiff, presentOf, rowsOf, useLocalModels } from './helpers/tjs.ts';
import { referenceForward } from '../src/onnx/reference.ts';
import { effectiveWeights, type Precision } from '../src/onnx/precision.ts';
import type { HeadKind } from '../src/onnx/spec.ts';
import type { Tensor32 } from '../src/onnx/weights.ts';
import { randomModelSpec } from '../src/onnx/build-random.ts';
import { randomWeights } from '../src/onnx/random-weights.ts';
import { tinyTokenizer } from '../src/onnx/tokenizer.ts';
import { writeModelFolder } from '../src/onnx/write-model.ts';
import { mulberry32 } from '../src/core/rng.ts';

const FP32_TOL = 1e-4;
// MatMulNBits dequantizes exactly but sums in a different order than the reference; same bound.
const Q4_TOL = 1e-4;

function tokens(n: number, seed: number, vocab = 260): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rng() * vocab));
}

interface Loaded {
  fx: Fixture;
  model: unknown;
  weights: Map<string, Tensor32>;
}

type Shape = Pick<RandomModelOptions, 'tie' | 'hidden' | 'heads' | 'kvHeads' | 'intermediate' | 'layers'>;

async function load(head: HeadKind, precision: Precision, shape: Shape = {}): Promise<Loaded> {
  const fx = await tinyModel({ head, precisions: ['fp32', 'q4'], seed: 7, ...shape });
  useLocalModels(fx.root);
  const Auto = head === 'lm' ? AutoModelForCausalLM : AutoModel;
  const model = await Auto.from_pretrained(fx.name, { dtype: precision, device: 'cpu' });
  return { fx, model, weights: await effectiveWeights(fx.spec, fx.weights, precision) };
}

const cases: { head: HeadKind; precision: Precision; shape?: Shape }[] = [
  { head: 'lm', precision: 'fp32' },
  { head: 'lm', precision: 'fp32', shape: { tie: false } },
  { head: 'lm', precision: 'q4' },
  { head: 'lm', precision: 'q4', shape: { tie: false } },
  { head: 'value', precision: 'fp32' },
  { head: 'value', precision: 'q4' },
  { head: 'two-class', precision: 'fp32' },
  { head: 'two-class', precision: 'q4' },
  // Odd block counts and zero-padded blocks in every MatMulNBits (K = 96 and 80), 3 layers, 6/2 heads.
  { head: 'value', precision: 'q4', shape: { hidden: 96, heads: 6, kvHeads: 2, intermediate: 80, layers: 3 } },
  { head: 'lm', precision: 'fp32', shape: { hidden: 96, heads: 6, kvHeads: 1, intermediate: 80, layers: 3, tie: false } },
];

describe.each(cases)('$head head, $precision, $shape', ({ head, precision, shape }) => {
  let m: Loaded;
  const tol = precision === 'fp32' ? FP32_TOL : Q4_TOL;
  beforeAll(async () => {
    m = await load(head, precision, shape);
  });

  it('declares the KV-cache interface transformers.js feeds', async () => {
    const session = (m.model as { sessions: { model: { inputNames: string[]; outputNames: string[] } } }).sessions.model;
    const L = m.fx.spec.numLayers;
    expect(session.inputNames).toEqual([
      'input_ids', 'attention_mask', 'position_ids',
      ...Array.from({ length: L }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat(),
    ]);
    expect(session.outputNames).toEqual([
      'logits', ...Array.from({ length: L }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat(),
    ]);
  });

  it('agrees with the reference on a full prefill (logits and cache)', async () => {
    const ids = tokens(23, 11);
    const got = await forward(m.model, [ids]);
    const ref = referenceForward(m.fx.spec, m.weights, { inputIds: [ids] });
    expect(got.dims).toEqual([1, ids.length, ref.width]);
    expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThan(tol);
    // Logits that barely vary would let a broken graph pass.
    const spread = Math.max(...ref.logits) - Math.min(...ref.logits);
    expect(spread).toBeGreaterThan(1);
    for (let l = 0; l < m.fx.spec.numLayers; l++) {
      const p = presentOf(got.past, l);
      expect(p.length).toBe(ids.length);
      expect(maxAbsDiff(p.key, ref.present[l]!.key)).toBeLessThan(tol);
      expect(maxAbsDiff(p.value, ref.present[l]!.value)).toBeLessThan(tol);
    }
  });

  it('prefill N-k then k cached steps equals prefill N', async () => {
    const ids = tokens(20, 12);
    const full = await forward(m.model, [ids]);
    const width = full.dims[2]!;
    const k = 5;
    const first = await forward(m.model, [ids.slice(0, ids.length - k)]);
    let past = first.past;
    const stepped: Float32Array[] = [rowsOf(first.logits, width, 0, ids.length - k)];
    for (let i = ids.length - k; i < ids.length; i++) {
      const step = await forward(m.model, [[ids[i]!]], { past, positions: [[i]] });
      stepped.push(step.logits);
      past = step.past;
    }
    const joined = new Float32Array(full.logits.length);
    let off = 0;
    for (const s of stepped) {
      joined.set(s, off);
      off += s.length;
    }
    expect(maxAbsDiff(joined, full.logits)).toBeLessThan(tol);
    // A multi-token chunk on top of a cache (how a PRM scores a new step) agrees too.
    const chunked = await forward(m.model, [ids.slice(12)], { past: (await forward(m.model, [ids.slice(0, 12)])).past });
    expect(maxAbsDiff(chunked.logits, rowsOf(full.logits, width, 12, ids.length))).toBeLessThan(tol);
  });
});

describe('masking and positions', () => {
  let m: Loaded;
  beforeAll(async () => {
    m = await load('lm', 'fp32');
  });

  it('left-padded batch matches the reference with the same mask and positions', async () => {
    const a = tokens(9, 21);
    const b = tokens(6, 22);
    const pad = a.length - b.length;
    const ids = [a, [...new Array<number>(pad).fill(256), ...b]];
    const mask = [a.map(() => 1), [...new Array<number>(pad).fill(0), ...b.map(() => 1)]];
    const positions = [a.map((_, i) => i), [...new Array<number>(pad).fill(1), ...b.map((_, i) => i)]];
    const got = await forward(m.model, ids, { mask, positions });
    const ref = referenceForward(m.fx.spec, m.weights, { inputIds: ids, attentionMask: mask, positionIds: positions });
    expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThan(FP32_TOL);
    // The padded row's real tokens see exactly what the unpadded sequence sees.
    const alone = referenceForward(m.fx.spec, m.weights, { inputIds: [b] });
    const width = ref.width;
    const row = got.logits.slice((a.length + pad) * width, 2 * a.length * width);
    expect(maxAbsDiff(row, alone.logits)).toBeLessThan(FP32_TOL);
  });

  it('position_ids are taken from the input, not from the cache length', async () => {
    const ids = tokens(8, 23);
    // Rotary attention only sees position differences, so open a gap rather than shift everything.
    const shifted = ids.map((_, i) => (i < 4 ? i : i + 100));
    const got = await forward(m.model, [ids], { positions: [shifted] });
    const ref = referenceForward(m.fx.spec, m.weights, { inputIds: [ids], positionIds: [shifted] });
    const unshifted = referenceForward(m.fx.spec, m.weights, { inputIds: [ids] });
    expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThan(FP32_TOL);
    expect(maxAbsDiff(got.logits, unshifted.logits)).toBeGreaterThan(1e-3);
  });

  it('generate() with the KV cache follows the reference greedy path', async () => {
    const prompt = tokens(7, 24);
    const out = (await (m.model as { generate(o: unknown): Promise<Tensor> }).generate({
      input_ids: new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]),
      attention_mask: new Tensor('int64', BigInt64Array.from(prompt.map(() => 1n)), [1, prompt.length]),
      max_new_tokens: 6,
      do_sample: false,
      eos_token_id: [],
    })).tolist()[0]!.map(Number);
    const seq = [...prompt];
    for (let i = 0; i < 6; i++) {
      const r = referenceForward(m.fx.spec, m.weights, { inputIds: [seq] });
      const last = r.logits.slice((seq.length - 1) * r.width, seq.length * r.width);
      seq.push(last.indexOf(Math.max(...last)));
    }
    expect(out).toEqual(seq);
  });
});

describe('folder layout', () => {
  it('writes the transformers.js files with a config HF and transformers.js both read', async () => {
    const fx = await tinyModel({ head: 'two-class', precisions: ['fp32', 'q4'], seed: 7 });
    const config = JSON.parse(await readFile(join(fx.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({
      model_type: 'qwen2',
      architectures: ['Qwen2ForProcessRewardModel'],
      hidden_size: 64,
      intermediate_size: fx.spec.intermediateSize,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 260,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      bos_token_id: 256,
      eos_token_id: 258,
      'transformers.js_config': { dtype: 'fp32' },
      trim: { head: 'two-class', logits_width: 2, source: 'random', seed: 7 },
    });
    const gen = JSON.parse(await readFile(join(fx.dir, 'generation_config.json'), 'utf8'));
    expect(gen).toMatchObject({ eos_token_id: [258, 256], temperature: 0.7, top_p: 0.8, top_k: 20 });
  });
});

describe('external data', () => {
  it('splits large weights into chunk files that transformers.js loads', async () => {
    const root = await mkdtemp(join(tmpdir(), 'trim-extdata-'));
    try {
      const spec = randomModelSpec({ head: 'value' });
      const source = randomWeights(spec, 5);
      const written = await writeModelFolder({
        outDir: join(root, 'm'), spec, source, precisions: ['fp32', 'q4'],
        tokenizer: { json: { 'tokenizer.json': tinyTokenizer().tokenizer, 'tokenizer_config.json': tinyTokenizer().config } },
        provenance: { source: 'test' }, externalData: 'always', chunkBytes: 100_000,
      });
      const chunks = Object.keys(written.files).filter((f) => f.startsWith('onnx/model.onnx_data'));
      expect(chunks.length).toBeGreaterThan(2);
      expect(chunks).toContain('onnx/model.onnx_data_1');
      expect(written.files['onnx/model.onnx']!).toBeLessThan(50_000);
      const config = JSON.parse(await readFile(join(root, 'm', 'config.json'), 'utf8'));
      expect(config['transformers.js_config'].use_external_data_format['model.onnx']).toBe(chunks.length);
      useLocalModels(root + '/');
      const ids = tokens(12, 31);
      for (const precision of ['fp32', 'q4'] as const) {
        const model = await AutoModel.from_pretrained('m', { dtype: precision, device: 'cpu' });
        const got = await forward(model, [ids]);
        const ref = referenceForward(spec, await effectiveWeights(spec, source, precision), { inputIds: [ids] });
        expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThan(1e-4);
        await (model as { dispose(): Promise<unknown> }).dispose();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

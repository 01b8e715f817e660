// The Qwen2 decoder as an ONNX graph with the KV-cache interface transformers.js feeds decoder-only models:
//   inputs  input_ids [B,S] int64, attention_mask [B,T] int64, position_ids [B,S] int64,
//           past_key_values.{i}.key|value [B, kvHeads, P, headDim] float32   (T = P + S)
//   outputs logits [B,S,W] float32 (W = vocab | 1 | 2 by head), present.{i}.key|value [B, kvHeads, T, headDim]
// Past/present dims other than batch and length are fixed numbers: transformers.js builds the empty
// first-step cache from them. Every head names its output `logits`, so `model.forward()` returns it
// whether the folder is loaded with AutoModel or AutoModelForCausalLM.
//
// Mirrors HF Qwen2 (eager attention): RMSNorm, rotary embeddings with rotate_half on positions taken from
// position_ids, grouped-query attention with q/k/v biases, a causal mask over cache positions combined
// with attention_mask, SwiGLU MLP, tied or untied lm head.
//
// Attention itself is ONNX Runtime's com.microsoft MultiHeadAttention over the cache's KV heads expanded to
// every query head, the mask given as an additive bias. Written as plain MatMuls (Q·Kᵀ and P·V over the
// cache), it cost about twice as much on WebGPU (SwiftShader) and on WASM at 1,900 cached tokens, and
// those products were what made a PRM step's time grow with the solution on SwiftShader
// (test/bench/real-size/attention-probe.ts). GroupQueryAttention would skip the expansion, but its WASM
// kernel is 6-15× slower than this and its seqlens_k reads padding as right padding, which a batch of
// left-padded prompts is not. On WebGPU see src/backends/webgpu-subgroups.ts.

import { bytesOf, GraphBuilder } from './onnx-graph.ts';
import { isQuantizedLinear, type Precision } from './precision.ts';
import { quantizeQ4, Q4_BLOCK_SIZE, type Q4Weight } from './quantize-q4.ts';
import { outputWidth, type Qwen2Spec } from './spec.ts';
import { expectedTensors, lmHeadName, type Tensor32, type WeightSource } from './weights.ts';
import { CheckpointError } from './errors.ts';

/** torch.finfo(float32).min, which HF uses for masked scores (a fully masked row stays finite). */
const MASK_MIN = -3.4028234663852886e38;
const ONNX_FLOAT = 1;
const ONNX_BOOL = 9;

export const DIMS = { batch: 'batch_size', seq: 'sequence_length', total: 'total_sequence_length', past: 'past_sequence_length' } as const;

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}

class Weights {
  private q4: { name: string; q: Q4Weight } | null = null;
  private readonly shapes: Map<string, number[]>;

  constructor(private readonly spec: Qwen2Spec, private readonly source: WeightSource) {
    this.shapes = expectedTensors(spec);
    this.shapes.set('lm_head.weight', [spec.vocabSize, spec.hiddenSize]);
  }

  async read(name: string): Promise<Tensor32> {
    const t = await this.source.read(name);
    const want = this.shapes.get(name);
    if (!want || t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new CheckpointError(
        `Tensor "${name}" has shape [${t.shape}] but this model needs [${want}]. Check that config.json matches the weights.`,
      );
    }
    return t;
  }

  /** The three MatMulNBits tensors come from one quantization; keep it while they are written. */
  async quantized(name: string): Promise<Q4Weight> {
    if (this.q4?.name !== name) {
      const t = await this.read(name);
      this.q4 = { name, q: quantizeQ4(t.data, t.shape[0]!, t.shape[1]!) };
    }
    return this.q4.q;
  }
}

/** Builds the graph; weight bytes are produced lazily, in initializer order, when a writer asks for them. */
export function buildQwen2Graph(spec: Qwen2Spec, source: WeightSource, precision: Precision): GraphBuilder {
  const g = new GraphBuilder(`qwen2-${spec.head}-${precision}`);
  const w = new Weights(spec, source);
  const { batch: B, seq: S, total: T, past: P } = DIMS;
  const H = spec.hiddenSize;
  const D = spec.headDim;
  const KV = spec.numKvHeads;
  const groups = spec.numHeads / spec.numKvHeads;

  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const attentionMask = g.input('attention_mask', 'int64', [B, T]);
  const positionIds = g.input('position_ids', 'int64', [B, S]);
  const past: { key: string; value: string }[] = [];
  for (let i = 0; i < spec.numLayers; i++) {
    past.push({
      key: g.input(`past_key_values.${i}.key`, 'float32', [B, KV, P, D]),
      value: g.input(`past_key_values.${i}.value`, 'float32', [B, KV, P, D]),
    });
  }

  const vector = (name: string): string =>
    g.initializer(name, 'float32', expectedTensors(spec).get(name)!, async () => bytesOf((await w.read(name)).data));

  /** x @ W^T for an HF Linear weight W [N, K] (+ bias). */
  const linear = (x: string, weightName: string, biasName?: string, sourceName = weightName): string => {
    const [n, k] = (weightName === 'lm_head.weight' ? [spec.vocabSize, H] : expectedTensors(spec).get(weightName)!) as [number, number];
    let y: string;
    if (isQuantizedLinear(weightName, precision)) {
      const kBlocks = Math.ceil(k / Q4_BLOCK_SIZE);
      const b = g.initializer(`${weightName}_Q4`, 'uint8', [n, kBlocks, Q4_BLOCK_SIZE / 2], async () => (await w.quantized(sourceName)).packed);
      const s = g.initializer(`${weightName}_scales`, 'float32', [n * kBlocks], async () => bytesOf((await w.quantized(sourceName)).scales));
      const z = g.initializer(`${weightName}_zero_points`, 'uint8', [n * Math.ceil(kBlocks / 2)], async () => (await w.quantized(sourceName)).zeroPoints);
      y = g.op('MatMulNBits', [x, b, s, z], { K: { int: k }, N: { int: n }, bits: { int: 4 }, block_size: { int: Q4_BLOCK_SIZE } }, { domain: 'com.microsoft' });
    } else {
      const wt = g.initializer(`${weightName}_T`, 'float32', [k, n], async () => bytesOf(transpose2d((await w.read(sourceName)).data, n, k)));
      y = g.op('MatMul', [x, wt]);
    }
    return biasName ? g.op('Add', [y, vector(biasName)]) : y;
  };

  const rmsNorm = (x: string, weightName: string): string => {
    const variance = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: { ints: [2] }, keepdims: { int: 1 } });
    const denom = g.op('Sqrt', [g.op('Add', [variance, g.float([spec.rmsNormEps], [])])]);
    return g.op('Mul', [g.op('Div', [x, denom]), vector(weightName)]);
  };

  const embedName = 'model.embed_tokens.weight';
  const embed = g.initializer(embedName, 'float32', [spec.vocabSize, H], async () => bytesOf((await w.read(embedName)).data));
  let x = g.op('Gather', [embed, inputIds], { axis: { int: 0 } });

  // Rotary tables from position_ids: emb = [pos·invFreq, pos·invFreq], as HF computes them in float32.
  const invFreq = Array.from({ length: D / 2 }, (_, i) => 1 / spec.ropeTheta ** ((2 * i) / D));
  const pos = g.op('Unsqueeze', [g.op('Cast', [positionIds], { to: { int: ONNX_FLOAT } }), g.int64([2])]);
  const freqs = g.op('Mul', [pos, g.float(invFreq)]);
  const emb = g.op('Concat', [freqs, freqs], { axis: { int: 2 } });
  const cos = g.op('Cos', [emb]);
  const sin = g.op('Sin', [emb]);
  // [B,S,1,D]: broadcast over heads, which stay in the third axis (BSND) until K joins the cache.
  // Positive axes throughout: WebGPU kernels are picky about negative ones.
  const cos4 = g.op('Unsqueeze', [cos, g.int64([2])]);
  const sin4 = g.op('Unsqueeze', [sin, g.int64([2])]);
  const rope = (t: string): string => {
    const [a, b] = g.node('Split', [t], { axis: { int: 3 } }, { n: 2 }) as [string, string];
    const rotated = g.op('Concat', [g.op('Neg', [b]), a], { axis: { int: 3 } });
    return g.op('Add', [g.op('Mul', [t, cos4]), g.op('Mul', [rotated, sin4])]);
  };

  // Additive bias [B,1,S,T]: key j is visible to query i iff j <= past + i and attention_mask[b, j] is set;
  // a hidden key gets MASK_MIN (a fully hidden row stays finite and uniform, as in HF).
  const one = g.int64([1], []);
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), one], { axis: { int: 0 } });
  const totalLen = g.op('Gather', [g.op('Shape', [attentionMask]), one], { axis: { int: 0 } });
  const pastLen = g.op('Sub', [totalLen, seqLen]);
  const keyIdx = g.op('Range', [g.int64([0], []), totalLen, one]);
  const queryIdx = g.op('Unsqueeze', [g.op('Range', [pastLen, totalLen, one]), g.int64([1])]);
  const causal = g.op('LessOrEqual', [keyIdx, queryIdx]);
  const padding = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: { int: ONNX_BOOL } }), g.int64([1, 2])]);
  const bias = g.op('Where', [g.op('And', [padding, causal]), g.float([0], []), g.float([MASK_MIN], [])]);
  /** [B,KV,T,D] -> [B,heads,T,D]: query head h reads KV head floor(h / groups), as repeat_kv. */
  const repeatKv = (t: string): string =>
    g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [t, g.int64([2])]), g.int64([1, 1, groups, 1, 1])]), g.int64([0, spec.numHeads, -1, D])]);

  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`);
    const q = linear(h, `${p}.self_attn.q_proj.weight`, `${p}.self_attn.q_proj.bias`);
    const k = linear(h, `${p}.self_attn.k_proj.weight`, `${p}.self_attn.k_proj.bias`);
    const v = linear(h, `${p}.self_attn.v_proj.weight`, `${p}.self_attn.v_proj.bias`);
    const bsnd = (t: string, n: number): string => g.op('Reshape', [t, g.int64([0, 0, n, D])]);
    const toCache = (t: string): string => g.op('Transpose', [t], { perm: { ints: [0, 2, 1, 3] } });
    const qRot = g.op('Reshape', [rope(bsnd(q, spec.numHeads)), g.int64([0, 0, spec.numHeads * D])]);
    const presentK = g.op('Concat', [past[i]!.key, toCache(rope(bsnd(k, KV)))], { axis: { int: 2 } }, { out: `present.${i}.key` });
    const presentV = g.op('Concat', [past[i]!.value, toCache(bsnd(v, KV))], { axis: { int: 2 } }, { out: `present.${i}.value` });
    const attn = g.op('MultiHeadAttention', [qRot, repeatKv(presentK), repeatKv(presentV), '', '', bias], { num_heads: { int: spec.numHeads }, scale: { float: 1 / Math.sqrt(D) } }, { domain: 'com.microsoft' });
    x = g.op('Add', [x, linear(attn, `${p}.self_attn.o_proj.weight`)]);

    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const gate = linear(h2, `${p}.mlp.gate_proj.weight`);
    const up = linear(h2, `${p}.mlp.up_proj.weight`);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    x = g.op('Add', [x, linear(act, `${p}.mlp.down_proj.weight`)]);
  }

  const hidden = rmsNorm(x, 'model.norm.weight');
  let logits: string;
  switch (spec.head) {
    case 'lm':
      if (spec.tieWordEmbeddings && precision === 'fp32') {
        // Tied: multiply by the stored embedding instead of storing its transpose a second time.
        logits = g.op('MatMul', [hidden, g.op('Transpose', [embed], { perm: { ints: [1, 0] } })]);
      } else {
        logits = linear(hidden, 'lm_head.weight', undefined, lmHeadName(spec));
      }
      break;
    case 'value':
      logits = linear(hidden, 'v_head.summary.weight', 'v_head.summary.bias');
      break;
    case 'two-class':
      logits = linear(g.op('Relu', [linear(hidden, 'score.0.weight', 'score.0.bias')]), 'score.2.weight', 'score.2.bias');
      break;
  }
  g.op('Identity', [logits], {}, { out: 'logits' });

  g.output('logits', 'float32', [B, S, outputWidth(spec)]);
  for (let i = 0; i < spec.numLayers; i++) {
    g.output(`present.${i}.key`, 'float32', [B, KV, T, D]);
    g.output(`present.${i}.value`, 'float32', [B, KV, T, D]);
  }
  return g;
}

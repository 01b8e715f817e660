// Attention-block micro-graphs for attention-probe.ts: inputs q [1,S,heads·D], k and v [1,S,kvHeads·D]
// (already projected; rotary left out, it costs the same at every cache length), past_key.i and
// past_value.i [1,kvHeads,P,D], attention_mask [1,P+S]; outputs out.i and present_key.i/present_value.i
// per layer (the layers are independent copies, to lift the block above per-call overhead).

import type { GraphBuilder } from '../../../src/onnx/onnx-graph.ts';

export interface AttentionShape {
  heads: number;
  kvHeads: number;
  headDim: number;
}

export const ATTENTION_VARIANTS = {
  /** The block as src/onnx/qwen2-graph.ts wrote it until it took MultiHeadAttention (mha): 5-D grouped MatMuls, mask by Where. The reference. */
  ours5d: 'grouped 5-D',
  /** ours5d without the mask (Where). */
  nomask: 'no mask',
  /** ours5d without Where and Softmax. */
  nosoftmax: 'no mask, no softmax',
  /** Only the cache concatenation (the outputs the next call needs); out = q. */
  concat: 'concat only',
  /** Query groups folded into rows: plain 4-D MatMuls, no broadcast. */
  fold4d: 'folded 4-D',
  /** Per KV head, 2-D Gemm with transB (no transposed copy of K), query groups folded into rows. */
  gemm2d: '2-D Gemm per KV head',
  /** gemm2d with 2-D MatMuls (K transposed by a Transpose node) instead of Gemm. */
  mm2d: '2-D MatMul per KV head',
  /** gemm2d without the scores product (uniform weights over visible keys). */
  gemm2dNoQK: 'gemm2d, no Q·K',
  /** gemm2d without the weighted sum over V (the first D score columns instead). */
  gemm2dNoPV: 'gemm2d, no P·V',
  /** fold4d with com.microsoft FusedMatMul (transB, alpha) for the scores: no transposed copy of K. */
  fused4d: 'folded 4-D, FusedMatMul',
  /** fused4d with FusedMatMul for P·V as well. */
  fused4d2: 'folded 4-D, FusedMatMul twice',
  /** com.microsoft MultiHeadAttention over K/V expanded to every query head, mask as attention_bias: the graph's block now. */
  mha: 'MultiHeadAttention, expanded K/V',
  /** com.microsoft GroupQueryAttention (ORT's fused kernel). */
  gqa: 'GroupQueryAttention',
  /** fold4d with both products as Einsum (no transposed copy of K). */
  einsum: 'folded 4-D, Einsum',
  /** GroupQueryAttention given the causal/padding mask as an additive attention_bias [1,1,S,T]. */
  gqabias: 'GroupQueryAttention + bias',
} as const;
export type AttentionVariant = keyof typeof ATTENTION_VARIANTS;

const ONNX_BOOL = 9;
const ONNX_INT32 = 6;
const MASK_MIN = -3.4028234663852886e38;

export function attentionBlock(g: GraphBuilder, s: AttentionShape, variant: AttentionVariant, layers: number): void {
  const { heads, kvHeads: KV, headDim: D } = s;
  const groups = heads / KV;
  const q = g.input('q', 'float32', [1, 'S', heads * D]);
  const k = g.input('k', 'float32', [1, 'S', KV * D]);
  const v = g.input('v', 'float32', [1, 'S', KV * D]);
  const mask = g.input('attention_mask', 'int64', [1, 'T']);
  const one = g.int64([1], []);
  const seqLen = g.op('Gather', [g.op('Shape', [q]), one], { axis: { int: 0 } });
  const totalLen = g.op('Gather', [g.op('Shape', [mask]), one], { axis: { int: 0 } });
  const pastLen = g.op('Sub', [totalLen, seqLen]);
  const keyIdx = g.op('Range', [g.int64([0], []), totalLen, one]);
  const queryIdx = g.op('Unsqueeze', [g.op('Range', [pastLen, totalLen, one]), g.int64([1])]);
  const causal = g.op('LessOrEqual', [keyIdx, queryIdx]);
  const padding5 = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { int: ONNX_BOOL } }), g.int64([1, 2, 3])]);
  const visible5 = g.op('And', [padding5, causal]);
  // [1,1,groups·S,T]: row g·S + s of a folded query block is query s of group g.
  const padding4 = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { int: ONNX_BOOL } }), g.int64([1, 2])]);
  const visibleRows = g.op('Tile', [g.op('And', [padding4, causal]), g.int64([1, 1, groups, 1])]);
  const maskMin = g.float([MASK_MIN], []);
  const bias = g.op('Where', [g.op('And', [padding4, causal]), g.float([0], []), maskMin]);
  const scale = g.float([1 / Math.sqrt(D)], []);
  const heads4 = (t: string, n: number) => g.op('Transpose', [g.op('Reshape', [t, g.int64([0, 0, n, D])])], { perm: { ints: [0, 2, 1, 3] } });

  for (let i = 0; i < layers; i++) {
    const pk = g.input(`past_key.${i}`, 'float32', [1, KV, 'P', D]);
    const pv = g.input(`past_value.${i}`, 'float32', [1, KV, 'P', D]);
    g.output(`out.${i}`, 'float32', [1, 'S', heads * D]);
    g.output(`present_key.${i}`, 'float32', [1, KV, 'T', D]);
    g.output(`present_value.${i}`, 'float32', [1, KV, 'T', D]);
    if (variant === 'gqa' || variant === 'gqabias') {
      const seqlensK = g.op('Cast', [g.op('Sub', [g.op('ReduceSum', [mask, g.int64([1])], { keepdims: { int: 0 } }), one])], { to: { int: ONNX_INT32 } });
      const total = g.op('Cast', [totalLen], { to: { int: ONNX_INT32 } });
      const extra = variant === 'gqabias' ? ['', '', '', bias] : [];
      g.node('GroupQueryAttention', [q, k, v, pk, pv, seqlensK, total, ...extra], { num_heads: { int: heads }, kv_num_heads: { int: KV }, scale: { float: 1 / Math.sqrt(D) } }, { domain: 'com.microsoft', out: [`out.${i}`, `present_key.${i}`, `present_value.${i}`] });
      continue;
    }
    const k4 = heads4(k, KV);
    const v4 = heads4(v, KV);
    const presentK = g.op('Concat', [pk, k4], { axis: { int: 2 } }, { out: `present_key.${i}` });
    const presentV = g.op('Concat', [pv, v4], { axis: { int: 2 } }, { out: `present_value.${i}` });
    if (variant === 'mha') {
      const expand = (t: string) => g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [t, g.int64([2])]), g.int64([1, 1, groups, 1, 1])]), g.int64([0, heads, -1, D])]);
      const bias4 = bias;
      g.op('MultiHeadAttention', [q, expand(presentK), expand(presentV), '', '', bias4], { num_heads: { int: heads }, scale: { float: 1 / Math.sqrt(D) } }, { domain: 'com.microsoft', out: `out.${i}` });
      continue;
    }
    if (variant === 'concat') {
      g.op('Identity', [q], {}, { out: `out.${i}` });
      continue;
    }
    if (variant === 'gemm2d' || variant === 'mm2d' || variant === 'gemm2dNoQK' || variant === 'gemm2dNoPV') {
      // [1,heads,S,D] -> [KV, groups·S, D]; K and V [1,KV,T,D] -> [KV,T,D]; one 2-D Gemm per KV head.
      const qf = g.op('Reshape', [heads4(q, heads), g.int64([KV, -1, D])]);
      const kf = g.op('Squeeze', [presentK, g.int64([0])]);
      const vf = g.op('Squeeze', [presentV, g.int64([0])]);
      const qs = g.node('Split', [qf], { axis: { int: 0 } }, { n: KV });
      const ks = g.node('Split', [kf], { axis: { int: 0 } }, { n: KV });
      const vs = g.node('Split', [vf], { axis: { int: 0 } }, { n: KV });
      const rows = g.op('Squeeze', [visibleRows, g.int64([0, 1])]);
      const ctxs: string[] = [];
      for (let h = 0; h < KV; h++) {
        const q2 = g.op('Squeeze', [qs[h]!, g.int64([0])]);
        const k2 = g.op('Squeeze', [ks[h]!, g.int64([0])]);
        const v2 = g.op('Squeeze', [vs[h]!, g.int64([0])]);
        const sc =
          variant === 'mm2d'
            ? g.op('Mul', [g.op('MatMul', [q2, g.op('Transpose', [k2], { perm: { ints: [1, 0] } })]), scale])
            : variant === 'gemm2dNoQK'
              ? g.op('Where', [rows, g.float([0.001], []), g.float([0], [])])
              : g.op('Gemm', [q2, k2], { transB: { int: 1 }, alpha: { float: 1 / Math.sqrt(D) } });
        const pr = g.op('Softmax', [g.op('Where', [rows, sc, maskMin])], { axis: { int: 1 } });
        const c2 =
          variant === 'mm2d'
            ? g.op('MatMul', [pr, v2])
            : variant === 'gemm2dNoPV'
              ? g.op('Slice', [pr, g.int64([0]), g.int64([D]), g.int64([1])])
              : g.op('Gemm', [pr, v2]);
        ctxs.push(g.op('Unsqueeze', [c2, g.int64([0])]));
      }
      const ctx = g.op('Concat', ctxs, { axis: { int: 0 } });
      const back = g.op('Transpose', [g.op('Reshape', [ctx, g.int64([1, heads, -1, D])])], { perm: { ints: [0, 2, 1, 3] } });
      g.op('Reshape', [back, g.int64([0, 0, heads * D])], {}, { out: `out.${i}` });
      continue;
    }
    if (variant === 'einsum') {
      const qf = g.op('Reshape', [heads4(q, heads), g.int64([0, KV, -1, D])]);
      const scores = g.op('Mul', [g.op('Einsum', [qf, presentK], { equation: { string: 'bhsd,bhtd->bhst' } }), scale]);
      const probs = g.op('Softmax', [g.op('Where', [visibleRows, scores, maskMin])], { axis: { int: 3 } });
      const ctx = g.op('Einsum', [probs, presentV], { equation: { string: 'bhst,bhtd->bhsd' } });
      const back = g.op('Transpose', [g.op('Reshape', [ctx, g.int64([0, heads, -1, D])])], { perm: { ints: [0, 2, 1, 3] } });
      g.op('Reshape', [back, g.int64([0, 0, heads * D])], {}, { out: `out.${i}` });
      continue;
    }
    if (variant === 'fold4d' || variant === 'fused4d' || variant === 'fused4d2') {
      // Query head h reads KV head floor(h / groups): [1,heads,S,D] -> [1,KV,groups·S,D] is a reshape.
      const qf = g.op('Reshape', [heads4(q, heads), g.int64([0, KV, -1, D])]);
      const scores =
        variant !== 'fold4d'
          ? g.op('FusedMatMul', [qf, presentK], { transB: { int: 1 }, alpha: { float: 1 / Math.sqrt(D) } }, { domain: 'com.microsoft' })
          : g.op('Mul', [g.op('MatMul', [qf, g.op('Transpose', [presentK], { perm: { ints: [0, 1, 3, 2] } })]), scale]);
      const probs = g.op('Softmax', [g.op('Where', [visibleRows, scores, maskMin])], { axis: { int: 3 } });
      const ctx = variant === 'fused4d2' ? g.op('FusedMatMul', [probs, presentV], {}, { domain: 'com.microsoft' }) : g.op('MatMul', [probs, presentV]);
      const back = g.op('Transpose', [g.op('Reshape', [ctx, g.int64([0, heads, -1, D])])], { perm: { ints: [0, 2, 1, 3] } });
      g.op('Reshape', [back, g.int64([0, 0, heads * D])], {}, { out: `out.${i}` });
      continue;
    }
    const q5 = g.op('Reshape', [heads4(q, heads), g.int64([0, KV, groups, -1, D])]);
    const k5t = g.op('Transpose', [g.op('Unsqueeze', [presentK, g.int64([2])])], { perm: { ints: [0, 1, 2, 4, 3] } });
    const v5 = g.op('Unsqueeze', [presentV, g.int64([2])]);
    const scores = g.op('Mul', [g.op('MatMul', [q5, k5t]), scale]);
    const probs =
      variant === 'nosoftmax' ? scores : variant === 'nomask' ? g.op('Softmax', [scores], { axis: { int: 4 } }) : g.op('Softmax', [g.op('Where', [visible5, scores, maskMin])], { axis: { int: 4 } });
    const ctx = g.op('Transpose', [g.op('MatMul', [probs, v5])], { perm: { ints: [0, 3, 1, 2, 4] } });
    g.op('Reshape', [ctx, g.int64([0, 0, heads * D])], {}, { out: `out.${i}` });
  }
}

// What each precision stores, in one place: the graph builder writes weights by these rules and the
// reference forward pass reads weights through the same rules, so a q4 model is checked against exactly
// the numbers its graph multiplies by.
//
// q4: every Linear of the decoder layers and the lm head become 4-bit MatMulNBits (block 32), as
// onnxruntime's MatMulNBitsQuantizer does. The embedding table stays float32: a float16 table needs
// shader-f16 on WebGPU (without it, e.g. on SwiftShader, the Gather silently returns garbage), and a
// 4-bit GatherBlockQuantized needs int4 tensor types that not every runtime loads. Norms, biases and the
// small PRM heads (value, two-class) stay float32 too: a tiny share of the bytes, and the score is read
// straight from them.

import { dequantizeQ4, quantizeQ4 } from './quantize-q4.ts';
import type { Qwen2Spec } from './spec.ts';
import { expectedTensors, lmHeadName, type Tensor32, type WeightSource } from './weights.ts';

export type Precision = 'fp32' | 'q4';
export const PRECISIONS: readonly Precision[] = ['fp32', 'q4'];

/** File name in onnx/ that transformers.js loads for this dtype. */
export function onnxFileName(p: Precision): string {
  return p === 'fp32' ? 'model.onnx' : 'model_q4.onnx';
}

const LAYER_LINEAR = /^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/;

/** Whether the Linear weight `name` is stored as 4-bit blocks at this precision. */
export function isQuantizedLinear(name: string, precision: Precision): boolean {
  return precision === 'q4' && (LAYER_LINEAR.test(name) || name === 'lm_head.weight');
}

/** A Linear weight [N, K] as the graph multiplies by it: dequantized 4-bit blocks at q4. */
export function roundTripQ4(t: Tensor32): Float32Array {
  const [n, k] = t.shape as [number, number];
  return dequantizeQ4(quantizeQ4(t.data, n, k));
}

/**
 * The weights a built graph actually computes with, keyed by HF name, plus `lm_head.weight` even when
 * tied (at q4 a tied head is quantized while the embedding lookup is not).
 */
export async function effectiveWeights(spec: Qwen2Spec, source: WeightSource, precision: Precision): Promise<Map<string, Tensor32>> {
  const out = new Map<string, Tensor32>();
  for (const name of expectedTensors(spec).keys()) {
    const t = await source.read(name);
    if (isQuantizedLinear(name, precision)) {
      out.set(name, { shape: t.shape, data: roundTripQ4(t) });
    } else {
      out.set(name, t);
    }
  }
  if (spec.head === 'lm' && spec.tieWordEmbeddings) {
    const t = await source.read(lmHeadName(spec));
    out.set('lm_head.weight', precision === 'q4' ? { shape: t.shape, data: roundTripQ4(t) } : t);
  }
  return out;
}

// An independent Qwen2 forward pass in plain TypeScript, written from the HF modeling code rather than from
// our ONNX graph. Tests run built models through transformers.js and compare with this. It is slow
// (scalar loops) and meant for tiny models only.

import type { Qwen2Spec } from './spec.ts';
import { outputWidth } from './spec.ts';
import type { Tensor32 } from './weights.ts';

/** One layer's cache, each [batch, kvHeads, length, headDim]. */
export interface LayerCache {
  key: Float32Array;
  value: Float32Array;
  length: number;
}

export interface ReferenceInput {
  inputIds: number[][];
  /** [batch][past + seq]; defaults to all ones. */
  attentionMask?: number[][];
  /** [batch][seq]; defaults to past, past+1, … */
  positionIds?: number[][];
  past?: LayerCache[];
}

export interface ReferenceOutput {
  /** [batch, seq, width] with width = vocab | 1 | 2. */
  logits: Float32Array;
  width: number;
  present: LayerCache[];
}

const MASK_MIN = -3.4028234663852886e38;

function weight(w: ReadonlyMap<string, Tensor32>, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference: missing weight ${name}`);
  return t.data;
}

/** y[r, n] = sum_k x[r, k] * W[n, k] (+ b[n]) for an HF Linear weight W [N, K]. */
function linear(x: Float32Array, rows: number, k: number, W: Float32Array, n: number, b?: Float32Array): Float32Array {
  const y = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const xo = r * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let acc = 0;
      for (let i = 0; i < k; i++) acc += x[xo + i]! * W[wo + i]!;
      y[r * n + j] = acc + (b ? b[j]! : 0);
    }
  }
  return y;
}

function rmsNorm(x: Float32Array, rows: number, h: number, w: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < h; i++) ss += x[r * h + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / h + eps);
    for (let i = 0; i < h; i++) y[r * h + i] = Math.fround(x[r * h + i]! * inv) * w[i]!;
  }
  return y;
}

export function referenceForward(spec: Qwen2Spec, w: ReadonlyMap<string, Tensor32>, input: ReferenceInput): ReferenceOutput {
  const B = input.inputIds.length;
  const S = input.inputIds[0]?.length ?? 0;
  const H = spec.hiddenSize;
  const D = spec.headDim;
  const NH = spec.numHeads;
  const KV = spec.numKvHeads;
  const G = NH / KV;
  const P = input.past?.[0]?.length ?? 0;
  const T = P + S;
  const rows = B * S;
  const mask = input.attentionMask ?? Array.from({ length: B }, () => new Array<number>(T).fill(1));
  const positions = input.positionIds ?? Array.from({ length: B }, () => Array.from({ length: S }, (_, s) => P + s));
  const invFreq = Array.from({ length: D / 2 }, (_, i) => Math.fround(1 / spec.ropeTheta ** ((2 * i) / D)));

  const embed = weight(w, 'model.embed_tokens.weight');
  let x = new Float32Array(rows * H);
  input.inputIds.forEach((seq, b) =>
    seq.forEach((id, s) => {
      if (!Number.isInteger(id) || id < 0 || id >= spec.vocabSize) throw new Error(`reference: token id ${id} out of range`);
      x.set(embed.subarray(id * H, (id + 1) * H), (b * S + s) * H);
    }),
  );

  /** Rotates one head vector in place at position pos (rotate_half convention). */
  const rope = (v: Float32Array, off: number, pos: number): void => {
    for (let i = 0; i < D / 2; i++) {
      const f = Math.fround(pos * invFreq[i]!);
      const c = Math.fround(Math.cos(f));
      const s = Math.fround(Math.sin(f));
      const a = v[off + i]!;
      const bb = v[off + i + D / 2]!;
      v[off + i] = a * c - bb * s;
      v[off + i + D / 2] = bb * c + a * s;
    }
  };

  const present: LayerCache[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, rows, H, weight(w, `${p}.input_layernorm.weight`), spec.rmsNormEps);
    const q = linear(h, rows, H, weight(w, `${p}.self_attn.q_proj.weight`), NH * D, weight(w, `${p}.self_attn.q_proj.bias`));
    const k = linear(h, rows, H, weight(w, `${p}.self_attn.k_proj.weight`), KV * D, weight(w, `${p}.self_attn.k_proj.bias`));
    const v = linear(h, rows, H, weight(w, `${p}.self_attn.v_proj.weight`), KV * D, weight(w, `${p}.self_attn.v_proj.bias`));
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s++) {
        const pos = positions[b]![s]!;
        for (let hd = 0; hd < NH; hd++) rope(q, (b * S + s) * NH * D + hd * D, pos);
        for (let hd = 0; hd < KV; hd++) rope(k, (b * S + s) * KV * D + hd * D, pos);
      }
    }
    // Cache layout [B, KV, T, D]: the past, then this call's keys/values.
    const key = new Float32Array(B * KV * T * D);
    const value = new Float32Array(B * KV * T * D);
    const old = input.past?.[l];
    for (let b = 0; b < B; b++) {
      for (let g = 0; g < KV; g++) {
        for (let t = 0; t < T; t++) {
          const dst = ((b * KV + g) * T + t) * D;
          if (t < P) {
            const src = ((b * KV + g) * P + t) * D;
            key.set(old!.key.subarray(src, src + D), dst);
            value.set(old!.value.subarray(src, src + D), dst);
          } else {
            const src = (b * S + (t - P)) * KV * D + g * D;
            key.set(k.subarray(src, src + D), dst);
            value.set(v.subarray(src, src + D), dst);
          }
        }
      }
    }
    present.push({ key, value, length: T });

    const ctx64 = new Float64Array(rows * NH * D);
    const scores = new Float64Array(T);
    const scale = 1 / Math.sqrt(D);
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s++) {
        for (let hd = 0; hd < NH; hd++) {
          const g = Math.floor(hd / G);
          const qo = (b * S + s) * NH * D + hd * D;
          let max = -Infinity;
          for (let t = 0; t < T; t++) {
            let sc = MASK_MIN;
            if (t <= P + s && mask[b]![t] !== 0) {
              const ko = ((b * KV + g) * T + t) * D;
              let acc = 0;
              for (let i = 0; i < D; i++) acc += q[qo + i]! * key[ko + i]!;
              sc = acc * scale;
            }
            scores[t] = sc;
            if (sc > max) max = sc;
          }
          let sum = 0;
          for (let t = 0; t < T; t++) sum += scores[t] = Math.exp(scores[t]! - max);
          for (let t = 0; t < T; t++) {
            const pr = scores[t]! / sum;
            if (pr === 0) continue;
            const vo = ((b * KV + g) * T + t) * D;
            for (let i = 0; i < D; i++) ctx64[qo + i] = ctx64[qo + i]! + pr * value[vo + i]!;
          }
        }
      }
    }
    const attn = linear(Float32Array.from(ctx64), rows, NH * D, weight(w, `${p}.self_attn.o_proj.weight`), H);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + attn[i]!;

    const h2 = rmsNorm(x, rows, H, weight(w, `${p}.post_attention_layernorm.weight`), spec.rmsNormEps);
    const I = spec.intermediateSize;
    const gate = linear(h2, rows, H, weight(w, `${p}.mlp.gate_proj.weight`), I);
    const up = linear(h2, rows, H, weight(w, `${p}.mlp.up_proj.weight`), I);
    for (let i = 0; i < gate.length; i++) gate[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
    const down = linear(gate, rows, I, weight(w, `${p}.mlp.down_proj.weight`), H);
    const next = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) next[i] = x[i]! + down[i]!;
    x = next;
  }

  const hidden = rmsNorm(x, rows, H, weight(w, 'model.norm.weight'), spec.rmsNormEps);
  const width = outputWidth(spec);
  let logits: Float32Array;
  switch (spec.head) {
    case 'lm':
      logits = linear(hidden, rows, H, weight(w, w.has('lm_head.weight') ? 'lm_head.weight' : 'model.embed_tokens.weight'), width);
      break;
    case 'value':
      logits = linear(hidden, rows, H, weight(w, 'v_head.summary.weight'), 1, weight(w, 'v_head.summary.bias'));
      break;
    case 'two-class': {
      const z = linear(hidden, rows, H, weight(w, 'score.0.weight'), H, weight(w, 'score.0.bias'));
      for (let i = 0; i < z.length; i++) if (z[i]! < 0) z[i] = 0;
      logits = linear(z, rows, H, weight(w, 'score.2.weight'), 2, weight(w, 'score.2.bias'));
      break;
    }
  }
  return { logits, width, present };
}

// Weights in Hugging Face qwen2 naming and layout (Linear weights are [out, in]). Sources are read one
// tensor at a time so a multi-gigabyte checkpoint never has to sit in memory as a whole.

import type { Qwen2Spec } from './spec.ts';

export interface Tensor32 {
  shape: number[];
  data: Float32Array;
}

/** Where weights come from: a seeded generator, a safetensors checkpoint, or a map in a test. */
export interface WeightSource {
  /** Reads one tensor, converted to float32, in HF layout. */
  read(name: string): Promise<Tensor32>;
}

/** Names of the layer weights in layer i, the order the graph consumes them. */
export function layerTensorNames(i: number): string[] {
  const p = `model.layers.${i}`;
  return [
    `${p}.input_layernorm.weight`,
    `${p}.self_attn.q_proj.weight`, `${p}.self_attn.q_proj.bias`,
    `${p}.self_attn.k_proj.weight`, `${p}.self_attn.k_proj.bias`,
    `${p}.self_attn.v_proj.weight`, `${p}.self_attn.v_proj.bias`,
    `${p}.self_attn.o_proj.weight`,
    `${p}.post_attention_layernorm.weight`,
    `${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`, `${p}.mlp.down_proj.weight`,
  ];
}

/** Every tensor a model of this spec needs, with its HF shape. Tied `lm` heads reuse the embedding. */
export function expectedTensors(spec: Qwen2Spec): Map<string, number[]> {
  const H = spec.hiddenSize;
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const I = spec.intermediateSize;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [spec.vocabSize, H]);
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [H]);
    m.set(`${p}.self_attn.q_proj.weight`, [q, H]);
    m.set(`${p}.self_attn.q_proj.bias`, [q]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, H]);
    m.set(`${p}.self_attn.k_proj.bias`, [kv]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, H]);
    m.set(`${p}.self_attn.v_proj.bias`, [kv]);
    m.set(`${p}.self_attn.o_proj.weight`, [H, q]);
    m.set(`${p}.post_attention_layernorm.weight`, [H]);
    m.set(`${p}.mlp.gate_proj.weight`, [I, H]);
    m.set(`${p}.mlp.up_proj.weight`, [I, H]);
    m.set(`${p}.mlp.down_proj.weight`, [H, I]);
  }
  m.set('model.norm.weight', [H]);
  for (const [name, shape] of headTensors(spec)) m.set(name, shape);
  return m;
}

/** The head's own tensors (empty for a tied `lm` head). */
export function headTensors(spec: Qwen2Spec): [string, number[]][] {
  const H = spec.hiddenSize;
  switch (spec.head) {
    case 'lm':
      return spec.tieWordEmbeddings ? [] : [['lm_head.weight', [spec.vocabSize, H]]];
    case 'value':
      return [['v_head.summary.weight', [1, H]], ['v_head.summary.bias', [1]]];
    case 'two-class':
      return [
        ['score.0.weight', [H, H]], ['score.0.bias', [H]],
        ['score.2.weight', [2, H]], ['score.2.bias', [2]],
      ];
  }
}

/** The weight the lm head multiplies by: lm_head.weight, or the embedding when tied. */
export function lmHeadName(spec: Qwen2Spec): string {
  return spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A source over tensors already in memory (tests, the reference pass). */
export function mapSource(tensors: ReadonlyMap<string, Tensor32>): WeightSource {
  return {
    async read(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`No tensor "${name}" in this weight map.`);
      return t;
    },
  };
}

/** Reads every tensor the spec needs into memory (small models only). */
export async function readAll(spec: Qwen2Spec, source: WeightSource): Promise<Map<string, Tensor32>> {
  const out = new Map<string, Tensor32>();
  for (const name of expectedTensors(spec).keys()) out.set(name, await source.read(name));
  return out;
}

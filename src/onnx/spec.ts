// The shape of a Qwen2 decoder and its head, and the Hugging Face config.json that describes it.
// One spec drives the ONNX graph, the reference forward pass, random weights and checkpoint checks,
// so a model can never be built with a graph that disagrees with its own config.

import { ModelSpecError } from './errors.ts';

/**
 * - `lm`: vocabulary logits (a causal language model).
 * - `value`: one scalar per position (Skywork-o1-Open-PRM `v_head.summary`; the scorer applies the sigmoid).
 * - `two-class`: two logits per position (Qwen2.5-Math-PRM `score.0` → ReLU → `score.2`; softmax index 1 = correct).
 */
export type HeadKind = 'lm' | 'value' | 'two-class';
export const HEAD_KINDS: readonly HeadKind[] = ['lm', 'value', 'two-class'];

export interface Qwen2Spec {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  head: HeadKind;
  bosTokenId: number | null;
  eosTokenId: number | number[];
  padTokenId: number | null;
}

/** Width of the `logits` output: the vocabulary for `lm`, 1 for `value`, 2 for `two-class`. */
export function outputWidth(spec: Qwen2Spec): number {
  return spec.head === 'lm' ? spec.vocabSize : spec.head === 'value' ? 1 : 2;
}

export function isHeadKind(s: string): s is HeadKind {
  return (HEAD_KINDS as readonly string[]).includes(s);
}

/** Throws ModelSpecError naming the first field that cannot make a working model. */
export function validateSpec(spec: Qwen2Spec): void {
  const positive: (keyof Qwen2Spec)[] = [
    'vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim',
    'maxPositionEmbeddings',
  ];
  for (const k of positive) {
    const v = spec[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new ModelSpecError(`${k} must be a positive integer, got ${String(v)}.`);
    }
  }
  if (spec.numHeads % spec.numKvHeads !== 0) {
    throw new ModelSpecError(
      `numHeads (${spec.numHeads}) must be a multiple of numKvHeads (${spec.numKvHeads}) for grouped-query attention.`,
    );
  }
  if (spec.headDim % 2 !== 0) {
    throw new ModelSpecError(`headDim must be even for rotary embeddings, got ${spec.headDim}.`);
  }
  if (!(spec.rmsNormEps > 0) || !(spec.ropeTheta > 0)) {
    throw new ModelSpecError('rmsNormEps and ropeTheta must be positive numbers.');
  }
  if (!isHeadKind(spec.head)) {
    throw new ModelSpecError(`Unknown head "${String(spec.head)}". Use one of: ${HEAD_KINDS.join(', ')}.`);
  }
}

/** Dimensions given on the command line or by tests; everything else gets a Qwen2-like default. */
export interface SpecOptions {
  head?: HeadKind;
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  vocab?: number;
  intermediate?: number;
  tie?: boolean;
  ropeTheta?: number;
  maxPositions?: number;
}

/** A tiny Qwen2 (2 layers, hidden 64, 4 heads / 2 KV heads) unless told otherwise. */
export function tinySpec(o: SpecOptions & { vocab: number; bosTokenId: number | null; eosTokenId: number | number[]; padTokenId: number | null }): Qwen2Spec {
  const hidden = o.hidden ?? 64;
  const heads = o.heads ?? 4;
  if (hidden % heads !== 0) {
    throw new ModelSpecError(`hidden (${hidden}) must be divisible by heads (${heads}).`);
  }
  const spec: Qwen2Spec = {
    vocabSize: o.vocab,
    hiddenSize: hidden,
    intermediateSize: o.intermediate ?? Math.round((hidden * 11) / 4),
    numLayers: o.layers ?? 2,
    numHeads: heads,
    numKvHeads: o.kvHeads ?? Math.max(1, heads / 2),
    headDim: hidden / heads,
    rmsNormEps: 1e-6,
    ropeTheta: o.ropeTheta ?? 10000,
    maxPositionEmbeddings: o.maxPositions ?? 4096,
    tieWordEmbeddings: o.tie ?? true,
    head: o.head ?? 'lm',
    bosTokenId: o.bosTokenId,
    eosTokenId: o.eosTokenId,
    padTokenId: o.padTokenId,
  };
  validateSpec(spec);
  return spec;
}

/** HF `architectures` entry per head, as the original checkpoints name themselves. */
const ARCHITECTURE: Record<HeadKind, string> = {
  lm: 'Qwen2ForCausalLM',
  value: 'Qwen2ForPrmModel',
  'two-class': 'Qwen2ForProcessRewardModel',
};

/** Files the folder holds, so loaders can pick the right dtype and external data without guessing. */
export interface OnnxFiles {
  /** e.g. { 'model.onnx': 0, 'model_q4.onnx': 1 } — number of external data chunks per graph. */
  externalData: Record<string, number>;
  /** dtype transformers.js should load when the caller does not say: 'fp32' if present, else 'q4'. */
  defaultDtype: 'fp32' | 'q4';
}

export interface ProvenanceNote {
  source: string;
  [k: string]: unknown;
}

/** config.json as Hugging Face transformers and transformers.js read it. */
export function hfConfig(spec: Qwen2Spec, files: OnnxFiles, provenance: ProvenanceNote): Record<string, unknown> {
  const external = Object.fromEntries(Object.entries(files.externalData).filter(([, n]) => n > 0));
  const config: Record<string, unknown> = {
    architectures: [ARCHITECTURE[spec.head]],
    model_type: 'qwen2',
    hidden_act: 'silu',
    hidden_size: spec.hiddenSize,
    intermediate_size: spec.intermediateSize,
    num_hidden_layers: spec.numLayers,
    num_attention_heads: spec.numHeads,
    num_key_value_heads: spec.numKvHeads,
    head_dim: spec.headDim,
    rms_norm_eps: spec.rmsNormEps,
    rope_theta: spec.ropeTheta,
    rope_scaling: null,
    max_position_embeddings: spec.maxPositionEmbeddings,
    max_window_layers: spec.numLayers,
    use_sliding_window: false,
    sliding_window: null,
    vocab_size: spec.vocabSize,
    tie_word_embeddings: spec.tieWordEmbeddings,
    bos_token_id: spec.bosTokenId,
    eos_token_id: spec.eosTokenId,
    pad_token_id: spec.padTokenId,
    attention_dropout: 0.0,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
    'transformers.js_config': {
      dtype: files.defaultDtype,
      ...(Object.keys(external).length > 0 ? { use_external_data_format: external } : {}),
    },
    trim: { head: spec.head, logits_width: outputWidth(spec), ...provenance },
  };
  if (spec.head === 'two-class') {
    config.num_labels = 2;
    config.id2label = { 0: 'LABEL_0', 1: 'LABEL_1' };
    config.label2id = { LABEL_0: 0, LABEL_1: 1 };
  }
  return config;
}

/** The head recorded by this builder in a config.json it wrote, or null for any other config. */
export function headOfConfig(config: Record<string, unknown>): HeadKind | null {
  const trim = config.trim as { head?: unknown } | undefined;
  return typeof trim?.head === 'string' && isHeadKind(trim.head) ? trim.head : null;
}

/** generation_config.json: the reference sampling setup (temperature 0.7, top_p 0.8, top_k 20). */
export function generationConfig(spec: Qwen2Spec): Record<string, unknown> {
  return {
    bos_token_id: spec.bosTokenId,
    eos_token_id: spec.eosTokenId,
    pad_token_id: spec.padTokenId,
    do_sample: true,
    temperature: 0.7,
    top_p: 0.8,
    top_k: 20,
    transformers_version: '4.46.0',
  };
}

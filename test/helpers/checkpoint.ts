// Writes small Hugging Face-style qwen2 checkpoints (config.json, safetensors single or sharded, tokenizer
// files) for conversion tests, the way `save_pretrained` lays them out.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSafetensors, type SafetensorsDtype } from '../../src/onnx/safetensors.ts';
import type { Qwen2Spec } from '../../src/onnx/spec.ts';
import { tinyTokenizer } from '../../src/onnx/tokenizer.ts';
import type { Tensor32 } from '../../src/onnx/weights.ts';

export interface CheckpointOptions {
  dtype: SafetensorsDtype;
  shards?: number;
  /** Tensor names are saved with this prefix (as some wrappers do). */
  prefix?: string;
  /** Extra config.json fields (e.g. to make it invalid). */
  config?: Record<string, unknown>;
}

const TORCH_DTYPE: Record<SafetensorsDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export async function writeCheckpoint(dir: string, spec: Qwen2Spec, tensors: ReadonlyMap<string, Tensor32>, o: CheckpointOptions): Promise<void> {
  await mkdir(dir, { recursive: true });
  const architectures = { lm: 'Qwen2ForCausalLM', value: 'Qwen2ForPrmModel', 'two-class': 'Qwen2ForProcessRewardModel' }[spec.head];
  const config = {
    architectures: [architectures],
    model_type: 'qwen2',
    hidden_act: 'silu',
    hidden_size: spec.hiddenSize,
    intermediate_size: spec.intermediateSize,
    num_hidden_layers: spec.numLayers,
    num_attention_heads: spec.numHeads,
    num_key_value_heads: spec.numKvHeads,
    rms_norm_eps: spec.rmsNormEps,
    rope_theta: spec.ropeTheta,
    max_position_embeddings: spec.maxPositionEmbeddings,
    max_window_layers: spec.numLayers,
    sliding_window: 4096,
    use_sliding_window: false,
    rope_scaling: null,
    vocab_size: spec.vocabSize,
    tie_word_embeddings: spec.tieWordEmbeddings,
    bos_token_id: spec.bosTokenId,
    eos_token_id: spec.eosTokenId,
    pad_token_id: spec.padTokenId,
    torch_dtype: TORCH_DTYPE[o.dtype],
    ...o.config,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const tok = tinyTokenizer();
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.config));

  const entries = [...tensors].map(([name, t]) => ({ name: (o.prefix ?? '') + name, shape: t.shape, data: t.data, dtype: o.dtype }));
  const shards = o.shards ?? 1;
  if (shards === 1) {
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(entries, { format: 'pt' }));
    return;
  }
  const weightMap: Record<string, string> = {};
  let total = 0;
  const per = Math.ceil(entries.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = entries.slice(s * per, (s + 1) * per);
    const bytes = encodeSafetensors(part, { format: 'pt' });
    await writeFile(join(dir, file), bytes);
    for (const e of part) weightMap[e.name] = file;
    total += bytes.byteLength;
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
}

/** float32 → bfloat16 → float32, written independently of src/onnx/half.ts (round to nearest even). */
export function roundToBf16(data: Float32Array): Float32Array {
  const out = new Float32Array(data);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const lower = x & 0xffff;
    let upper = x >>> 16;
    if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) upper += 1;
    bits[i] = (upper << 16) >>> 0;
  }
  return out;
}

/** float32 → IEEE half → float32 by plain arithmetic (round to nearest even; no overflow handling). */
export function roundToHalf(data: Float32Array): Float32Array {
  return data.map((v) => {
    if (v === 0) return 0;
    let e = Math.floor(Math.log2(Math.abs(v)));
    while (2 ** (e + 1) <= Math.abs(v)) e++;
    while (2 ** e > Math.abs(v)) e--;
    const step = 2 ** (Math.max(e, -14) - 10);
    const q = v / step;
    const r = Math.floor(q);
    const frac = q - r;
    const n = frac > 0.5 || (frac === 0.5 && r % 2 !== 0) ? r + 1 : r;
    return n * step;
  });
}

// A complete random-weight model folder: tiny tokenizer, seeded weights, any head (Node only).

import { ModelSpecError } from './errors.ts';
import type { Precision } from './precision.ts';
import { randomWeights } from './random-weights.ts';
import { tinySpec, type Qwen2Spec, type SpecOptions } from './spec.ts';
import { BASE_VOCAB_SIZE, ENDOFTEXT_ID, IM_END_ID, tinyTokenizer } from './tokenizer.ts';
import { writeModelFolder, type ExternalDataMode, type WrittenModel } from './write-model.ts';
import { expectedTensors, numel } from './weights.ts';

export interface RandomModelOptions extends SpecOptions {
  seed?: number;
  precisions?: readonly Precision[];
  /** BPE merges appended after the base vocabulary (ids 260+). */
  merges?: readonly [string, string][];
  externalData?: ExternalDataMode;
  overwrite?: boolean;
  /** Pad the tokenizer's vocabulary with placeholder ids up to `vocab` (real-size benchmark models). */
  padVocab?: boolean;
  onProgress?: (message: string) => void;
}

/** The spec a random model gets; vocab defaults to the tokenizer's size. */
export function randomModelSpec(o: RandomModelOptions): Qwen2Spec {
  const tokenizerSize = Math.max(BASE_VOCAB_SIZE + (o.merges?.length ?? 0), o.padVocab ? (o.vocab ?? 0) : 0);
  const vocab = o.vocab ?? tokenizerSize;
  if (vocab < tokenizerSize) {
    throw new ModelSpecError(`--vocab ${vocab} is smaller than the tokenizer (${tokenizerSize} ids); use at least ${tokenizerSize}.`);
  }
  if (vocab > tokenizerSize && (o.head ?? 'lm') === 'lm') {
    throw new ModelSpecError(
      `--vocab ${vocab} is larger than the tokenizer (${tokenizerSize} ids): a random language model would generate ids ` +
        `that decode to nothing. Learn merges to fill the vocabulary (--merges-corpus FILE) or leave --vocab out.`,
    );
  }
  const spec = tinySpec({ ...o, vocab, bosTokenId: ENDOFTEXT_ID, eosTokenId: IM_END_ID, padTokenId: ENDOFTEXT_ID });
  // Layers repeat the same shapes: checking one of them is enough.
  for (const [name, shape] of expectedTensors({ ...spec, numLayers: 1 })) {
    if (numel(shape) > MAX_TENSOR_VALUES) {
      throw new ModelSpecError(`${name} would hold ${numel(shape)} values [${shape}]; random models are built in memory, keep each tensor under ${MAX_TENSOR_VALUES}.`);
    }
  }
  return spec;
}

/** 2^28 float32 values = 1 GiB per tensor: far beyond any test or demo model, far below a crash. */
const MAX_TENSOR_VALUES = 2 ** 28;

export async function buildRandomModel(outDir: string, o: RandomModelOptions = {}): Promise<WrittenModel & { spec: Qwen2Spec }> {
  const spec = randomModelSpec(o);
  const seed = o.seed ?? 0;
  const tok = tinyTokenizer(o.merges ?? [], spec.maxPositionEmbeddings, o.padVocab ? spec.vocabSize : 0);
  const written = await writeModelFolder({
    outDir,
    spec,
    source: randomWeights(spec, seed),
    precisions: o.precisions ?? ['fp32'],
    tokenizer: { json: { 'tokenizer.json': tok.tokenizer, 'tokenizer_config.json': tok.config } },
    provenance: { source: 'random', seed },
    generationConfig: {
      bos_token_id: ENDOFTEXT_ID,
      eos_token_id: [IM_END_ID, ENDOFTEXT_ID],
      pad_token_id: ENDOFTEXT_ID,
      do_sample: true,
      temperature: 0.7,
      top_p: 0.8,
      top_k: 20,
    },
    ...(o.externalData ? { externalData: o.externalData } : {}),
    ...(o.overwrite ? { overwrite: true } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  return { ...written, spec };
}

// `trim build-model`: a random-weight Qwen2 model folder (tiny tokenizer, any head) that transformers.js
// loads; for tests, page fixtures and benchmarks.

import { readFile } from 'node:fs/promises';
import { buildRandomModel } from '../../onnx/build-random.ts';
import { BASE_VOCAB_SIZE, learnMerges } from '../../onnx/tokenizer.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { formatWritten, outputFlagOptions, outputFlagsUsage, parseOutputFlags, positiveInt } from '../model-build-flags.ts';

const usage = `
Usage: trim build-model --out DIR [--head lm|value|two-class] [--layers N --hidden N --heads N
  --kv-heads N --vocab N --intermediate N] [--untied] [--seed N] [--merges-corpus FILE]
  [--quantize q4 [--skip-fp32]] [--external-data auto|always|never] [--force]

Writes a Qwen2 decoder with seeded random weights in the transformers.js layout: config.json,
generation_config.json, tokenizer.json, tokenizer_config.json (Qwen2.5 chat template), onnx/model.onnx
with a KV cache (inputs input_ids, attention_mask, position_ids, past_key_values.{i}.key|value; outputs
logits, present.{i}.key|value). The output is called "logits" for every head: [batch, seq, vocab | 1 | 2].
${outputFlagsUsage}
Size (defaults: a tiny model for tests):
  --layers N            decoder layers (2)
  --hidden N            hidden size (64); must be divisible by --heads
  --heads N             attention heads (4)
  --kv-heads N          key/value heads, dividing --heads (heads / 2)
  --intermediate N      MLP width (11/4 of hidden)
  --vocab N             vocabulary rows (default: the tokenizer's 260 ids = 256 bytes + 4 specials);
                        a PRM head may have more rows than the tokenizer, an lm head needs merges for them
  --merges-corpus FILE  learn (vocab - 260) byte-level BPE merges from a UTF-8 text file (ids 260+)
  --untied              separate lm_head weights instead of reusing the embedding
  --seed N              weight seed (0); the same seed and size give the same weights

Example:
  trim build-model --out public/models/tiny-prm --head value --layers 2 --hidden 64 --quantize q4
`;

export const command: Command = {
  summary: 'Build a random-weight Qwen2 model folder (lm / value / two-class head) for transformers.js',
  usage,
  async run(argv) {
    const values = parseOptions(argv, {
      ...outputFlagOptions,
      layers: { type: 'string' },
      hidden: { type: 'string' },
      heads: { type: 'string' },
      'kv-heads': { type: 'string' },
      vocab: { type: 'string' },
      intermediate: { type: 'string' },
      untied: { type: 'boolean' },
      seed: { type: 'string' },
      'merges-corpus': { type: 'string' },
    });
    const o = parseOutputFlags(values, 'lm');
    const vocab = positiveInt(values.vocab, 'vocab');
    let merges: [string, string][] = [];
    if (values['merges-corpus'] !== undefined) {
      if (vocab === undefined || vocab <= BASE_VOCAB_SIZE) {
        throw new UsageError(`--merges-corpus needs --vocab larger than ${BASE_VOCAB_SIZE}: it learns (vocab - ${BASE_VOCAB_SIZE}) merges.`);
      }
      let corpus: string;
      try {
        corpus = await readFile(values['merges-corpus'], 'utf8');
      } catch (err) {
        throw new UsageError(`--merges-corpus ${values['merges-corpus']}: cannot read it (${(err as Error).message}).`);
      }
      merges = learnMerges(corpus, vocab - BASE_VOCAB_SIZE);
      if (merges.length < vocab - BASE_VOCAB_SIZE) {
        throw new UsageError(
          `The corpus only yields ${merges.length} merges (pairs seen at least twice); use --vocab ${BASE_VOCAB_SIZE + merges.length} or a larger corpus.`,
        );
      }
    }
    const seed = values.seed === undefined ? 0 : Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`--seed ${values.seed}: expected a non-negative integer.`);
    const layers = positiveInt(values.layers, 'layers');
    const hidden = positiveInt(values.hidden, 'hidden');
    const heads = positiveInt(values.heads, 'heads');
    const kvHeads = positiveInt(values['kv-heads'], 'kv-heads');
    const intermediate = positiveInt(values.intermediate, 'intermediate');
    const written = await buildRandomModel(o.out, {
      head: o.head,
      seed,
      precisions: o.precisions,
      externalData: o.externalData,
      overwrite: o.overwrite,
      tie: !values.untied,
      merges,
      ...(layers !== undefined ? { layers } : {}),
      ...(hidden !== undefined ? { hidden } : {}),
      ...(heads !== undefined ? { heads } : {}),
      ...(kvHeads !== undefined ? { kvHeads } : {}),
      ...(intermediate !== undefined ? { intermediate } : {}),
      ...(vocab !== undefined ? { vocab } : {}),
    });
    process.stdout.write(formatWritten(written) + '\n');
  },
};

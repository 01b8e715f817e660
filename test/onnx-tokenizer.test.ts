// The tiny tokenizer: fixed id layout, exact round trips through transformers.js, learned merges, and a
// chat template that renders what src/core/prompt.ts renders.

import { beforeAll, describe, expect, it } from 'vitest';
import { AutoTokenizer } from '@huggingface/transformers';
import { tinyModel } from './helpers/fixtures.ts';
import { useLocalModels } from './helpers/tjs.ts';
import { BASE_VOCAB_SIZE, bytesToUnicode, learnMerges, paddingToken, tinyTokenizer } from '../src/onnx/tokenizer.ts';
import { randomModelSpec } from '../src/onnx/build-random.ts';
import { MATH_SYSTEM_PROMPT, qwen25 } from '../src/core/prompt.ts';

type Tok = Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;

const SAMPLES = [
  '',
  '\n\n',
  'Step 1: x = 2.\n\nStep 2: y = 3.\n\n',
  'We have $\\frac{a}{b} + \\sqrt{2}$ and \\boxed{\\dfrac{1}{2}}.',
  '<|im_start|>system\nPlease reason.<|im_end|>\n<|im_start|>assistant\n',
  'step one<extra_0>step two<extra_0>',
  'text<|endoftext|>',
  '  leading and trailing spaces  ',
  'tabs\tand\r\nCRLF\r\n\r\n',
  'é vs e\u0301 (not normalised), ß, 中文, 😀, \u200b',
  "don't I'LL 's",
  'a . b , c ! ? (clean-up must not eat these spaces)',
  '<|im_start', // a broken special is plain text
  'controls \u0000\u0001\u001b[0m\u007f and \u00a0\u00ad\ufeff',
  '<|im_end|><|im_end|><extra_0>\n\n<|endoftext|>',
];

describe('tiny tokenizer layout', () => {
  it('maps ids 0..255 to bytes in byte order and 256..259 to the specials', () => {
    const { tokenizer, size } = tinyTokenizer();
    const model = tokenizer.model as { vocab: Record<string, number>; merges: string[] };
    const chars = bytesToUnicode();
    expect(size).toBe(260);
    expect(Object.keys(model.vocab)).toHaveLength(256);
    chars.forEach((ch, b) => expect(model.vocab[ch]).toBe(b));
    expect(chars[0x20]).toBe('Ġ');
    expect(chars[0x0a]).toBe('Ċ');
    expect(chars[0x41]).toBe('A');
    expect(model.merges).toEqual([]);
    expect((tokenizer.added_tokens as { id: number; content: string }[]).map((t) => [t.id, t.content])).toEqual([
      [256, '<|endoftext|>'], [257, '<|im_start|>'], [258, '<|im_end|>'], [259, '<extra_0>'],
    ]);
  });

  it('learns merges after the specials, and they can join "\\n\\n"', () => {
    // Pre-tokens: a, \n\n, b, \n\n, c, \n\n, ab, " ab": ĊĊ occurs 3 times, "a b" twice, the rest once.
    const merges = learnMerges('a\n\nb\n\nc\n\nab ab<|im_end|>', 5);
    expect(merges).toEqual([['Ċ', 'Ċ'], ['a', 'b']]);
    const { tokenizer, size } = tinyTokenizer(merges);
    const vocab = (tokenizer.model as { vocab: Record<string, number> }).vocab;
    expect(vocab['ĊĊ']).toBe(BASE_VOCAB_SIZE);
    expect(vocab['ab']).toBe(BASE_VOCAB_SIZE + 1);
    expect(size).toBe(262);
  });

  it('refuses merges that build on undefined tokens', () => {
    expect(() => tinyTokenizer([['ab', 'c']])).toThrow(/no earlier entry/);
  });

  it('pads the vocabulary to a real checkpoint size with placeholders after the merges, and only when asked', () => {
    const { tokenizer, size } = tinyTokenizer([['a', 'b']], 4096, 300);
    const vocab = (tokenizer.model as { vocab: Record<string, number> }).vocab;
    expect(size).toBe(300);
    // The four specials are added tokens (256..259), outside the BPE vocabulary.
    expect(vocab['ab']).toBe(260);
    expect(vocab[paddingToken(261)]).toBe(261);
    expect(vocab[paddingToken(299)]).toBe(299);
    expect(new Set([...Object.values(vocab), 256, 257, 258, 259])).toEqual(new Set(Array.from({ length: 300 }, (_, i) => i)));
    // A random lm model may be as wide as the padded tokenizer, not wider, and never wider unpadded.
    expect(randomModelSpec({ head: 'lm', vocab: 300, padVocab: true }).vocabSize).toBe(300);
    expect(() => randomModelSpec({ head: 'lm', vocab: 300 })).toThrow(/larger than the tokenizer/);
  });
});

describe('round trips through transformers.js', () => {
  let plain: Tok;
  let merged: Tok;
  beforeAll(async () => {
    const a = await tinyModel({ head: 'value', seed: 1 });
    const merges = learnMerges(SAMPLES.join('\n\n').repeat(3), 40);
    const b = await tinyModel({ head: 'lm', seed: 1, merges, vocab: BASE_VOCAB_SIZE + merges.length });
    useLocalModels(a.root);
    plain = await AutoTokenizer.from_pretrained(a.name);
    merged = await AutoTokenizer.from_pretrained(b.name);
  });

  it.each(SAMPLES.map((s) => [JSON.stringify(s), s]))('byte ids and exact decode for %s', (_label, text) => {
    const ids = plain.encode(text) as number[];
    const bytes: number[] = [];
    const specials: Record<string, number> = { '<|endoftext|>': 256, '<|im_start|>': 257, '<|im_end|>': 258, '<extra_0>': 259 };
    for (const part of text.split(/(<\|endoftext\|>|<\|im_start\|>|<\|im_end\|>|<extra_0>)/)) {
      if (part in specials) bytes.push(specials[part]!);
      else bytes.push(...new TextEncoder().encode(part));
    }
    expect(ids).toEqual(bytes);
    const mergedIds = merged.encode(text) as number[];
    if (text === '') {
      // transformers.js refuses to decode an empty id list; encoding must give one.
      expect(mergedIds).toEqual([]);
      return;
    }
    expect(plain.decode(ids)).toBe(text);
    expect(merged.decode(mergedIds)).toBe(text);
    expect(mergedIds.length).toBeLessThanOrEqual(ids.length);
  });

  it('merged tokenizer uses the learned "\\n\\n" token', () => {
    expect(merged.encode('a\n\nb')).toEqual([97, 260, 98]);
  });

  it('renders the chat template as the core qwen2.5 template does', () => {
    const messages = [
      { role: 'system' as const, content: MATH_SYSTEM_PROMPT },
      { role: 'user' as const, content: 'What is 1+1?' },
    ];
    const rendered = plain.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true });
    expect(rendered).toBe(qwen25.render(messages, { addGenerationPrompt: true }));
    const noSystem = plain.apply_chat_template([messages[1]!], { tokenize: false, add_generation_prompt: true });
    expect(noSystem).toBe(qwen25.render(messages, { addGenerationPrompt: true }));
  });
});

// The tiny byte-level BPE tokenizer of built models. Its id layout is a contract with code that trains
// models on it elsewhere (Python `tokenizers`), so it never changes:
//   0..255   the 256 bytes in byte order (vocab key = GPT-2 bytes_to_unicode() character of the byte)
//   256      <|endoftext|>     257 <|im_start|>     258 <|im_end|>     259 <extra_0>
//   260+     merges, only when asked for (none by default)
// Pre-tokenization is Qwen2's: a Split on Qwen2's regex (which keeps "\n\n" and other newline runs in one
// piece, so a merge can learn the step delimiter) followed by ByteLevel without its own regex. There is no
// normalizer: every UTF-8 string, specials included, decodes back to exactly itself.

export const SPECIAL_TOKENS = [
  { id: 256, content: '<|endoftext|>' },
  { id: 257, content: '<|im_start|>' },
  { id: 258, content: '<|im_end|>' },
  { id: 259, content: '<extra_0>' },
] as const;

export const ENDOFTEXT_ID = 256;
export const IM_START_ID = 257;
export const IM_END_ID = 258;
export const EXTRA_0_ID = 259;
/** Bytes and specials; the first merge gets this id. */
export const BASE_VOCAB_SIZE = 260;

/** Qwen2's pre-tokenizer regex, as it appears in Qwen2.5 tokenizer.json files. */
export const QWEN2_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The same pattern for JavaScript RegExp, which has no inline (?i:) group in Node 20. */
const QWEN2_SPLIT_JS = new RegExp(
  "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  'gu',
);

/** GPT-2's reversible byte → printable character map. */
export function bytesToUnicode(): string[] {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const map: string[] = new Array(256);
  for (const b of direct) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  }
  return map;
}

const BYTE_CHARS = bytesToUnicode();

function byteLevel(text: string): string[] {
  return Array.from(new TextEncoder().encode(text), (b) => BYTE_CHARS[b]!);
}

/**
 * Learns `count` BPE merges from a corpus: count byte-level symbol pairs inside pre-tokens, merge the most
 * frequent (ties: the smaller pair as a string), repeat. Specials in the corpus are not learned from.
 * Returns fewer merges when no pair occurs twice.
 */
export function learnMerges(corpus: string, count: number): [string, string][] {
  const specials = new RegExp(SPECIAL_TOKENS.map((s) => s.content.replace(/[|<>]/g, '\\$&')).join('|'), 'g');
  const words = new Map<string, number>();
  for (const chunk of corpus.split(specials)) {
    for (const m of chunk.matchAll(QWEN2_SPLIT_JS)) words.set(m[0], (words.get(m[0]) ?? 0) + 1);
  }
  const seqs = [...words].map(([w, n]) => ({ symbols: byteLevel(w), n }));
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const pairs = new Map<string, number>();
    for (const { symbols, n } of seqs) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best: string | null = null;
    let bestN = 1;
    for (const [key, n] of pairs) {
      if (n > bestN || (n === bestN && best !== null && key < best)) {
        best = key;
        bestN = n;
      }
    }
    if (best === null) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    for (const s of seqs) {
      const out: string[] = [];
      for (let i = 0; i < s.symbols.length; i++) {
        if (i + 1 < s.symbols.length && s.symbols[i] === a && s.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(s.symbols[i]!);
      }
      s.symbols = out;
    }
  }
  return merges;
}

export interface TinyTokenizer {
  /** tokenizer.json */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
  /** Number of ids the tokenizer knows (260 + merges, or padTo). */
  size: number;
}

/** Qwen2.5-style chat template; with no system turn it uses the reference math prompt. */
export const CHAT_TEMPLATE =
  "{%- if messages[0]['role'] == 'system' %}" +
  "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}" +
  '{%- else %}' +
  "{{- '<|im_start|>system\\nPlease reason step by step, and put your final answer within \\\\boxed{}.<|im_end|>\\n' }}" +
  '{%- endif %}' +
  '{%- for message in messages %}' +
  "{%- if not (message['role'] == 'system' and loop.first) %}" +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}" +
  '{%- endif %}' +
  '{%- endfor %}' +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** The vocabulary entry of padding id `id`: printable ASCII, so the byte-level decoder gives it back as is. */
export function paddingToken(id: number): string {
  return `<|pad_${id}|>`;
}

/**
 * `padTo`: fill the vocabulary with placeholder entries (`paddingToken(id)`) up to this many ids, so a
 * random model can have a real checkpoint's vocabulary size (151,936 for Qwen2.5). No text encodes to a
 * placeholder (no merge builds one); a sampled placeholder decodes to its own name.
 */
export function tinyTokenizer(merges: readonly [string, string][] = [], maxLength = 4096, padTo = 0): TinyTokenizer {
  const vocab: Record<string, number> = {};
  BYTE_CHARS.forEach((ch, b) => (vocab[ch] = b));
  merges.forEach(([a, b], i) => {
    if (vocab[a] === undefined || vocab[b] === undefined) {
      throw new Error(`Merge ${i} ("${a}" + "${b}") uses a token no earlier entry defines.`);
    }
    if (vocab[a + b] !== undefined) throw new Error(`Merge ${i} repeats token "${a + b}".`);
    vocab[a + b] = BASE_VOCAB_SIZE + i;
  });
  for (let id = BASE_VOCAB_SIZE + merges.length; id < padTo; id++) vocab[paddingToken(id)] = id;
  const added = SPECIAL_TOKENS.map((s) => ({
    id: s.id,
    content: s.content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevelStep = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        byteLevelStep,
      ],
    },
    post_processor: byteLevelStep,
    decoder: byteLevelStep,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...rest }) => [String(id), rest])),
    additional_special_tokens: ['<|im_start|>', '<|im_end|>', '<extra_0>'],
    bos_token: null,
    chat_template: CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: maxLength,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
  return { tokenizer, config, size: Math.max(BASE_VOCAB_SIZE + merges.length, padTo) };
}

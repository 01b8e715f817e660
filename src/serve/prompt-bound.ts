// A prompt's fit in the model's context, judged from its length in characters before any tokenising.
// Tokenising is synchronous and grows with the text (a megabyte of text takes about a second of the
// event loop and many times its size in memory), so a prompt that cannot fit is refused on its length
// alone, and the exact token count (vLLM's check) only ever runs on texts of bounded size.

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { ApiError } from './api-error.ts';

export interface PromptBound {
  /** The model's context in tokens (config.json's max_position_embeddings). */
  contextTokens: number;
  /** The most characters of input one token can stand for. */
  charsPerToken: number;
  /** contextTokens × charsPerToken: a longer text has more tokens than the context holds. */
  maxChars: number;
}

// NFC and NFKC compose at most four code points into one character (Greek ᾇ = α + three marks; a
// Hangul syllable = three jamo), so a normalized text can be up to four times shorter than the input.
const NORMALIZER_SHRINK = 4;

/**
 * The bound for a tokenizer: the longest vocabulary entry, added tokens included, is the most text a
 * token covers (a byte-level entry's characters are one byte each, and a UTF-16 character is at least
 * one byte), times NORMALIZER_SHRINK when the tokenizer normalizes its input. It is exact for what it
 * claims: a longer prompt can never fit, so refusing it changes no answer. (A normalizer that deletes
 * characters, such as BERT's accent stripping, could beat it; generative models' tokenizers do not.)
 */
export function promptBound(tokenizer: PreTrainedTokenizer, contextTokens: number): PromptBound {
  let longest = 1;
  for (const entry of tokenizer.get_vocab().keys()) longest = Math.max(longest, entry.length);
  // get_vocab() is public but the normalizer is not: read it defensively, and assume one if unsure.
  const json = (tokenizer as unknown as { _tokenizerJSON?: { normalizer?: unknown } })._tokenizerJSON;
  const normalizes = json === undefined || (json.normalizer !== null && json.normalizer !== undefined);
  const charsPerToken = longest * (normalizes ? NORMALIZER_SHRINK : 1);
  return { contextTokens, charsPerToken, maxChars: contextTokens * charsPerToken };
}

/** Refuses, with the 400 OpenAI and vLLM send, a text of `chars` characters that cannot fit. */
export function checkPromptChars(bound: PromptBound | undefined, chars: number, param: string): void {
  if (!bound || chars <= bound.maxChars) return;
  throw new ApiError(
    400,
    `This model's maximum context length is ${bound.contextTokens} tokens. However, your ${param} has ${chars} characters, ` +
      `more than ${bound.maxChars} (no token of this model stands for more than ${bound.charsPerToken} characters), so it cannot fit. ` +
      'Please reduce the length of the prompt.',
    'invalid_request_error',
    param,
    'context_length_exceeded',
  );
}

/** The same refusal for a prompt given as token ids, which need no tokenising to count. */
export function checkPromptIds(bound: PromptBound | undefined, count: number, param: string): void {
  if (!bound || count < bound.contextTokens) return;
  throw new ApiError(
    400,
    `This model's maximum context length is ${bound.contextTokens} tokens. However, your ${param} has ${count} tokens, leaving no room for the completion. Please reduce the length of the prompt.`,
    'invalid_request_error',
    param,
    'context_length_exceeded',
  );
}

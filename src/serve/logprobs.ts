// OpenAI's two shapes of logprobs, from the generator's tokens: chat's `{content: [{token, logprob,
// bytes, top_logprobs}]}` and completions' `{tokens, token_logprobs, top_logprobs, text_offset}`.
// A stream sends each chunk's own tokens.

import type { TokenLogprob } from './generator.ts';

const utf8 = new TextEncoder();
const bytes = (s: string) => [...utf8.encode(s)];

export function chatLogprobs(tokens: readonly TokenLogprob[]) {
  return {
    content: tokens.map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: bytes(t.token),
      top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: bytes(a.token) })),
    })),
    refusal: null,
  };
}

/** `offset`: where the first token starts in the choice's output (vLLM counts from the output, not the prompt). */
export function completionLogprobs(tokens: readonly TokenLogprob[], offset: number) {
  const offsets: number[] = [];
  let at = offset;
  for (const t of tokens) {
    offsets.push(at);
    at += t.token.length;
  }
  return {
    tokens: tokens.map((t) => t.token),
    token_logprobs: tokens.map((t) => t.logprob),
    // Alternatives decoded alone may collide ("\uFFFD" for two half characters): the likelier stays.
    top_logprobs: tokens.map((t) => {
      const d: Record<string, number> = {};
      for (const a of t.top) if (!(a.token in d)) d[a.token] = a.logprob;
      return d;
    }),
    text_offset: offsets,
  };
}

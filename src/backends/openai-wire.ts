// Reads OpenAI-style generation answers (streamed chunks or one JSON document, completions or chat) into
// one shape, checking every field it uses: a server's output is untrusted input like any other.

import { RemoteProtocolError } from '../core/errors.ts';
import { messageOf } from './http.ts';

export type WireKind = 'completion' | 'chat';

export interface WireUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface Generation {
  /** Everything the server generated for choice 0, concatenated. */
  text: string;
  finishReason: string | null;
  /**
   * What stopped generation, where the server says so: vLLM's `stop_reason` and SGLang's `matched_stop`
   * hold the matched stop string, or a token id / null for an end-of-sequence stop. `undefined` when
   * the server does not report it (OpenAI).
   */
  stopReason: string | number | null | undefined;
  usage: WireUsage | null;
  /**
   * Every generated token with its log-probability and where its text lies in `text`, when the server
   * sent logprobs for all of them (asked for, and supported); null otherwise.
   */
  tokens: WireToken[] | null;
}

export interface WireToken {
  logprob: number;
  /** [start, end) in Generation.text, in UTF-16 units; end === start for the leading bytes of a character split over tokens. */
  start: number;
  end: number;
}

/** Collects a generation from stream events (or a whole JSON answer), reporting text deltas as they come. */
export class GenerationReader {
  private text = '';
  private finishReason: string | null = null;
  private stopReason: string | number | null | undefined = undefined;
  private usage: WireUsage | null = null;
  private chunks = 0;
  private readonly tokens: WireToken[] = [];
  /** Characters of generated text the tokens account for so far. */
  private tokenChars = 0;
  /** Some chunk's logprobs were malformed: the confidence is dropped rather than guessed. */
  private tokensBroken = false;
  private readonly bytes = new TextDecoder('utf-8');

  constructor(
    private readonly kind: WireKind,
    private readonly endpoint: string,
    private readonly onDelta: (delta: string) => void,
  ) {}

  /** One server-sent event's data. */
  event(data: string): void {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw this.bad(`a stream event is not valid JSON (${JSON.stringify(data.slice(0, 60))})`);
    }
    this.chunk(json, 'delta');
  }

  /** A server that ignored `stream: true` answered with one document. */
  whole(json: unknown): void {
    this.chunk(json, 'message');
  }

  /** The generation; `complete` is false when the stream ended without "[DONE]". */
  result(complete: boolean): Generation {
    if (!complete && this.chunks === 0) throw this.bad('the answer holds no server-sent events (is this an OpenAI-compatible endpoint?)');
    if (!complete && this.finishReason === null)
      throw this.bad('the stream ended without "[DONE]" or a finish_reason: it was cut mid-way');
    // vLLM reports a request it dropped (shutdown, preemption) as finished: the text is not a step.
    if (this.finishReason === 'abort' || this.finishReason === 'error')
      throw this.bad(`the server gave up on the generation (finish_reason "${this.finishReason}"); try again`);
    // Tokens must account for every generated character: a server that sent logprobs for only some
    // chunks (or none) gives no confidence. A stop token reported beyond the text is harmless.
    const tokens = !this.tokensBroken && this.tokens.length > 0 && this.tokenChars >= this.text.length ? [...this.tokens] : null;
    return { text: this.text, finishReason: this.finishReason, stopReason: this.stopReason, usage: this.usage, tokens };
  }

  private chunk(json: unknown, field: 'delta' | 'message'): void {
    this.chunks++;
    if (!isObject(json)) throw this.bad('an answer is not a JSON object');
    if (json.error !== undefined && json.error !== null || json.object === 'error')
      throw this.bad(`the server reported an error instead of an answer: ${messageOf(json) ?? 'no message'}`);
    if (json.usage !== undefined && json.usage !== null) this.usage = this.readUsage(json.usage) ?? this.usage;
    const choices = json.choices;
    if (choices === undefined || choices === null) {
      if (json.usage === undefined || json.usage === null) throw this.bad('an answer has neither "choices" nor "usage"');
      return;
    }
    if (!Array.isArray(choices)) throw this.bad('"choices" is not a list');
    for (const c of choices) {
      if (!isObject(c)) throw this.bad('a choice is not an object');
      // Only one completion is requested; other indices would be a server bug, and are not ours.
      if (c.index !== undefined && c.index !== 0) continue;
      const delta = this.choiceText(c, field);
      this.readLogprobs(c.logprobs);
      if (delta) {
        this.text += delta;
        this.onDelta(delta);
      }
      if (c.finish_reason !== undefined && c.finish_reason !== null) {
        if (typeof c.finish_reason !== 'string') throw this.bad('"finish_reason" is not a string');
        this.finishReason = c.finish_reason;
      }
      for (const key of ['stop_reason', 'matched_stop'] as const) {
        if (!(key in c)) continue;
        const v = c[key];
        if (v !== null && typeof v !== 'string' && typeof v !== 'number') throw this.bad(`"${key}" is neither a string, a number nor null`);
        // vLLM sends stop_reason: null on every chunk; only the finishing chunk's value means anything.
        if (v !== null || c.finish_reason) this.stopReason = v;
      }
    }
  }

  private choiceText(c: Record<string, unknown>, field: 'delta' | 'message'): string {
    let v: unknown;
    if (this.kind === 'completion') v = c.text;
    else {
      const holder = c[field] ?? (field === 'delta' ? c.message : c.delta);
      if (holder !== undefined && holder !== null && !isObject(holder)) throw this.bad(`"${field}" is not an object`);
      v = holder?.content;
    }
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw this.bad(`the generated text is a ${Array.isArray(v) ? 'list' : typeof v}, not a string`);
    return v;
  }

  /**
   * A choice's logprobs, either API's shape: chat `{content: [{token, logprob, bytes?}]}`, completions
   * `{tokens: [...], token_logprobs: [...]}`. A stream carries each chunk's own tokens. Logprobs are
   * extra information, never a reason to fail a step: a malformed entry drops the confidence.
   */
  private readLogprobs(lp: unknown): void {
    if (lp === undefined || lp === null || this.tokensBroken) return;
    if (!isObject(lp)) return void (this.tokensBroken = true);
    if (this.kind === 'chat') {
      if (lp.content === null || lp.content === undefined) return;
      if (!Array.isArray(lp.content)) return void (this.tokensBroken = true);
      for (const t of lp.content) {
        if (!isObject(t) || typeof t.token !== 'string') return void (this.tokensBroken = true);
        this.addToken(t.logprob, t.token, t.bytes);
      }
      return;
    }
    const { tokens, token_logprobs: values } = lp;
    if ((tokens === null || tokens === undefined) && (values === null || values === undefined)) return;
    if (!Array.isArray(tokens) || !Array.isArray(values) || tokens.length !== values.length) return void (this.tokensBroken = true);
    for (const [i, t] of tokens.entries()) {
      if (typeof t !== 'string') return void (this.tokensBroken = true);
      this.addToken(values[i], t, undefined);
    }
  }

  private addToken(logprob: unknown, token: string, bytes: unknown): void {
    if (typeof logprob !== 'number' || Number.isNaN(logprob)) return void (this.tokensBroken = true);
    // Where the server gives a token's bytes (OpenAI's chat `bytes`), they say exactly how many
    // characters it completes: a character split over tokens belongs to the token that finishes it.
    const chars =
      Array.isArray(bytes) && bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256)
        ? this.bytes.decode(new Uint8Array(bytes as number[]), { stream: true }).length
        : token.length;
    this.tokens.push({ logprob: Math.min(0, logprob), start: this.tokenChars, end: this.tokenChars + chars });
    this.tokenChars += chars;
  }

  private readUsage(u: unknown): WireUsage | null {
    if (!isObject(u)) throw this.bad('"usage" is not an object');
    const p = u.prompt_tokens;
    const c = u.completion_tokens;
    if (p === undefined && c === undefined) return null;
    if (!isCount(p) || !isCount(c))
      throw this.bad(`"usage" holds invalid token counts (prompt_tokens ${JSON.stringify(p)}, completion_tokens ${JSON.stringify(c)})`);
    return { promptTokens: p, completionTokens: c };
  }

  private bad(detail: string): RemoteProtocolError {
    return new RemoteProtocolError(this.endpoint, detail);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

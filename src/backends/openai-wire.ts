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
}

/** Collects a generation from stream events (or a whole JSON answer), reporting text deltas as they come. */
export class GenerationReader {
  private text = '';
  private finishReason: string | null = null;
  private stopReason: string | number | null | undefined = undefined;
  private usage: WireUsage | null = null;
  private chunks = 0;

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
    return { text: this.text, finishReason: this.finishReason, stopReason: this.stopReason, usage: this.usage };
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

// Turns sampled token ids into one step: the text so far, when to stop, and what to stream. Kept apart
// from the model so the stopping rules are checked token by token with a real tokenizer.
//
// Stopping is decided on decoded text, never on token ids: "\n\n" may arrive as two "\n" tokens, as one
// token, or inside a token with more text after it (".\n\nSo"); everything from the delimiter on is cut.

import { cutAtDelimiter, STEP_DELIMITER } from '../core/steps.ts';
import type { StepFinish } from '../core/types.ts';

/** A byte-level tokenizer decodes half a UTF-8 character as U+FFFD until the rest of it arrives. */
const INCOMPLETE_CHAR = '\uFFFD';

export interface StepDecoderOptions {
  /** Decodes generated ids (without special tokens) to text. */
  decode: (ids: readonly number[]) => string;
  /** Ids that end the sequence (EOS, the template's end-of-turn tokens). */
  stopIds: ReadonlySet<number>;
  maxTokens: number;
  onText?: (delta: string) => void;
}

export interface StepOutcome {
  text: string;
  finish: StepFinish;
  /** Every sampled id, the one that ended the step included (that is what the model decoded). */
  tokens: number;
  /**
   * How many of the first sampled ids wrote `text`: a token counts when some of its text is in the
   * step (".\n\nSo" counts for its "."); one that is only the delimiter or end of sequence does not.
   * They are always the leading ids, as `text` is a prefix of what was decoded.
   */
  textTokens: number;
}

export class StepDecoder {
  private readonly ids: number[] = [];
  /** Per pushed id: the length of the settled text decoded before it (see textTokens). */
  private readonly starts: number[] = [];
  private text = '';
  private streamed = 0;
  private outcome: StepOutcome | null = null;

  constructor(private readonly o: StepDecoderOptions) {}

  /** Takes one sampled id; returns the outcome once the step is complete. */
  push(id: number): StepOutcome | null {
    if (this.outcome) throw new Error('StepDecoder: the step is already complete.');
    const count = this.ids.length + 1;
    if (this.o.stopIds.has(id)) return this.finish(this.text, 'end', count);
    // A trailing U+FFFD is a character still arriving: the byte that completes it writes it too.
    this.starts.push(settled(this.text).length);
    this.ids.push(id);
    this.text = this.currentText();
    const { text, cut } = cutAtDelimiter(this.text);
    if (cut) return this.finish(text, 'step', count);
    if (count >= this.o.maxTokens) return this.finish(text, 'length', count);
    this.stream(text, false);
    return null;
  }

  private currentText(): string {
    return this.ids.length ? this.o.decode(this.ids) : '';
  }

  private finish(text: string, finish: StepFinish, tokens: number): StepOutcome {
    this.stream(text, true);
    let textTokens = 0;
    while (textTokens < this.starts.length && this.starts[textTokens]! < text.length) textTokens++;
    this.outcome = { text, finish, tokens, textTokens };
    return this.outcome;
  }

  /**
   * Streams the part of `text` that can no longer change: not an incomplete character, and not a
   * trailing "\n" that may become the delimiter. At the end everything left is streamed.
   */
  private stream(text: string, final: boolean): void {
    let stable = text.length;
    if (!final) {
      while (stable > this.streamed && text[stable - 1] === INCOMPLETE_CHAR) stable--;
      if (text.endsWith(STEP_DELIMITER[0]!)) stable = Math.min(stable, text.length - 1);
    }
    if (stable > this.streamed) {
      this.o.onText?.(text.slice(this.streamed, stable));
      this.streamed = stable;
    }
  }
}

function settled(text: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === INCOMPLETE_CHAR) end--;
  return text.slice(0, end);
}

// Stop strings on generated text, as OpenAI and vLLM apply them: the output ends before the first
// stop string (or just after it, when the request asks to keep it), and a stream never shows text that
// may still turn out to be the start of a stop string.

/** A byte-level tokenizer decodes half a UTF-8 character as U+FFFD until the rest of it arrives. */
const INCOMPLETE_CHAR = '\uFFFD';

export interface StopHit {
  /** Output text, cut at the stop string. */
  text: string;
  /** The stop string that ended the text. */
  stop: string;
}

export class StopMatcher {
  constructor(
    private readonly stops: readonly string[],
    private readonly keepStop = false,
  ) {}

  /** The earliest stop string in `text` (the longest one when two start at the same place). */
  find(text: string): StopHit | null {
    let best: { at: number; stop: string } | null = null;
    for (const s of this.stops) {
      const at = text.indexOf(s);
      if (at >= 0 && (!best || at < best.at || (at === best.at && s.length > best.stop.length))) best = { at, stop: s };
    }
    if (!best) return null;
    return { text: text.slice(0, best.at + (this.keepStop ? best.stop.length : 0)), stop: best.stop };
  }

  /**
   * How much of `text` (which holds no stop string) can be shown now: everything but a tail that
   * begins some stop string, and an incomplete character.
   */
  stableLength(text: string): number {
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
        if (text.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    let end = text.length - hold;
    while (end > 0 && text[end - 1] === INCOMPLETE_CHAR) end--;
    return end;
  }
}

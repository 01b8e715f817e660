// "Self-check" PRM: the small model itself is asked whether a step is correct and its probability of
// answering "Yes" (against "No") is the score. It needs no extra download, and is much weaker than a
// trained PRM; the page offers it when no PRM folder is available.

import { AbortedError } from '../core/errors.ts';
import { qwen25, type ChatTemplate } from '../core/prompt.ts';
import type { ScoreRequest, StepScorer, Where } from '../core/types.ts';

/** Next-token probabilities from a language model: one number per candidate answer. */
export interface TokenProbe {
  readonly id: string;
  readonly where: Where;
  /**
   * Probability mass the model puts on each candidate as the first token after `prompt` (a raw
   * completion prompt, chat template applied). A candidate the model cannot rank gets 0.
   */
  nextTokenProbabilities(prompt: string, candidates: readonly string[], signal?: AbortSignal): Promise<number[]>;
}

const SYSTEM = 'You are a careful mathematics teacher. You check one step of a solution at a time.';
export const YES = ['Yes', ' Yes', 'yes'];
export const NO = ['No', ' No', 'no'];

export function selfCheckPrompt(template: ChatTemplate, problem: string, previous: readonly string[], step: string): string {
  const before = previous.length ? previous.join('\n\n') : '(no steps yet)';
  const user = `Problem:\n${problem}\n\nSolution so far:\n${before}\n\nNext step:\n${step}\n\nIs the next step correct? Answer with Yes or No.`;
  return template.render([
    { role: 'system', content: SYSTEM },
    { role: 'user', content: user },
    { role: 'assistant', content: '' },
  ]);
}

/** P(yes) / (P(yes) + P(no)); 0.5 when the model puts mass on neither (it says nothing either way). */
export function yesShare(probs: readonly number[], yesCount: number): number {
  const yes = probs.slice(0, yesCount).reduce((a, b) => a + b, 0);
  const no = probs.slice(yesCount).reduce((a, b) => a + b, 0);
  return yes + no > 0 ? yes / (yes + no) : 0.5;
}

/**
 * Scores each step with one probe call and caches by prefix, so scoring step t after steps 1..t-1
 * costs one call (plus one per earlier step that was never scored, such as a remote step).
 */
export function selfCheckScorer(probe: TokenProbe, template: ChatTemplate = qwen25): StepScorer {
  // Keyed by prefix within one problem; a new problem starts a new cache so it never grows unbounded.
  const cache = new Map<string, number>();
  let cachedProblem = '';
  return {
    id: `self-check(${probe.id})`,
    where: probe.where,
    async score(r: ScoreRequest): Promise<number[]> {
      if (r.problem !== cachedProblem) {
        cache.clear();
        cachedProblem = r.problem;
      }
      const scores: number[] = [];
      for (let i = 0; i < r.steps.length; i++) {
        if (r.signal?.aborted) throw new AbortedError();
        const previous = r.steps.slice(0, i);
        const key = JSON.stringify([previous, r.steps[i]]);
        let s = cache.get(key);
        if (s === undefined) {
          const prompt = selfCheckPrompt(template, r.problem, previous, r.steps[i]!);
          s = yesShare(await probe.nextTokenProbabilities(prompt, [...YES, ...NO], r.signal), YES.length);
          cache.set(key, s);
        }
        scores.push(s);
      }
      return scores;
    },
    async dispose() {
      cache.clear();
    },
  };
}

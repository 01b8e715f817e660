// How a PRM family wants "problem + steps" laid out as tokens, and how its head turns one position's
// output into a score. Three families, one registry entry each:
//   two-class (Qwen2.5-Math-PRM): chat turns (math system prompt, problem as the user), the steps in the
//     assistant turn each followed by <extra_0>; score = softmax(two logits)[1] at each <extra_0>.
//   value (Skywork-o1-Open-PRM): "{bos}{problem}\n", each step followed by "\n"; score = sigmoid(value)
//     at that "\n" (Skywork's own inference code appends the step token to every step).
//   lm-tag (Math-Shepherd): "{problem} ", each step followed by " ки" and "\n"; score = P("+") against
//     P("-") from the language-model logits at the tag.
// Every score is a sigmoid of one number per position (a logit difference, or the value itself), so a
// position's "margin" is all a scorer caches.

import { ConfigError } from '../core/errors.ts';
import { MATH_SYSTEM_PROMPT, problemMessages, type ChatTemplate } from '../core/prompt.ts';

export type PrmHead = 'two-class' | 'value' | 'lm-tag';
export const PRM_HEADS: readonly PrmHead[] = ['two-class', 'value', 'lm-tag'];

export interface PrmLayout {
  /**
   * Text before the first step: 'chat' renders the system and user turns with the chat template and
   * opens the assistant turn; any other string is a pattern where {problem} and {bos} (the tokenizer's
   * BOS token, or nothing) are replaced.
   */
  prompt: 'chat' | string;
  /** System turn for 'chat'. */
  system: string;
  /** Written after each step; the step's score is read at the marker's last token. */
  marker: string;
  /** Written after the marker, before the next step; not scored. */
  after: string;
  /** lm-tag: the tokens whose logits are compared at the marker (each must be one token). */
  good: string;
  bad: string;
}

interface HeadSpec {
  layout: PrmLayout;
  /** Logits per position the head must produce; null: the vocabulary (any width above 2). */
  width: 1 | 2 | null;
  /** The number whose sigmoid is the score, from one position's logits. */
  margin(row: Float32Array, ids: { good: number; bad: number }): number;
}

const BASE = { system: MATH_SYSTEM_PROMPT, after: '', good: '+', bad: '-' };

const HEADS: Record<PrmHead, HeadSpec> = {
  'two-class': {
    layout: { ...BASE, prompt: 'chat', marker: '<extra_0>' },
    width: 2,
    margin: (row) => row[1]! - row[0]!,
  },
  value: {
    layout: { ...BASE, prompt: '{bos}{problem}\n', marker: '\n' },
    width: 1,
    margin: (row) => row[0]!,
  },
  'lm-tag': {
    layout: { ...BASE, prompt: '{problem} ', marker: ' ки', after: '\n' },
    width: null,
    margin: (row, ids) => row[ids.good]! - row[ids.bad]!,
  },
};

export function isPrmHead(s: string): s is PrmHead {
  return (PRM_HEADS as readonly string[]).includes(s);
}

export function prmHead(name: string): PrmHead {
  if (!isPrmHead(name)) throw new ConfigError(`Unknown PRM head "${name}". Use one of ${PRM_HEADS.join(', ')}.`);
  return name;
}

/** A head's default layout with the caller's changes; a layout that cannot place scores is refused. */
export function prmLayout(head: PrmHead, changes: Partial<PrmLayout> = {}): PrmLayout {
  const layout = { ...HEADS[head].layout, ...changes };
  if (layout.prompt !== 'chat' && !layout.prompt.includes('{problem}'))
    throw new ConfigError(`The PRM prompt pattern "${layout.prompt}" has no {problem}; use 'chat' or a pattern such as "{bos}{problem}\\n".`);
  if (!layout.marker) throw new ConfigError('The PRM step marker is empty: the score of a step is read at its marker, so give one (e.g. "\\n").');
  return layout;
}

/** Checks the width of the model's logits against the head; the message says which head fits. */
export function checkHeadWidth(head: PrmHead, width: number, label: string): void {
  const want = HEADS[head].width;
  if (want === null ? width > 2 : width === want) return;
  const fits = width === 1 ? 'value' : width === 2 ? 'two-class' : 'lm-tag';
  throw new ConfigError(
    `The PRM at ${label} outputs ${width} number${width === 1 ? '' : 's'} per token, which is a ${fits} head, not ${head}. Use --prm-head ${fits}.`,
  );
}

export function headMargin(head: PrmHead, row: Float32Array, ids: { good: number; bad: number }): number {
  return HEADS[head].margin(row, ids);
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** The text before the first step. `problem` must already be made safe (control tokens defused). */
export function renderPrmPrompt(layout: PrmLayout, template: ChatTemplate, problem: string, bos: string): string {
  if (layout.prompt === 'chat') {
    return template.render([...problemMessages(problem, layout.system), { role: 'assistant', content: '' }]);
  }
  // One pass, so a "{bos}" inside the problem stays text.
  return layout.prompt.replace(/\{problem\}|\{bos\}/g, (m) => (m === '{problem}' ? problem : bos));
}

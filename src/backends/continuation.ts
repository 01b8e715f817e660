// How a remote model is asked to write exactly the next step after the accepted prefix. Each mode is
// one entry in a registry; the model backend only asks the entry for a request and for the text filter.

import { ConfigError } from '../core/errors.ts';
import type { ChatMessage, ChatTemplate } from '../core/prompt.ts';
import { continuationMessages, problemMessages } from '../core/prompt.ts';
import { continuationPrefix, joinSteps } from '../core/steps.ts';
import type { ContinuationMode } from '../core/types.ts';
import type { WireKind } from './openai-wire.ts';

export interface ContinuationInput {
  problem: string;
  steps: readonly string[];
  /** Degenerate text already generated for this step, plus its delimiter. */
  partial: string;
  system?: string;
  /** Rendered here in raw mode; servers render their own in the chat modes. */
  template: ChatTemplate;
}

export interface ContinuationRequest {
  path: '/v1/completions' | '/v1/chat/completions';
  wire: WireKind;
  /** Mode-specific body fields; the backend adds model, limits, sampling and streaming. */
  fields: Record<string, unknown>;
  /** Characters of prompt text, for estimating prompt tokens when a server reports no usage. */
  promptChars: number;
}

/**
 * Rewrites the generated text before it is cut at the delimiter; `pending` while it cannot tell yet
 * (more text may change the answer), `final` once the generation is over.
 */
export type TextFilter = (text: string, final: boolean) => { text: string; pending: boolean };

export interface ContinuationSpec {
  readonly id: ContinuationMode;
  request(input: ContinuationInput): ContinuationRequest;
  filter?(input: ContinuationInput): TextFilter;
}

const chars = (messages: readonly ChatMessage[]) => messages.reduce((n, m) => n + m.content.length, 0);

/**
 * Chat messages that end in the open assistant turn. With nothing to continue yet, an empty assistant
 * message would not work: chat templates close it (transformers keeps the "<|im_end|>" when the final
 * message is empty), so the model would start a new turn. The plain generation prompt is then the
 * exact same text.
 */
function hasPrefix(input: ContinuationInput): boolean {
  return continuationPrefix(input.steps, input.partial).trim() !== '';
}

const raw: ContinuationSpec = {
  id: 'raw',
  request(input) {
    let prompt = input.template.render(continuationMessages(input.problem, input.steps, input.partial, input.system));
    // Servers tokenize a completion prompt with the tokenizer's special tokens added, BOS included;
    // a second BOS from the template would put the model off its training distribution.
    const bos = input.template.bos;
    if (bos && prompt.startsWith(bos)) prompt = prompt.slice(bos.length);
    return { path: '/v1/completions', wire: 'completion', fields: { prompt }, promptChars: prompt.length };
  },
};

const continueFinal: ContinuationSpec = {
  id: 'continue',
  request(input) {
    const messages = hasPrefix(input)
      ? continuationMessages(input.problem, input.steps, input.partial, input.system)
      : problemMessages(input.problem, input.system);
    const open = hasPrefix(input);
    return {
      path: '/v1/chat/completions',
      wire: 'chat',
      fields: { messages, continue_final_message: open, add_generation_prompt: !open },
      promptChars: chars(messages),
    };
  },
};

const prefix: ContinuationSpec = {
  id: 'prefix',
  request(input) {
    const messages: (ChatMessage & { prefix?: true })[] = hasPrefix(input)
      ? continuationMessages(input.problem, input.steps, input.partial, input.system)
      : problemMessages(input.problem, input.system);
    const last = messages[messages.length - 1];
    if (last?.role === 'assistant') messages[messages.length - 1] = { ...last, prefix: true };
    return { path: '/v1/chat/completions', wire: 'chat', fields: { messages }, promptChars: chars(messages) };
  },
};

export const INSTRUCT_NEXT_STEP =
  'Write only the next step of this solution: one short paragraph with no blank lines, without repeating earlier steps. If it reaches the final answer, put the answer within \\boxed{}.';
export const INSTRUCT_FIRST_STEP =
  'Write only the first step of the solution: one short paragraph with no blank lines. If it reaches the final answer, put the answer within \\boxed{}.';

// The partial (a degenerate draft) is left out: a chat turn cannot continue it, and it holds nothing.
const instruct: ContinuationSpec = {
  id: 'instruct',
  request(input) {
    const user = input.steps.length
      ? `${input.problem}\n\nThe solution so far:\n\n${joinSteps(input.steps)}\n\n${INSTRUCT_NEXT_STEP}`
      : `${input.problem}\n\n${INSTRUCT_FIRST_STEP}`;
    const messages = problemMessages(user, input.system);
    return { path: '/v1/chat/completions', wire: 'chat', fields: { messages }, promptChars: chars(messages) };
  },
  filter: (input) => echoFilter(input.steps),
};

/**
 * A chat model asked for "the next step" often repeats the solution so far, or its last step, first.
 * The filter sees the output before it is cut at the delimiter: a leading echo of the accepted steps (all
 * of them, the last few, or one) is removed with the blank line after it, and an answer that is only an
 * echo becomes empty. While the output could still turn into an echo it is held back, so streamed text
 * never has to be taken back.
 */
export function echoFilter(steps: readonly string[]): TextFilter {
  const trimmed = steps.map((s) => s.trim()).filter((s) => s.length > 0);
  const tails = trimmed.map((_, i) => joinSteps(trimmed.slice(i)));
  const candidates = [...new Set([...tails, ...trimmed])].sort((a, b) => b.length - a.length);
  return (generated, final) => {
    const text = generated.trimStart();
    if (text.trim() === '') return { text: '', pending: !final };
    const head = text.trimEnd();
    if (candidates.some((c) => c.startsWith(head))) {
      if (!final) return { text: '', pending: true };
      return { text: candidates.includes(head) ? '' : text, pending: false };
    }
    for (const c of candidates) {
      if (text.startsWith(c) && /^\s/.test(text.slice(c.length))) {
        const rest = text.slice(c.length).trimStart();
        // Only whitespace after the echo so far: wait for the new step's first word.
        return { text: rest, pending: !final && rest === '' };
      }
    }
    return { text, pending: false };
  };
}

const modes = new Map<ContinuationMode, ContinuationSpec>([raw, continueFinal, prefix, instruct].map((m) => [m.id, m]));

export function continuationSpec(id: ContinuationMode): ContinuationSpec {
  const m = modes.get(id);
  if (!m) throw new ConfigError(`Unknown continuation mode "${id}". Known: ${continuationModes().join(', ')}.`);
  return m;
}

export function continuationModes(): ContinuationMode[] {
  return [...modes.keys()];
}

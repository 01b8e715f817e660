// Chat templates render "problem + accepted steps" as the exact text a model continues. They live in a
// registry so a new model family is a new entry, not a new code path.

import { continuationPrefix } from './steps.ts';

/** The reference prompt: the system turn asks for step-by-step reasoning and a boxed answer. */
export const MATH_SYSTEM_PROMPT = 'Please reason step by step, and put your final answer within \\boxed{}.';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatTemplate {
  readonly id: string;
  /** Renders messages; when the last one is the assistant's, it is left open for continuation. */
  render(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  /** Tokens that end an assistant turn. */
  readonly stopTokens: readonly string[];
  /** The beginning-of-sequence token the rendering starts with, if any (tokenizers may add it themselves). */
  readonly bos?: string;
}

export const qwen25: ChatTemplate = {
  id: 'qwen2.5',
  stopTokens: ['<|im_end|>', '<|endoftext|>'],
  render(messages, opts = {}) {
    const last = messages[messages.length - 1];
    const open = last?.role === 'assistant';
    let out = '';
    for (const [i, m] of messages.entries()) {
      out += `<|im_start|>${m.role}\n${m.content}`;
      if (!(open && i === messages.length - 1)) out += '<|im_end|>\n';
    }
    if (!open && opts.addGenerationPrompt) out += '<|im_start|>assistant\n';
    return out;
  },
};

export const llama3: ChatTemplate = {
  id: 'llama3',
  stopTokens: ['<|eot_id|>', '<|end_of_text|>'],
  bos: '<|begin_of_text|>',
  render(messages, opts = {}) {
    const last = messages[messages.length - 1];
    const open = last?.role === 'assistant';
    let out = '<|begin_of_text|>';
    for (const [i, m] of messages.entries()) {
      out += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content}`;
      if (!(open && i === messages.length - 1)) out += '<|eot_id|>';
    }
    if (!open && opts.addGenerationPrompt) out += '<|start_header_id|>assistant<|end_header_id|>\n\n';
    return out;
  },
};

const templates = new Map<string, ChatTemplate>([
  [qwen25.id, qwen25],
  ['qwen2', qwen25],
  [llama3.id, llama3],
]);

export function registerTemplate(t: ChatTemplate): void {
  templates.set(t.id, t);
}

export function getTemplate(id: string): ChatTemplate {
  const t = templates.get(id);
  if (!t) throw new Error(`Unknown chat template "${id}". Known: ${[...templates.keys()].join(', ')}.`);
  return t;
}

export function templateIds(): string[] {
  return [...templates.keys()];
}

/**
 * The problem without a trailing copy of `instruction` (whitespace aside). Many data files append the
 * reference instruction to each problem; the system turn already gives it, and a model or PRM trained on
 * the reference prompt never saw it twice.
 */
export function withoutInstruction(problem: string, instruction = MATH_SYSTEM_PROMPT): string {
  const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
  const want = squash(instruction);
  if (!want) return problem;
  const text = problem.trimEnd();
  // Walk back over the problem's last characters until their squashed form is the instruction.
  for (let i = text.length - 1; i >= 0 && text.length - i <= instruction.length * 2 + 16; i--) {
    const tail = squash(text.slice(i));
    if (tail.length > want.length) break;
    if (tail === want && (i === 0 || /\s/.test(text[i - 1]!))) {
      const rest = text.slice(0, i).trimEnd();
      return rest || problem;
    }
  }
  return problem;
}

/** System + user turns of the reference prompt. */
export function problemMessages(problem: string, system = MATH_SYSTEM_PROMPT): ChatMessage[] {
  return [
    { role: 'system', content: system },
    { role: 'user', content: withoutInstruction(problem, system) },
  ];
}

/** Messages whose last, open assistant turn is the accepted prefix (plus any partial text). */
export function continuationMessages(problem: string, steps: readonly string[], partial = '', system?: string): ChatMessage[] {
  return [...problemMessages(problem, system), { role: 'assistant', content: continuationPrefix(steps, partial) }];
}

/** The exact text a raw completion model continues to write the next step. */
export function renderContinuation(
  template: ChatTemplate,
  problem: string,
  steps: readonly string[],
  partial = '',
  system?: string,
): string {
  return template.render(continuationMessages(problem, steps, partial, system));
}

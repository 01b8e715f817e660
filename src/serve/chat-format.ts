// Chat messages → the prompt text, with the model folder's own chat template (as vLLM renders it with
// the tokenizer's template) and Hugging Face's rules for add_generation_prompt and
// continue_final_message: the final message is rendered closed, then the text is cut right after its
// content so the model continues it. transformers.js has the template engine but not that cut.

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { ChatMessage } from '../core/prompt.ts';
import { ApiError } from './api-error.ts';

export function renderChat(
  tokenizer: PreTrainedTokenizer,
  messages: readonly ChatMessage[],
  o: { addGenerationPrompt: boolean; continueFinalMessage: boolean },
): string {
  let rendered: string;
  try {
    rendered = tokenizer.apply_chat_template(messages as ChatMessage[], {
      tokenize: false,
      add_generation_prompt: o.addGenerationPrompt,
    }) as unknown as string;
  } catch (err) {
    throw new ApiError(400, `The model's chat template cannot render these messages (${err instanceof Error ? err.message : String(err)}); use /v1/completions with a prompt instead.`);
  }
  if (!o.continueFinalMessage) return rendered;
  const final = messages[messages.length - 1]!.content;
  const stripped = final.trim();
  // transformers' own rule, quirks included (an empty final message keeps its closing tokens).
  const at = rendered.lastIndexOf(stripped);
  if (at < 0)
    throw new ApiError(400, 'continue_final_message is set but the final message does not appear in the chat after applying the chat template.', 'invalid_request_error', 'messages');
  const lstripped = final.replace(/^\s+/, '');
  return rendered.slice(at, at + lstripped.length) === final ? rendered.slice(0, at + lstripped.length) : rendered.slice(0, at + stripped.length);
}

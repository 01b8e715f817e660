// Problems and model output are untrusted text. Inside a prompt, a literal "<|im_end|>" or the PRM's
// "<extra_0>" is read by the server's tokenizer as the control token itself: a draft could close its own
// turn and forge the next one, or shift the PRM's step positions so scores land on the wrong steps.
// Such markers are broken up (a space after "<") before text is sent; nothing else is touched.

const CONTROL_TOKEN = /<(?=\|[\w.-]{1,48}\|>|｜[^｜\s]{1,48}｜>|extra_\d{1,3}>)/g;

export function defuseControlTokens(text: string): string {
  return text.replace(CONTROL_TOKEN, '< ');
}

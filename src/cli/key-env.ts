// Flags like --strong-key-env and --api-key-env name the environment variable that holds a key, so the
// key never appears in the process list. People paste the key itself there; the error must then not
// print it back, since terminals, CI logs and screenshots keep what they show.

import { UsageError } from './command.ts';

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Prefixes of common API keys and tokens (OpenAI, Stripe, Hugging Face, GitHub, GitLab, Slack, AWS,
// Google, Replicate, Groq) followed by their random part, and Authorization header values; JWTs start
// with eyJ ('{"' in base64). A name such as hf_token stays a name.
const CREDENTIAL_PREFIX =
  /^(?:(?:sk|pk|rk)[-_]|(?:hf|gh[pousr]|r8|gsk)_[A-Za-z0-9]{12}|github_pat_|glpat-|xox[a-z]-|AKIA[0-9A-Z]{12}|AIza[0-9A-Za-z_-]{12}|eyJ|[Bb]earer\s|[Bb]asic\s)/;

/**
 * Whether a value looks like a secret rather than a variable name: a known key prefix, or a long
 * random-looking run (16+ characters with digits, or 24+ mixing cases), which variable names made of
 * words (OPENAI_API_KEY, MyServiceToken) do not have.
 */
export function looksLikeCredential(value: string): boolean {
  if (CREDENTIAL_PREFIX.test(value)) return true;
  return value.split(/[_\-.]/).some((run) => (run.length >= 16 && /\d/.test(run) && /[A-Za-z]/.test(run)) || (run.length >= 24 && /[a-z]/.test(run) && /[A-Z]/.test(run)));
}

/**
 * Checks that a --*-key-env value is a variable name; anything else (a key pasted there, a typo) is
 * refused without echoing it. `example` is a plausible name for the message, like STRONG_API_KEY.
 */
export function keyEnvName(value: string, flag: string, example: string): string {
  if (!VARIABLE_NAME.test(value) || looksLikeCredential(value))
    throw new UsageError(
      `${flag} takes the NAME of an environment variable (like ${example}), not the key itself: put the key in that variable (export ${example}=…) and give ${flag} ${example}. The value given is not shown, in case it is a key.`,
    );
  return value;
}

/** The key held by the variable a --*-key-env flag names; a missing or empty variable is a UsageError. */
export function keyFromEnv(env: NodeJS.ProcessEnv, value: string, flag: string, example: string): string {
  const name = keyEnvName(value, flag, example);
  const key = env[name]?.trim();
  if (!key) throw new UsageError(`The environment variable ${name} (named by ${flag}) is not set or empty.`);
  return key;
}

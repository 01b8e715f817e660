// Checks of single flag values that `trim eval` and `trim tune` both take, with the same messages, so a
// mistyped --limit or a missing --data reads the same in either command.

import { UsageError } from './command.ts';
import type { FlagValues } from './model-flags.ts';

/** The flag's value; a usage error saying what it is for when it is absent or blank. */
export function requiredString(v: FlagValues, name: string, what: string): string {
  const x = v[name];
  if (typeof x !== 'string' || !x.trim()) throw new UsageError(`--${name} is required (${what}).`);
  return x;
}

/** The flag as a whole number in [min, max], or undefined when it is absent. */
export function wholeNumber(v: FlagValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const x = v[name];
  if (typeof x !== 'string') return undefined;
  const n = Number(x);
  if (x.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}; got "${x}".`);
  return n;
}

/** The dataset flags `trim eval` and `trim tune` both take (parseArgs options). */
export const datasetFlagOptions = {
  data: { type: 'string' },
  format: { type: 'string' },
  'problem-field': { type: 'string' },
  'answer-field': { type: 'string' },
  offset: { type: 'string' },
  limit: { type: 'string' },
} as const;

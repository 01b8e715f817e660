// Where every token came from and what left the device. The strong model's decoded tokens are the cost
// TRIM optimises; the rest is recorded because in a browser the privacy cost is what leaves the device.

import type { Transmission } from './types.ts';

export type Phase = 'draft' | 'score' | 'strong';

export interface Ledger {
  /** Weak tokens of drafts that were kept. */
  weakTokens: number;
  /** Weak tokens of drafts thrown away (regenerated steps). */
  discardedDraftTokens: number;
  /** Weak prompt tokens processed (as reported by the backend). */
  weakPromptTokens: number;
  /** Tokens the strong model decoded: TRIM's cost. */
  strongTokens: number;
  strongPromptTokens: number;
  strongCalls: number;
  prmCalls: number;
  /** Characters of request bodies that left the device (strong and remote PRM requests). */
  sentChars: number;
  /** Requests that left the device, one per host. */
  sentRequests: number;
  /** True when some token count is an estimate (a server sent no usage). */
  estimated: boolean;
  /** Wall time per phase, ms. */
  ms: Record<Phase, number>;
}

export function emptyLedger(): Ledger {
  return {
    weakTokens: 0,
    discardedDraftTokens: 0,
    weakPromptTokens: 0,
    strongTokens: 0,
    strongPromptTokens: 0,
    strongCalls: 0,
    prmCalls: 0,
    sentChars: 0,
    sentRequests: 0,
    estimated: false,
    ms: { draft: 0, score: 0, strong: 0 },
  };
}

export function recordTransmission(l: Ledger, t: Transmission): void {
  l.sentChars += t.body.length;
  l.sentRequests += 1;
}

/** Sums ledgers (per session from per problem). */
export function addLedgers(a: Ledger, b: Ledger): Ledger {
  return {
    weakTokens: a.weakTokens + b.weakTokens,
    discardedDraftTokens: a.discardedDraftTokens + b.discardedDraftTokens,
    weakPromptTokens: a.weakPromptTokens + b.weakPromptTokens,
    strongTokens: a.strongTokens + b.strongTokens,
    strongPromptTokens: a.strongPromptTokens + b.strongPromptTokens,
    strongCalls: a.strongCalls + b.strongCalls,
    prmCalls: a.prmCalls + b.prmCalls,
    sentChars: a.sentChars + b.sentChars,
    sentRequests: a.sentRequests + b.sentRequests,
    estimated: a.estimated || b.estimated,
    ms: { draft: a.ms.draft + b.ms.draft, score: a.ms.score + b.ms.score, strong: a.ms.strong + b.ms.strong },
  };
}

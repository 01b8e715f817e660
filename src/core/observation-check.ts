// What a policy observes comes from models, servers and files: a score outside [0, 1], a token count
// that is not a count, is refused with a message that says where it came from, instead of silently
// steering a decision.

import { TrimError } from './errors.ts';
import type { Observation } from './types.ts';

export class InvalidObservationError extends TrimError {}

export function checkScore(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
    throw new InvalidObservationError(`${where}: a PRM score must be a number in [0, 1], got ${JSON.stringify(v)}. Check the PRM's output.`);
  return v;
}

/** Checks the fields score-based policies read; returns the minimum previous score (1 when none). */
export function checkObservation(o: Observation): number {
  checkScore(o.score, `Step ${o.t}`);
  if (typeof o.draftTokens !== 'number' || !Number.isFinite(o.draftTokens) || o.draftTokens < 0)
    throw new InvalidObservationError(`Step ${o.t}: the draft's token count must be a number ≥ 0, got ${JSON.stringify(o.draftTokens)}.`);
  let min = 1;
  o.previous.forEach((p, i) => (min = Math.min(min, checkScore(p, `Step ${o.t}, previous score ${i + 1}`))));
  return min;
}

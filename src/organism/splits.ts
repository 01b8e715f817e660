// Seeded train / validation / test splits. The test set is drawn first and nothing in it may appear in
// validation or training (short chains repeat often enough by chance that this must be enforced).

import { deriveSeed, mulberry32 } from '../core/rng.ts';
import { answerOf, problemText, randomChain, referenceSteps } from './task.ts';

export const ORGANISM_SEED = 20260110;
export const SPLIT_NAMES = ['test', 'val', 'train'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

export const DEFAULT_SPLIT_SIZES: Readonly<Record<SplitName, number>> = { test: 500, val: 500, train: 100_000 };

export interface OrganismRecord {
  id: string;
  problem: string;
  /** The final result, as text (what `trim eval` compares against). */
  answer: string;
  /** The reference solution, one operation per step. */
  steps: string[];
}

export type Splits = Record<SplitName, OrganismRecord[]>;

/** Draws the splits in a fixed order (test, val, train), so a split never depends on the sizes of later ones. */
export function generateSplits(sizes: Partial<Record<SplitName, number>> = {}, seed = ORGANISM_SEED): Splits {
  const want = { ...DEFAULT_SPLIT_SIZES, ...sizes };
  const seen = new Set<string>();
  const out = {} as Splits;
  for (const name of SPLIT_NAMES) {
    // Each split owns its stream, so a bigger training set never changes the test set.
    const rng = mulberry32(deriveSeed(seed, name));
    const records: OrganismRecord[] = [];
    const width = String(want[name]).length;
    for (let tries = 0; records.length < want[name]; tries++) {
      if (tries > want[name] * 20 + 1000) throw new Error(`Could not draw ${want[name]} distinct ${name} problems; lower the size.`);
      const chain = randomChain(rng);
      const problem = problemText(chain);
      if (seen.has(problem)) continue;
      seen.add(problem);
      records.push({
        id: `organism-${name}-${String(records.length + 1).padStart(width, '0')}`,
        problem,
        answer: String(answerOf(chain)),
        steps: referenceSteps(chain),
      });
    }
    out[name] = records;
  }
  return out;
}

export function toJsonl(records: readonly OrganismRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

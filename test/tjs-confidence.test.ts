// The drafting model's confidence (StepResult.confidence) from the transformers.js step model, on the
// organism's weak model: it must equal the same quantity computed independently, teacher-forced, by the
// LM-likelihood checker over the drafted step (the least likely token of the step given its prefix,
// softmax of the raw logits), whatever the sampling temperature and with the KV cache carried from
// step to step.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLmLikelihoodScorer, type LmLikelihoodScorer } from '../src/backends/lm-likelihood.ts';
import { loadTjsStepModel, minTokenProbability, type TjsStepModel } from '../src/backends/tjs-lm.ts';
import { hasBoxed } from '../src/core/steps.ts';
import type { Sampling } from '../src/core/types.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const WEAK = join(REPO_ROOT, 'public/models/organism/weak');
const PROBLEMS = readFileSync(join(REPO_ROOT, 'public/organism/test.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 3)
  .map((l) => (JSON.parse(l) as { problem: string }).problem);

describe('drafter confidence from the transformers.js step model (organism weak model)', () => {
  let cached: TjsStepModel;
  let fresh: TjsStepModel;
  let reference: LmLikelihoodScorer;
  beforeAll(async () => {
    cached = await loadTjsStepModel({ model: WEAK });
    fresh = await loadTjsStepModel({ model: WEAK, reuseCache: false });
    reference = await loadLmLikelihoodScorer({ model: WEAK });
  });
  afterAll(async () => {
    await Promise.all([cached?.dispose(), fresh?.dispose(), reference?.dispose()]);
  });

  it('is the least likely of the step\'s token probabilities, 1 for a step without tokens', () => {
    expect(minTokenProbability([])).toBe(1);
    expect(minTokenProbability([-0.1, Math.log(0.25), -2e-3])).toBeCloseTo(0.25, 12);
  });

  /** Drafts whole weak solutions step by step, each step checked against the teacher-forced reference. */
  async function compare(sampling: (step: number) => Sampling): Promise<number[]> {
    const seen: number[] = [];
    for (const problem of PROBLEMS) {
      const steps: string[] = [];
      for (let t = 0; t < 12; t++) {
        const r = await cached.next({ problem, steps, maxTokens: 200, sampling: sampling(t) });
        expect(r.confidence).toBeDefined();
        if (r.text.trim() === '') break;
        // The cache was carried over: every step after the first found its prompt's start cached.
        if (t > 0) expect(cached.lastReuse!.cachedTokens).toBeGreaterThan(0);
        const scores = await reference.score({ problem, steps: [...steps, r.text] });
        expect(Math.abs(r.confidence! - scores[scores.length - 1]!)).toBeLessThan(1e-4);
        // Without the cache the same draft reports the same confidence.
        const again = await fresh.next({ problem, steps, maxTokens: 200, sampling: sampling(t) });
        expect(again.text).toBe(r.text);
        expect(Math.abs(again.confidence! - r.confidence!)).toBeLessThan(1e-5);
        seen.push(r.confidence!);
        steps.push(r.text);
        if (r.finish !== 'step' || hasBoxed(r.text)) break;
      }
    }
    expect(seen.length).toBeGreaterThan(PROBLEMS.length);
    return seen;
  }

  it('greedy drafts: equals the teacher-forced minimum token probability', async () => {
    const greedy = await compare(() => ({ temperature: 0 }));
    // Every greedy token is the model's likeliest: on these problems never below 0.6.
    for (const x of greedy) expect(x).toBeGreaterThan(0.6);
  });

  it('sampled drafts (T = 2: tempered sampling, untempered confidence) equal it too', async () => {
    const c = await compare((t) => ({ temperature: 2, seed: 11 + t }));
    // Hot sampling picks tokens the model itself finds unlikely (greedy drafts stay above 0.6).
    expect(Math.min(...c)).toBeLessThan(0.5);
  });
});

// The lm-likelihood checker (src/backends/lm-likelihood.ts) on the organism's strong model: a correct
// step scores near 1, each kind of student slip scores under the threshold the flags stage recorded in
// the folder, incremental scoring (KV cache) gives the scores a fresh run gives, and `trim check` /
// `trim eval --task first-error` take it as --prm-lm DIR on hand-computed cases.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLmLikelihoodScorer, stepLikelihood, type LmLikelihoodScorer } from '../src/backends/lm-likelihood.ts';
import { checkSolution } from '../src/organism/checker.ts';
import { trimInProcess as trim } from './helpers/cli.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const STRONG = join(REPO_ROOT, 'public/models/organism/strong');
const config = JSON.parse(readFileSync(join(STRONG, 'config.json'), 'utf8')) as { trim?: { flagThreshold?: number } };
const THRESHOLD = config.trim?.flagThreshold;

const PROBLEM = 'Start with 5, then 1) +3 2) +1 3) -8 4) *4.';
const CORRECT = ['1) 5+3=8', '2) 8+1=9', '3) 9-8=1', '4) 1*4=\\boxed{4}'];

/** Step 2 (index 1) rewritten with each kind of slip organism/inject.ts makes. */
const SLIPS: Record<string, string> = {
  'wrong result': '2) 8+1=7',
  'off by one': '2) 8+1=10',
  'another operation': '2) 8-1=7',
  'operand copied from another operation': '2) 8+3=11',
  'input copied wrongly (the problem’s start, not the previous result)': '2) 5+1=6',
};

describe('stepLikelihood', () => {
  it('is the probability of the least likely token, 1 for a step with no tokens', () => {
    expect(stepLikelihood([Math.log(0.9), Math.log(0.2), Math.log(0.99)])).toBeCloseTo(0.2, 12);
    expect(stepLikelihood([0])).toBe(1);
    expect(stepLikelihood([])).toBe(1);
  });
});

describe('lm-likelihood on the organism strong model', () => {
  let scorer: LmLikelihoodScorer;
  beforeAll(async () => {
    scorer = await loadLmLikelihoodScorer({ model: STRONG });
  });
  afterAll(async () => {
    await scorer?.dispose();
  });

  it('the strong folder records its calibrated flag threshold (training/train.py --stage flags)', () => {
    expect(THRESHOLD).toBeGreaterThan(0);
    expect(THRESHOLD).toBeLessThan(0.5);
  });

  it('scores every step of a correct solution near 1, above the threshold', async () => {
    expect(checkSolution(PROBLEM, CORRECT).firstError).toBeNull();
    const scores = await scorer.score({ problem: PROBLEM, steps: CORRECT });
    expect(scores).toHaveLength(CORRECT.length);
    for (const s of scores) expect(s).toBeGreaterThan(0.99);
  });

  it.each(Object.entries(SLIPS))('%s: the slipped step is under the threshold, the step before it is not', async (_, slip) => {
    const steps = [CORRECT[0]!, slip];
    expect(checkSolution(PROBLEM, steps).firstError).toBe(1);
    const scores = await scorer.score({ problem: PROBLEM, steps });
    expect(scores[0]).toBeGreaterThan(0.99);
    expect(scores[1]).toBeLessThan(THRESHOLD!);
  });

  it('a wrong first step is flagged too', async () => {
    const scores = await scorer.score({ problem: PROBLEM, steps: ['1) 5+3=9', '2) 9+1=10'] });
    expect(scores[0]).toBeLessThan(THRESHOLD!);
  });

  it('incremental scoring (one step at a time, then an edited middle step) gives what a fresh scorer gives', async () => {
    const steps = [CORRECT[0]!, SLIPS['wrong result']!, '3) 7-8=-1'];
    const incremental: number[] = [];
    let before = 0;
    for (let i = 0; i < steps.length; i++) {
      incremental.push((await scorer.score({ problem: PROBLEM, steps: steps.slice(0, i + 1) }))[i]!);
      // A step on top of the last call runs only its own tokens (and the delimiter before it).
      if (i > 0) expect(scorer.lastReuse!.cachedTokens).toBe(before);
      before = scorer.lastReuse!.tokens;
    }
    const edited = [CORRECT[0]!, CORRECT[1]!, CORRECT[2]!];
    const afterEdit = await scorer.score({ problem: PROBLEM, steps: edited });
    const fresh = await loadLmLikelihoodScorer({ model: STRONG });
    try {
      expect(await fresh.score({ problem: PROBLEM, steps })).toEqual(incremental.map((x) => expect.closeTo(x, 9)));
      expect(await fresh.score({ problem: 'Start with 2, then 1) +1.', steps: ['1) 2+1=\\boxed{3}'] })).toHaveLength(1);
      expect(await fresh.score({ problem: PROBLEM, steps: edited })).toEqual(afterEdit.map((x) => expect.closeTo(x, 9)));
    } finally {
      await fresh.dispose();
    }
    expect(await scorer.score({ problem: PROBLEM, steps: [] })).toEqual([]);
  });
});

describe('--prm-lm in trim check and trim eval --task first-error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trim-lm-check-'));

  it('trim check flags the slipped step with the threshold the folder records', async () => {
    const steps = join(dir, 'steps.json');
    writeFileSync(steps, JSON.stringify([CORRECT[0], SLIPS['another operation'], '3) 7-8=-1']));
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', steps, '--prm-lm', STRONG, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { scores: number[]; firstError: number | null; threshold: number };
    expect(out.threshold).toBe(THRESHOLD);
    expect(out.firstError).toBe(1);
    const text = await trim(['check', '--problem', PROBLEM, '--steps-file', steps, '--prm-lm', STRONG]);
    expect(text.stdout).toMatch(/from .*organism\/strong\/config\.json, calibrated on /);
    expect(text.stdout).toContain('Step 2 is the first step scored below the threshold.');
  });

  it('refuses a PRM head beside it, and two PRM sources at once', async () => {
    const base = ['check', '--problem', PROBLEM, '--solution-file', join(dir, 'x.txt')];
    writeFileSync(join(dir, 'x.txt'), '1) 5+3=8');
    expect((await trim([...base, '--prm-lm', STRONG, '--prm-head', 'value'])).stderr).toMatch(/--prm-head goes with --prm-path DIR/);
    expect((await trim([...base, '--prm-lm', STRONG, '--prm-path', STRONG])).stderr).toMatch(/Give only one of --prm-url or --prm-path or --prm-lm/);
    expect((await trim([...base, '--prm-lm', dir])).stderr).toMatch(/--prm-lm .*: no config\.json there/);
  });

  it('first-error eval: every step correct, the first step wrong, a later step wrong', async () => {
    const data = join(dir, 'data.jsonl');
    const records = [
      { id: 'correct', problem: PROBLEM, steps: CORRECT, label: -1 },
      { id: 'first', problem: PROBLEM, steps: ['1) 5+3=9', '2) 9+1=10'], label: 0 },
      { id: 'third', problem: PROBLEM, steps: [CORRECT[0], CORRECT[1], '3) 9-8=2', '4) 2*4=\\boxed{8}'], label: 2 },
    ];
    writeFileSync(data, records.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const out = join(dir, 'eval');
    const r = await trim(['eval', '--task', 'first-error', '--data', data, '--prm-lm', STRONG, '--threshold', String(THRESHOLD), '--out', out]);
    expect(r.code).toBe(0);
    const results = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; label: number; predicted: number });
    expect(Object.fromEntries(results.map((x) => [x.id, x.predicted]))).toEqual({ correct: -1, first: 0, third: 2 });
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { f1: number; prm: string };
    expect(summary.f1).toBe(1);
    expect(summary.prm).toBe(`lm-likelihood:${STRONG}`);
  });
});

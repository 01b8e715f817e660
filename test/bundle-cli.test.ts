// --bundle FILE in trim route, simulate, eval and solve: the bundle's policies run, its grid is swept when
// no --sweep is given, and its best knob is the default.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleArtefacts } from '../src/core/bundle.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { parseResults } from '../src/eval/results-log.ts';
import { trimInProcess } from './helpers/cli.ts';
import { sampleBundle, sampleBundleJson } from './helpers/bundle.ts';
import { startEvalWorld, writeDataset, type EvalWorld, type ScriptedProblem } from './helpers/eval-world.ts';

const problems: ScriptedProblem[] = [
  { id: 'P1', gold: '7', weakAnswer: '7', score2: 0.8 },
  { id: 'P2', gold: '5', weakAnswer: '6', score2: 0.3 },
  { id: 'P3', gold: '9', weakAnswer: '8', score2: 0.6 },
];

let dir: string;
let bundlePath: string;
let world: EvalWorld;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trim-bundle-'));
  bundlePath = join(dir, 'routing.json');
  writeFileSync(bundlePath, JSON.stringify(sampleBundleJson()));
  world = await startEvalWorld(problems);
});
afterAll(async () => {
  await world.close();
  rmSync(dir, { recursive: true, force: true });
});

const observations = [
  { t: 1, score: 0.9, previous: [], draftTokens: 30 },
  { t: 2, score: 0.15, previous: [0.9], draftTokens: 30 },
  { t: 3, score: 0.6, previous: [0.9, 0.15], draftTokens: 30 },
  { t: 1, score: 0.05, previous: [], draftTokens: 30 },
];

describe('--bundle FILE', () => {
  it('trim route runs the bundle\'s policy at its best knob by default, and at --knob', async () => {
    const input = join(dir, 'obs.jsonl');
    writeFileSync(input, observations.map((o) => JSON.stringify(o)).join('\n') + '\n');
    const expected = (knob: number) => {
      const policy = createPolicy('pomdp', { knob, artefacts: bundleArtefacts(sampleBundle(), 'pomdp') });
      let e = policy.episode(0);
      let problem = 0;
      return observations.map((o) => {
        if (o.t === 1) e = policy.episode(problem++);
        return JSON.stringify({ t: o.t, decision: e.decide({ ...o, strongTokens: 0, budgetLeft: null }) });
      });
    };
    const byDefault = await trimInProcess(['route', '--policy', 'pomdp', '--bundle', bundlePath, '--input', input]);
    expect(byDefault.code).toBe(0);
    expect(byDefault.stdout.trim().split('\n')).toEqual(expected(0.001));
    const atKnob = await trimInProcess(['route', '--policy', 'pomdp', '--bundle', bundlePath, '--input', input, '--knob', '0.005']);
    expect(atKnob.stdout.trim().split('\n')).toEqual(expected(0.005));
  });

  it('trim simulate sweeps the bundle\'s grid for its policies', async () => {
    const out = join(dir, 'sim');
    const r = await trimInProcess(['simulate', '--policy', 'pomdp', '--policy', 'agg-lambda', '--bundle', bundlePath, '--baselines', '--problems', '40', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'), 'results.jsonl');
    const knobs = (p: string) => [...new Set(rows.filter((x) => x.policy === p).map((x) => x.knob))];
    expect(knobs('pomdp')).toEqual([0.0002, 0.001, 0.005]);
    expect(knobs('agg-lambda')).toEqual([0.0003, 0.003]);
  });

  it('trim eval --policy pomdp --bundle with no --sweep sweeps the bundle\'s grid', async () => {
    const data = writeDataset(dir, problems);
    const out = join(dir, 'eval');
    const r = await trimInProcess(['eval', '--data', data, ...world.flags, '--policy', 'pomdp', '--bundle', bundlePath, '--baselines', '--out', out, '--seed', '1']);
    expect(r.code, r.stderr).toBe(0);
    const rows = parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'), 'results.jsonl');
    expect([...new Set(rows.filter((x) => x.policy === 'pomdp').map((x) => x.knob))].sort()).toEqual([0.0002, 0.001, 0.005]);
    expect(r.stderr).toContain('3 problems × 5 operating points');

    const agg = await trimInProcess(['eval', '--data', data, ...world.flags, '--policy', 'agg-lambda', '--bundle', bundlePath, '--out', join(dir, 'eval-agg'), '--seed', '1']);
    expect(agg.code, agg.stderr).toBe(0);
    expect(agg.stderr).toContain('3 problems × 2 operating points');
  });

  it('trim solve uses the bundle\'s best knob', async () => {
    const r = await trimInProcess(['solve', '--problem', '[P2] Compute the value asked for in problem P2.', ...world.flags, '--policy', 'pomdp', '--bundle', bundlePath, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).policy).toMatchObject({ id: 'pomdp', knob: 0.001 });
  });

  it('refuses a bundle mixed with --weights, and a broken bundle, with what to do', async () => {
    const mixed = await trimInProcess(['route', '--policy', 'pomdp', '--bundle', bundlePath, '--weights', bundlePath]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/drop --weights and --observations, or drop --bundle/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ ...(sampleBundleJson() as object), version: 9 }));
    const r = await trimInProcess(['route', '--policy', 'pomdp', '--bundle', broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--bundle .*broken\.json is not a usable routing bundle: version 9 is not supported.*trim tune/);
    const missing = await trimInProcess(['simulate', '--policy', 'pomdp', '--bundle', join(dir, 'nope.json'), '--out', join(dir, 'x')]);
    expect(missing.stderr).toMatch(/Cannot read --bundle .*nope\.json/);
  });
});

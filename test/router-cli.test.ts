// The router commands as users run them: child processes of the real CLI, files on disk, and for trim
// solve real HTTP servers on 127.0.0.1.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightSetFromJson, weightsFromJson } from '../src/core/agg/weights.ts';
import { observationModelFromJson } from '../src/core/pomdp/observations.ts';
import { simulatedLabels } from '../src/core/sim/labels.ts';
import { DEFAULT_SIM_PARAMS } from '../src/core/sim/params.ts';
import { createWorld } from '../src/core/sim/world.ts';
import { parseResults } from '../src/eval/results-log.ts';
import { buildSummary, formatTable } from '../src/eval/summary.ts';
import { continuedSteps, prmSteps, startOpenAIServer, type TestServer } from './helpers/openai-server.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const BIN = resolve(REPO_ROOT, 'src/cli/bin.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function trim(args: string[], stdin?: string): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trim-routers-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trim simulate', () => {
  it('writes results, summary.json and curve.svg, and prints the table trim eval would print for them', async () => {
    const out = join(dir, 'sim');
    const r = await trim(['simulate', '--policy', 'thr=0.5,0.9', '--policy', 'pomdp=0.0003,0.003', '--policy', 'query', '--baselines', '--problems', '300', '--seed', '5', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/300 problems × 7 operating points .* problem runs\/s/);
    const rows = parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'), 'results.jsonl');
    expect(rows).toHaveLength(300 * 7);
    const summary = buildSummary(rows);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(summary)));
    expect(r.stdout).toBe(formatTable(summary));
    expect(r.stdout).toMatch(/CPT\(95%\)/);
    expect(summary.policies.map((p) => p.policy)).toEqual(['pomdp', 'query', 'thr']);
    expect(readFileSync(join(out, 'curve.svg'), 'utf8')).toMatch(/<svg[^>]*>/);
    // The same seed gives the same results.
    const again = await trim(['simulate', '--policy', 'thr=0.5', '--problems', '300', '--seed', '5', '--out', join(dir, 'sim2')]);
    const rows2 = parseResults(readFileSync(join(dir, 'sim2', 'results.jsonl'), 'utf8'), 'x');
    expect(rows2).toEqual(rows.filter((x) => x.policy === 'thr' && x.knob === 0.5));
    expect(again.code).toBe(0);
  });

  it('explains bad arguments', async () => {
    const r = await trim(['simulate', '--policy', 'thr=0.5,high', '--out', join(dir, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"high" is not one/);
    const noWeights = await trim(['simulate', '--policy', 'agg', '--out', join(dir, 'bad')]);
    expect(noWeights.code).toBe(2);
    expect(noWeights.stderr).toMatch(/--weights FILE/);
  });
});

describe('trim route', () => {
  const lines = [
    { t: 1, score: 0.95, previous: [], draftTokens: 50 },
    { t: 2, score: 0.05, previous: [0.95], draftTokens: 40 },
    { t: 3, score: 0.9, previous: [0.95, 0.8], draftTokens: 60 },
    { t: 1, score: 0.2, previous: [], draftTokens: 50 },
  ];
  const input = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

  it('writes one decision per observation line, starting a new problem at t = 1', async () => {
    const r = await trim(['route', '--policy', 'thr', '--knob', '0.5'], input);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { t: 1, decision: 'accept' },
      { t: 2, decision: 'regenerate' },
      { t: 3, decision: 'accept' },
      { t: 1, decision: 'regenerate' },
    ]);
    const q = await trim(['route', '--policy', 'query', '--knob', '0.5'], input);
    expect(q.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { t: 1, decision: 'accept' },
      { t: 2, decision: 'accept', plan: 'accept' },
      { t: 3, decision: 'accept', plan: 'accept' },
      { t: 1, decision: 'regenerate' },
    ]);
    const p = await trim(['route', '--policy', 'pomdp', '--knob', '0.0008', '--belief', 'reference'], input);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout.trim().split('\n')).toHaveLength(4);
    // A gate as wide as the whole reward accepts every draft; a gate that is not a number is refused.
    const wide = await trim(['route', '--policy', 'pomdp', '--knob', '0', '--belief', 'reference', '--gate', '1'], input);
    expect(wide.code, wide.stderr).toBe(0);
    expect(wide.stdout.trim().split('\n').map((l) => JSON.parse(l).decision)).toEqual(['accept', 'accept', 'accept', 'accept']);
    const free = await trim(['route', '--policy', 'pomdp', '--knob', '0', '--belief', 'reference', '--gate', '0'], input);
    expect(free.stdout.trim().split('\n').map((l) => JSON.parse(l).decision)).toContain('regenerate');
    const bad = await trim(['route', '--policy', 'pomdp', '--gate', 'wide'], input);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--gate must be a number ≥ 0; got "wide"/);
  });

  it('stops at a bad line with its number, keeping the decisions already written', async () => {
    const bad = input.split('\n').slice(0, 2).join('\n') + '\n{"t": 3, "score": "high", "previous": [1, 1], "draftTokens": 5}\n';
    const r = await trim(['route', '--policy', 'pomdp'], bad);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/line 3: "score" must be a number in \[0, 1\]/);
    const skip = await trim(['route', '--policy', 'thr'], '{"t": 2, "score": 0.5, "previous": [0.9], "draftTokens": 5}\n');
    expect(skip.code).toBe(1);
    expect(skip.stderr).toMatch(/does not follow a t = 1 line/);
    const notJson = await trim(['route', '--policy', 'thr'], '{"t": 1,\n');
    expect(notJson.stderr).toMatch(/line 1 is not valid JSON/);
  });
});

describe('fit-observations, train-agg and calibrate', () => {
  it('fits an observation model from labels and scores that trim route then uses', async () => {
    // ProcessBench-shaped labels with scores from the simulator's PRM; one file with ids, one without.
    const sols = simulatedLabels(createWorld(DEFAULT_SIM_PARAMS, 150, 9));
    const labels = join(dir, 'labels.jsonl');
    writeFileSync(labels, sols.map((s) => JSON.stringify({ id: s.id, steps: s.steps.map((_, i) => `step ${i}`), label: s.label })).join('\n'));
    const byId = join(dir, 'scores.jsonl');
    writeFileSync(byId, [...sols].reverse().map((s) => JSON.stringify({ id: s.id, scores: s.scores })).join('\n'));
    const byPosition = join(dir, 'scores-positional.jsonl');
    writeFileSync(byPosition, sols.map((s) => JSON.stringify({ scores: s.scores })).join('\n'));
    const a = join(dir, 'obs-a.json');
    const b = join(dir, 'obs-b.json');
    const r = await trim(['fit-observations', '--labels', labels, '--scores', byId, '--bins', '10', '--out', a]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/S0: \d+ prefixes/);
    expect(r.stdout).toMatch(/AUC/);
    expect((await trim(['fit-observations', '--labels', labels, '--scores', byPosition, '--bins', '10', '--out', b])).code).toBe(0);
    expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8').replace('scores-positional.jsonl', 'scores.jsonl'));
    const m = observationModelFromJson(JSON.parse(readFileSync(a, 'utf8')));
    expect(m.bins).toBe(10);
    expect(m.hazard).toHaveLength(30);
    const routed = await trim(['route', '--policy', 'pomdp', '--observations', a], '{"t":1,"score":0.01,"previous":[],"draftTokens":30}\n');
    expect(routed.code, routed.stderr).toBe(0);
    expect(JSON.parse(routed.stdout)).toEqual({ t: 1, decision: 'regenerate' });

    const c = join(dir, 'obs-c.json');
    const cond = await trim(['fit-observations', '--labels', labels, '--scores', byId, '--observes', 'score-given-previous', '--out', c]);
    expect(cond.code, cond.stderr).toBe(0);
    expect(cond.stdout).toMatch(/\(score-given-previous\)/);
    const mc = observationModelFromJson(JSON.parse(readFileSync(c, 'utf8')));
    expect(mc.observes).toBe('score-given-previous');
    expect(mc.given![0]).toHaveLength(400);
    const routedC = await trim(['route', '--policy', 'pomdp', '--observations', c], '{"t":1,"score":0.01,"previous":[],"draftTokens":30}\n');
    expect(JSON.parse(routedC.stdout)).toEqual({ t: 1, decision: 'regenerate' });
    const bad = await trim(['fit-observations', '--labels', labels, '--scores', byId, '--observes', 'minimum', '--out', c]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--observes must be one of min-and-score, score, score-given-previous/);

    writeFileSync(join(dir, 'short.jsonl'), JSON.stringify({ id: sols[0]!.id, scores: [0.5] }));
    const short = await trim(['fit-observations', '--labels', labels, '--scores', join(dir, 'short.jsonl'), '--out', join(dir, 'x.json')]);
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/steps but 1 scores|No prefixes/);
  });

  it('trains agg weights in the simulator that the agg policy loads', async () => {
    const w = join(dir, 'agg.json');
    const r = await trim(['train-agg', '--simulate', '--lambda', '0.002', '--iterations', '2', '--episodes', '64', '--held-out', '100', '--hidden', '8', '--out', w]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/iteration 2\/2: .*held-out accuracy/);
    expect(r.stdout).toMatch(/Kept iteration \d of 2|No iteration beat the initial policy/);
    const weights = weightsFromJson(JSON.parse(readFileSync(w, 'utf8')));
    expect(weights).toMatchObject({ lambda: 0.002, hidden: 8 });
    const routed = await trim(['route', '--policy', 'agg', '--weights', w], '{"t":1,"score":0.5,"previous":[],"draftTokens":30}\n');
    expect(routed.code, routed.stderr).toBe(0);
    expect(['accept', 'regenerate']).toContain(JSON.parse(routed.stdout).decision);
    const missing = await trim(['route', '--policy', 'agg', '--weights', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read --weights/);
  });

  it('trains one policy per λ into a checkpoint set that agg-lambda sweeps', async () => {
    const set = join(dir, 'agg-set.json');
    const r = await trim(['train-agg', '--simulate', '--lambda', '0.002,0.004', '--iterations', '1', '--episodes', '64', '--held-out', '100', '--hidden', '8', '--out', set]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/λ = 0\.004: iteration 1\/1: /);
    expect(r.stdout).toMatch(/λ = 0\.002: (Kept iteration 1 of 1|No iteration beat)/);
    expect(r.stdout).toContain(`--policy agg-lambda --weights ${set} --sweep 0.002,0.004`);
    const parsed = weightSetFromJson(JSON.parse(readFileSync(set, 'utf8')));
    expect(parsed.checkpoints.map((c) => [c.lambda, c.training.advantageEstimator])).toEqual([[0.002, 'paired'], [0.004, 'paired']]);

    const out = join(dir, 'sim-agg');
    const sim = await trim(['simulate', '--policy', 'agg-lambda', '--weights', set, '--sweep', '0.002,0.004', '--policy', 'thr=0.5', '--baselines', '--problems', '200', '--out', out]);
    expect(sim.code, sim.stderr).toBe(0);
    const rows = parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'), 'results.jsonl');
    expect([...new Set(rows.filter((x) => x.policy === 'agg-lambda').map((x) => x.knob))]).toEqual([0.002, 0.004]);
    expect(sim.stdout).toMatch(/agg-lambda +0\.002 /);

    const untrained = await trim(['simulate', '--policy', 'agg-lambda=0.003', '--weights', set, '--problems', '10', '--out', join(dir, 'sim-agg-bad')]);
    expect(untrained.code).toBe(2);
    expect(untrained.stderr).toMatch(/No TRIM-Agg policy was trained at λ = 0\.003; the weights hold λ = 0\.002, 0\.004/);
    const routed = await trim(['route', '--policy', 'agg-lambda', '--knob', '0.004', '--weights', set], '{"t":1,"score":0.5,"previous":[],"draftTokens":30}\n');
    expect(routed.code, routed.stderr).toBe(0);
    expect(['accept', 'regenerate']).toContain(JSON.parse(routed.stdout).decision);
    const wrongPolicy = await trim(['route', '--policy', 'agg', '--weights', set], '');
    expect(wrongPolicy.code).toBe(2);
    expect(wrongPolicy.stderr).toMatch(/2 policies .*--policy agg-lambda/);
    const repeated = await trim(['train-agg', '--simulate', '--lambda', '0.002,0.002', '--out', join(dir, 'x.json')]);
    expect(repeated.code).toBe(2);
    expect(repeated.stderr).toMatch(/repeats a value/);
  });

  it('trains one λ-conditioned network with --lambda-range that agg-lambda sweeps at any λ of the range', async () => {
    const w = join(dir, 'agg-cond.json');
    const r = await trim(['train-agg', '--simulate', '--lambda-range', '0.001,0.004', '--iterations', '1', '--episodes', '64', '--held-out', '100', '--hidden', '8', '--out', w]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`One network for λ in [0.001, 0.004]: use it with --policy agg-lambda --weights ${w}`);
    const parsed = weightSetFromJson(JSON.parse(readFileSync(w, 'utf8')));
    expect(parsed.checkpoints.map((c) => c.lambdaRange)).toEqual([[0.001, 0.004]]);
    const out = join(dir, 'sim-agg-cond');
    const sim = await trim(['simulate', '--policy', 'agg-lambda=0.001,0.0017,0.0031,0.004', '--weights', w, '--baselines', '--problems', '100', '--out', out]);
    expect(sim.code, sim.stderr).toBe(0);
    expect(sim.stdout).toMatch(/agg-lambda +0\.0017 /);
    const outside = await trim(['simulate', '--policy', 'agg-lambda=0.01', '--weights', w, '--problems', '10', '--out', join(dir, 'sim-agg-cond-bad')]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/0\.001…0\.004 \(one λ-conditioned network\)/);
    const both = await trim(['train-agg', '--simulate', '--lambda', '0.001', '--lambda-range', '0.001,0.004', '--out', join(dir, 'y.json')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/not both/);
    const bad = await trim(['train-agg', '--simulate', '--lambda-range', '0.004,0.001', '--out', join(dir, 'y.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--lambda-range takes LO,HI/);
  });

  it('calibrates a knob to a target cost from results or the simulator', async () => {
    const results = join(dir, 'cal');
    await trim(['simulate', '--policy', 'thr=0.2,0.4,0.6,0.8,0.95', '--baselines', '--problems', '400', '--out', results]);
    const fromResults = await trim(['calibrate', '--policy', 'thr', '--target-cost', '0.25', '--results', join(results, 'results.jsonl'), '--json']);
    expect(fromResults.code, fromResults.stderr).toBe(0);
    const c = JSON.parse(fromResults.stdout);
    expect(c).toMatchObject({ policy: 'thr', knobName: 'threshold', target: 0.25, metric: 'cost', reached: true });
    expect(c.knob).toBeGreaterThan(0.4);
    expect(c.knob).toBeLessThan(0.95);
    const simulated = await trim(['calibrate', '--policy', 'thr', '--by', 'steps', '--target-cost', '0.1', '--simulate', '--problems', '400']);
    expect(simulated.code, simulated.stderr).toBe(0);
    expect(simulated.stdout).toMatch(/thr: threshold = [\d.]+ spends 10\.0% of steps sent to the strong model/);
    const bad = await trim(['calibrate', '--policy', 'thr', '--target-cost', '30', '--simulate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/fraction in \[0, 1\]/);
  });
});

describe('the routers in trim solve', () => {
  let weak: TestServer;
  let strong: TestServer;
  let prm: TestServer;
  beforeAll(async () => {
    [weak, strong, prm] = await Promise.all([
      startOpenAIServer({ respond: (r) => ({ text: ['Add 1 and 2.', 'BAD: 1+2 = 4.', 'So \\boxed{3}.'][continuedSteps(r).length] ?? '\\boxed{3}' }) }),
      startOpenAIServer({ respond: () => ({ text: 'Indeed 1+2 = 3.' }) }),
      startOpenAIServer({ respond: (r) => ({ scores: prmSteps(r).map((s) => (s.startsWith('BAD') ? [0.98, 0.02] : [0.02, 0.98])) }) }),
    ]);
  });
  afterAll(() => Promise.all([weak.close(), strong.close(), prm.close()]));

  it('--policy pomdp --lambda and --observations route the bad step to the strong model', async () => {
    const obs = join(dir, 'obs-solve.json');
    await trim(['fit-observations', '--simulate', '--problems', '300', '--out', obs]);
    const r = await new Promise<Run>((done) =>
      execFile(
        process.execPath,
        [BIN, 'solve', '--problem', 'What is 1+2?', '--weak-url', weak.url, '--weak-model', 'small', '--strong-url', strong.url, '--strong-model', 'big',
          '--prm-url', prm.url, '--prm-model', 'prm', '--policy', 'pomdp', '--lambda', '0.0008', '--observations', obs, '--json'],
        { cwd: REPO_ROOT },
        (err, stdout, stderr) => done({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.policy).toEqual({ id: 'pomdp', knob: 0.0008 });
    expect(out.steps.map((s: { source: string }) => s.source)).toEqual(['weak', 'strong', 'weak']);
    expect(out.answer).toBe('3');
  });

  it('train-agg trains online against real endpoints (the model flags of trim eval with --data)', async () => {
    const data = join(dir, 'online.jsonl');
    writeFileSync(data, Array.from({ length: 4 }, (_, i) => JSON.stringify({ id: `p${i}`, problem: 'What is 1+2?', answer: '3' })).join('\n') + '\n');
    const w = join(dir, 'agg-online.json');
    const before = strong.requests.length;
    const r = await trim([
      'train-agg', '--data', data, '--weak-url', weak.url, '--weak-model', 'small', '--strong-url', strong.url, '--strong-model', 'big',
      '--prm-url', prm.url, '--prm-model', 'prm', '--lambda', '0.001', '--iterations', '1', '--episodes', '3', '--held-out', '1', '--hidden', '8', '--out', w,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/iteration 1\/1: .*held-out accuracy \d+/);
    expect(weightsFromJson(JSON.parse(readFileSync(w, 'utf8'))).lambda).toBe(0.001);
    // Sampled actions: some training steps went to the real strong server.
    expect(strong.requests.length).toBeGreaterThan(before);
    const missing = await trim(['train-agg', '--data', data, '--lambda', '0.001', '--out', w]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/weak model is missing/);
  });
});

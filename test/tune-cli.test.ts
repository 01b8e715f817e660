// `trim tune` end to end on a scripted loopback world (labels from Monte-Carlo rollouts), resumed after
// SIGKILL, and on a few organism problems with the organism's own models (labels from its checker).

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJson } from '../src/core/bundle.ts';
import { fitPomdpFromTraces, type LabelledTrace } from '../src/core/pomdp/fit.ts';
import { rowKey, type ResultRow } from '../src/eval/summary.ts';
import { confidenceChannelLine } from '../src/cli/commands/tune.ts';
import { generateSplits, toJsonl } from '../src/organism/splits.ts';
import { trimInProcess } from './helpers/cli.ts';
import { trimChild } from './helpers/cli-child.ts';
import { REPO_ROOT } from './helpers/paths.ts';
import { startTuneWorld as startWorld, type TuneWorld as World } from './helpers/tune-world.ts';

// --keep-all: a network trained on 4 episodes may lose to Thr, and these tests follow both policies.
const SMALL = ['--thr-grid', '0.5,0.8', '--agg-lambdas', '0.002', '--agg-iterations', '1', '--agg-episodes', '4', '--seed', '3', '--concurrency', '3', '--keep-all'];

let dir: string;
let world: World;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trim-tune-'));
  world = await startWorld(dir, 12);
});
afterAll(async () => {
  await Promise.all(world.servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('trim tune on a scripted world (rollout labels)', () => {
  let out: string;
  let r: { code: number; stdout: string; stderr: string };
  beforeAll(async () => {
    out = join(dir, 'bundle.json');
    r = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', out, ...SMALL]);
  }, 60_000);

  it('writes a valid bundle with both policies, their calibration and provenance', () => {
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('cost = strong-model tokens ÷ strong-only');
    // The scripted servers return no logprobs: the tune says its POMDP is PRM-only, and why.
    expect(r.stderr).toMatch(/observes the PRM score only: 0 of \d+ drafts carry the drafting model's confidence/);
    expect(readFileSync(join(`${out}.work`, 'curve.svg'), 'utf8')).toContain('Strong-model tokens, normalised (strong-only = 100%)');
    const b = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')), out);
    expect(b.policies.pomdp!.grid.length).toBeGreaterThan(3);
    expect(b.policies['agg-lambda']!.grid).toEqual([0.002]);
    expect(Object.keys(b.calibration).sort()).toEqual(['agg-lambda', 'pomdp', 'thr']);
    expect(b.calibration.pomdp!.map((p) => p.knob)).toEqual([...b.policies.pomdp!.grid].sort((x, y) => x - y));
    expect(b.calibration.thr!.map((p) => p.knob)).toEqual([0.5, 0.8]);
    const prov = b.provenance as Record<string, any>;
    expect(prov.data.sha256).toBe(createHash('sha256').update(readFileSync(world.data)).digest('hex'));
    expect(prov.models).toEqual({ weak: 'weak:w', strong: 'strong:s', prm: 'prm:p' });
    expect(prov.seed).toBe(3);
    expect(prov.labels).toMatchObject({ source: 'rollouts', unlabelled: 0 });
    expect(Date.parse(prov.date)).not.toBeNaN();
  });

  it('labels the BAD step as the first error: the fitted weak model is right half the time at step 2', () => {
    const b = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')));
    // Drafts after a right prefix: step 1 always right (12), step 2 right for odd i (6 of 12), step 3 right after GOOD.
    const fit = b.policies.pomdp!.extra.fit as { draftsByState: number[] };
    expect(fit.draftsByState[2]).toBe(6);
    expect(b.policies.pomdp!.pw).toBeCloseTo(24 / 30, 6);
    // Each wrong solution needs good(0), good(1), good(2): three rollouts, 40 strong tokens each.
    expect((b.provenance as any).labels).toMatchObject({ rollouts: 18, strongTokens: 18 * 40 });
  });

  it('routes like the ideal router at a small λ: the tuned POMDP reaches strong-only accuracy', () => {
    const b = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')));
    const best = b.calibration.pomdp!.reduce((a, p) => (p.accuracy > a.accuracy ? p : a));
    expect(best.accuracy).toBe(1);
    expect(b.best).toMatchObject({ policy: expect.any(String), beatsThr: expect.any(Boolean) });
    expect(r.stdout).toMatch(/Tuning spent \d+ strong tokens \([\d.]+ per problem\): \d+ solving and measuring, 720 labelling \(18 rollouts\), \d+ training TRIM-Agg\./);
    expect(r.stderr).toMatch(/trim tune: solving: 12 problems × 4 operating points/);
    // The fidelity gate ran before TRIM-Agg was trained, and the bundle says where it was trained.
    expect(r.stderr).toMatch(/trim tune: (fidelity gate (passes|FAILS)|the simulator could not be fitted)/);
    const b2 = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')));
    const verdict = (b2.provenance as any).fidelityGate.verdict;
    expect(['simulator', 'real-traces']).toContain(verdict);
    expect(String(b2.policies['agg-lambda']!.extra.training)).toMatch(verdict === 'simulator' ? /in the simulator/ : /on real solves/);
  });

  it('resumed after it finished, redoes nothing and fits the same model (calibration runs do not feed the fit)', async () => {
    const before = readFileSync(out, 'utf8');
    const again = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', out, ...SMALL, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/calibrating: 12 problems × \d+ operating points \(\d+ runs already done\)/);
    const strip = (text: string) => ({ ...(JSON.parse(text) as Record<string, any>), provenance: null });
    expect(strip(readFileSync(out, 'utf8'))).toEqual(strip(before));
  });

  it('without --keep-all, leaves out a tuned policy that clearly loses to Thr on the tuning problems, and says why', async () => {
    const kept = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')));
    const dropOut = join(dir, 'drop.json');
    const again = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', dropOut, '--work', `${out}.work`, ...SMALL.filter((a) => a !== '--keep-all'), '--resume']);
    expect(again.code, again.stderr).toBe(0);
    const b = bundleFromJson(JSON.parse(readFileSync(dropOut, 'utf8')));
    const leftOut = ((b.provenance as any).leftOut ?? []) as { policy: string; reason: string }[];
    // Here the network trained on 4 episodes never reaches PGR 95% (or far after Thr): it is left out.
    expect(leftOut.map((l) => l.policy)).toContain('agg-lambda');
    for (const l of leftOut) {
      expect(l.reason).toMatch(/never reaches PGR 95%|more than 10 points worse/);
      expect(again.stderr).toContain(`left ${l.policy} out of the bundle: ${l.reason}`);
    }
    expect(Object.keys(b.policies).sort()).toEqual(Object.keys(kept.policies).filter((p) => !leftOut.some((l) => l.policy === p)).sort());
    // The calibration stays as the evidence, and the best is one of the policies shipped.
    expect(b.calibration['agg-lambda']).toEqual(kept.calibration['agg-lambda']);
    expect(Object.keys(b.policies)).toContain(b.best!.policy);
    expect(Object.keys(b.policies).length).toBeGreaterThan(0);
  });

  it('gives a bundle trim eval sweeps without --sweep', async () => {
    const e = await trimInProcess(['eval', '--data', world.data, ...world.flags, '--policy', 'pomdp', '--bundle', out, '--out', join(dir, 'eval'), '--seed', '3']);
    expect(e.code, e.stderr).toBe(0);
    const b = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')));
    expect(e.stderr).toContain(`12 problems × ${b.policies.pomdp!.grid.length} operating points`);
  });

  it('with --cost sent, calibrates and picks by characters sent off the device', async () => {
    const sentOut = join(dir, 'sent.json');
    const r2 = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', sentOut, '--thr-grid', '0.5,0.8', '--agg-lambdas', 'none', '--cost', 'sent', '--seed', '3', '--concurrency', '3']);
    expect(r2.code, r2.stderr).toBe(0);
    const b = bundleFromJson(JSON.parse(readFileSync(sentOut, 'utf8')));
    expect((b.provenance as any).settings.cost).toBe('sent');
    // The POMDP's λ prices characters: a regeneration's expected characters rise with the step (the prefix rides along).
    expect(b.policies.pomdp!.cost).toBe('sent');
    const fc = b.policies.pomdp!.futureCost!;
    expect(fc[2]!).toBeGreaterThan(fc[0]!);
    expect(r2.stderr).toMatch(/λ prices characters sent/);
    for (const p of [...b.calibration.pomdp!, ...b.calibration.thr!]) {
      expect(p.sentShare).not.toBeNull();
      expect(p.cost).toBe(p.sentShare);
    }
  });

  it('with --cost sent, trains TRIM-Agg per character too and labels its table and curve by characters sent', async () => {
    const sentOut = join(dir, 'sent-agg.json');
    const r2 = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', sentOut, '--thr-grid', '0.5,0.8', '--agg-iterations', '1', '--agg-episodes', '4', '--cost', 'sent', '--seed', '3', '--concurrency', '3', '--keep-all']);
    expect(r2.code, r2.stderr).toBe(0);
    const b = bundleFromJson(JSON.parse(readFileSync(sentOut, 'utf8')));
    // Agg's λ come from the POMDP's grid, which is scaled by strong-only's characters (not its tokens).
    const grid = [...b.policies.pomdp!.grid].sort((x, y) => x - y);
    const agg = b.policies['agg-lambda']!;
    expect(agg.extra.cost).toBe('sent');
    for (const l of agg.grid) expect(grid).toContain(l);
    expect(agg.grid).toEqual(expect.arrayContaining([grid[0], grid[1]]));
    expect(b.calibration['agg-lambda']!.every((p) => p.cost === p.sentShare)).toBe(true);
    expect(r2.stdout).toContain('cost = characters sent off the device ÷ strong-only (--cost sent)');
    expect(r2.stdout).not.toContain('strong-model tokens ÷');
    const svg = readFileSync(join(`${sentOut}.work`, 'curve.svg'), 'utf8');
    expect(svg).toContain('Characters sent off the device, normalised (strong-only = 100%)');
    expect(svg).not.toContain('Strong-model tokens');
  });

  it('refuses bad arguments with what to do', async () => {
    const miss = await trimInProcess(['tune', ...world.flags, '--out', join(dir, 'x.json')]);
    expect(miss.stderr).toMatch(/--data is required/);
    const cost = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', join(dir, 'x.json'), '--cost', 'euros']);
    expect(cost.stderr).toMatch(/--cost must be tokens or sent/);
    const checker = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', join(dir, 'x.json'), '--label-source', 'checker']);
    expect(checker.stderr).toMatch(/--label-source checker needs organism problems/);
    const again = await trimInProcess(['tune', '--data', world.data, ...world.flags, '--out', out, ...SMALL]);
    expect(again.stderr).toMatch(/already holds results from an earlier run\. Pass --resume/);
  });
});

describe('trim tune killed with SIGKILL', () => {
  it('resumes with --resume, losing and duplicating nothing', async () => {
    const sub = mkdtempSync(join(dir, 'kill-'));
    const slow = await startWorld(sub, 12, 10);
    try {
      const out = join(sub, 'bundle.json');
      const results = join(`${out}.work`, 'results.jsonl');
      const lines = () => (existsSync(results) ? readFileSync(results, 'utf8').split('\n').filter((l) => l.endsWith('}')).length : 0);
      const args = ['tune', '--data', slow.data, ...slow.flags, '--out', out, ...SMALL];
      const killed = await trimChild(args, () => lines() >= 10);
      expect(killed.signal).toBe('SIGKILL');
      expect(existsSync(out)).toBe(false);
      const before = readFileSync(results, 'utf8');
      const complete = before.slice(0, before.lastIndexOf('\n') + 1);

      const resumed = await trimChild([...args, '--resume']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/already done\)/);
      const text = readFileSync(results, 'utf8');
      expect(text.startsWith(complete)).toBe(true);
      const rows = text.trim().split('\n').map((l) => JSON.parse(l) as ResultRow);
      expect(new Set(rows.map(rowKey)).size).toBe(rows.length);
      const b = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')));
      // Every operating point has all 12 problems: 4 trace points and the two policies' grids.
      expect(rows.length).toBe(12 * (4 + b.policies.pomdp!.grid.length + 1));
      expect((b.provenance as any).labels).toMatchObject({ rollouts: 18 });
    } finally {
      await Promise.all(slow.servers.map((s) => s.close()));
    }
  }, 120_000);
});

describe("trim tune's line on the confidence channel", () => {
  // One right draft, then (from the third draft on) a first wrong one and one after the error.
  const LABELS = ['correct', 'correct', 'first-wrong', 'after-error'] as const;
  const trace = (confidences: (number | undefined)[]): LabelledTrace => ({
    id: 'p',
    correct: confidences.length < 3,
    strongTokens: 0,
    steps: confidences.map((c, i) => ({
      source: 'weak' as const,
      label: LABELS[i]!,
      tokens: 5,
      draft: { score: 0.9 - 0.3 * i, previous: [], tokens: 5, label: LABELS[i]!, decision: 'accept' as const, ...(c !== undefined ? { confidence: c } : {}) },
    })),
  });
  it('counts the drafts without a confidence when one missing one leaves the POMDP on the PRM score alone', () => {
    const traces = [trace([0.9, 0.8]), trace([0.7, undefined, 0.6, 0.4])];
    expect(fitPomdpFromTraces(traces).observations.confidence).toBeUndefined();
    expect(confidenceChannelLine(traces, false)).toMatch(/^TRIM-POMDP observes the PRM score only: 5 of 6 drafts carry the drafting model's confidence, and the channel needs every one \(a weak server that returns OpenAI logprobs/);
    const all = [trace([0.9, 0.8]), trace([0.7, 0.5, 0.6, 0.4])];
    expect(fitPomdpFromTraces(all).observations.confidence).toBeDefined();
    expect(confidenceChannelLine(all, true)).toBe("TRIM-POMDP observes the PRM score and the drafting model's confidence (all 6 drafts carry one)");
  });
});

describe('trim tune on organism problems (checker labels, the organism models)', () => {
  it('labels with the checker, spends no strong tokens on labels, and writes the bundle', async () => {
    const sub = mkdtempSync(join(dir, 'organism-'));
    const data = join(sub, 'val.jsonl');
    writeFileSync(data, toJsonl(generateSplits({ test: 0, val: 8, train: 0 }).val));
    const M = join(REPO_ROOT, 'public/models/organism');
    const out = join(sub, 'routing.json');
    const r = await trimInProcess([
      'tune', '--data', data, '--weak-path', join(M, 'weak'), '--strong-path', join(M, 'strong'), '--prm-path', join(M, 'prm'),
      '--out', out, '--thr-grid', '0.5', '--lambda-grid', '0.0005,0.005', '--agg-lambdas', 'none', '--seed', '1', '--concurrency', '2',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('labels from the organism checker');
    expect(r.stderr).toMatch(/observes the PRM score and the drafting model's confidence \(all \d+ drafts carry one\)/);
    expect(JSON.parse(readFileSync(out, 'utf8')).version).toBe(2);
    const b = bundleFromJson(JSON.parse(readFileSync(out, 'utf8')));
    expect(b.policies['agg-lambda']).toBeUndefined();
    expect(b.policies.pomdp!.grid).toEqual([0.0005, 0.005]);
    expect((b.provenance as any).labels).toMatchObject({ source: 'checker', strongTokens: 0 });
    expect((b.provenance as any).strongTokensSpent.labelling).toBe(0);
    // Resumed once finished: the checker labels only the trace runs, so the calibration runs do not change the fit.
    const before = readFileSync(out, 'utf8');
    const again = await trimInProcess([
      'tune', '--data', data, '--weak-path', join(M, 'weak'), '--strong-path', join(M, 'strong'), '--prm-path', join(M, 'prm'),
      '--out', out, '--thr-grid', '0.5', '--lambda-grid', '0.0005,0.005', '--agg-lambdas', 'none', '--seed', '1', '--concurrency', '2', '--resume',
    ]);
    expect(again.code, again.stderr).toBe(0);
    const strip = (text: string) => ({ ...(JSON.parse(text) as Record<string, any>), provenance: null });
    expect(strip(readFileSync(out, 'utf8'))).toEqual(strip(before));
    // Everything on the device sends nothing: --cost sent has nothing to trade, and says so.
    const sent = await trimInProcess([
      'tune', '--data', data, '--weak-path', join(M, 'weak'), '--strong-path', join(M, 'strong'), '--prm-path', join(M, 'prm'),
      '--out', out, '--work', join(sub, 'sent-work'), '--thr-grid', '0.5', '--cost', 'sent', '--seed', '1', '--concurrency', '2',
    ]);
    expect(sent.code).toBe(2);
    expect(sent.stderr).toMatch(/--cost sent .*strong-only sent none here .*Tune with --cost tokens/);
  }, 120_000);
});


// TRIM-POMDP priced in characters sent (--cost sent): a regeneration costs the characters its request
// sends, which grow with the accepted prefix, so the solver's future cost grows with the step and the
// run-time cost is the request's exact size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAIStepModel } from '../src/backends/openai.ts';
import { bundleArtefacts, bundleFromJson, bundleToJson, type RoutingBundle } from '../src/core/bundle.ts';
import { solveToTrace } from '../src/core/solve.ts';
import { fitPomdpFromTraces, futureCharsByStep, type LabelledTrace, type TracedStep } from '../src/core/pomdp/fit.ts';
import { futureCostAt, type PomdpModel } from '../src/core/pomdp/model.ts';
import type { ObservationModel } from '../src/core/pomdp/observations.ts';
import { actionValues, solvePomdp, tablesFromJson, tablesToJson } from '../src/core/pomdp/solver.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { defaultObservationModel, pomdpPolicy } from '../src/core/policies/pomdp.ts';
import type { Observation, StepModel, StepScorer } from '../src/core/types.ts';
import { DEFAULT_SIM_PARAMS } from '../src/core/sim/params.ts';
import { runProblem } from '../src/core/sim/run.ts';
import { createWorld } from '../src/core/sim/world.ts';
import { startOpenAIServer, type TestServer } from './helpers/openai-server.ts';

/** One observation cell every state emits: the posterior is the prior, so values can be worked by hand. */
const blind: ObservationModel = {
  bins: 1,
  observes: 'score',
  probs: [Float64Array.of(1), Float64Array.of(1), Float64Array.of(1)],
  counts: [1, 1, 1],
  bandwidths: [
    [0.1, 0.1],
    [0.1, 0.1],
    [0.1, 0.1],
  ],
  source: 'test',
};

// Two steps; the solution ends after step 1 with probability ½, surely after step 2.
const base: PomdpModel = { pw: 0.5, ps: 1, hazard: [0.5, 1], reward: 1, futureTokens: 100 };

describe('TRIM-POMDP priced in characters sent', () => {
  it('prices a future regeneration at its step: a dearer step 2 lowers step 1 values as worked by hand', () => {
    // With a blind observation, after accepting a step-1 draft right w.p. x the step-2 belief is
    // (x·p_w, 1−x, x·(1−p_w)); A_2(y) = y and G_2(z) = p_s·(1−z), so
    //   A_1(x) = ½·x + ½·max(½·x, x − λ·F_2),
    // at x = 1 and λ = 0.001: F_2 = 100 → ½ + ½·0.9 = 0.95; F_2 = 1000 → ½ + ½·max(0.5, 0) = 0.75.
    const lambda = 0.001;
    const cheap = solvePomdp({ ...base, cost: 'sent', futureCost: [50, 100] }, blind, lambda, 3);
    const dear = solvePomdp({ ...base, cost: 'sent', futureCost: [50, 1000] }, blind, lambda, 3);
    expect(cheap.accept[0]![2]).toBeCloseTo(0.95, 12);
    expect(dear.accept[0]![2]).toBeCloseTo(0.75, 12);
    // Step 2 is the last: no future regeneration, the same tables whatever it costs.
    expect(Array.from(dear.accept[1]!)).toEqual(Array.from(cheap.accept[1]!));
    // Priced in tokens at 100 per regeneration, the tables are the cheap ones: the cost only renames F.
    const tokens = solvePomdp(base, blind, lambda, 3);
    expect(Array.from(tokens.accept[0]!)).toEqual(Array.from(cheap.accept[0]!));
    expect(Array.from(tokens.regenerate[0]!)).toEqual(Array.from(cheap.regenerate[0]!));
  });

  it('the tables change with the cost: the same model priced in characters solves to other tables', () => {
    const obs = defaultObservationModel();
    const hazard = obs.hazard ?? Array.from({ length: 30 }, (_, i) => (i === 29 ? 1 : 0.1));
    const model: PomdpModel = { pw: 0.8, ps: 0.97, hazard, reward: 1, futureTokens: 60 };
    const chars = hazard.map((_, i) => 400 + 150 * i);
    const t = solvePomdp(model, obs, 1e-3, 51);
    const s = solvePomdp({ ...model, cost: 'sent', futureCost: chars }, obs, 1e-3 / 10, 51);
    expect(futureCostAt(s.model, 1)).toBe(400);
    expect(futureCostAt(s.model, 99)).toBe(chars[chars.length - 1]);
    expect(futureCostAt(t.model, 7)).toBe(60);
    expect(Array.from(s.accept[0]!)).not.toEqual(Array.from(t.accept[0]!));
    // Round trip keeps the cost and the per-step future cost.
    const back = tablesFromJson(JSON.parse(JSON.stringify(tablesToJson(s))));
    expect(back.model.cost).toBe('sent');
    expect(back.model.futureCost).toEqual(chars);
    expect(Array.from(back.accept[3]!)).toEqual(Array.from(s.accept[3]!));
  });

  it('a later step costs more: the same draft and belief are regenerated early and accepted late', () => {
    const lambda = 1e-4;
    const policy = pomdpPolicy({
      lambda,
      observations: blind,
      pw: 0.5,
      ps: 1,
      cost: 'sent',
      futureCost: [500, 500],
    });
    // Belief (½, 0, ½): accept is worth ½·½ + ½·V_2; regenerating pays λ·sendChars. Find the break-even
    // from the tables and check both sides of it, with the step's characters, not its tokens.
    const tables = solvePomdp({ ...base, futureTokens: 60, cost: 'sent', futureCost: [500, 500] }, blind, lambda, 201);
    const v = actionValues(tables, 1, [0.5, 0, 0.5], 0);
    const breakEven = (v.regenerate - v.accept) / lambda;
    expect(breakEven).toBeGreaterThan(100);
    const ob = (sendChars: number): Observation => ({ t: 1, score: 0.5, previous: [], draftTokens: 1, strongTokens: 0, budgetLeft: null, sendChars });
    expect(policy.episode(1).decide(ob(breakEven * 0.9))).toBe('regenerate');
    expect(policy.episode(1).decide(ob(breakEven * 1.1))).toBe('accept');
    // The draft's tokens do not enter: a huge draft with a short request is still regenerated.
    expect(policy.episode(1).decide({ ...ob(breakEven * 0.9), draftTokens: 1e6 })).toBe('regenerate');
  });

  it('refuses to guess when the strong model cannot size its request', () => {
    const policy = pomdpPolicy({ lambda: 1e-4, observations: blind, pw: 0.5, ps: 1, cost: 'sent', futureCost: [500] });
    expect(() => policy.episode(1).decide({ t: 1, score: 0.5, previous: [], draftTokens: 1, strongTokens: 0, budgetLeft: null })).toThrow(/--cost sent.*--cost tokens/);
    expect(() => pomdpPolicy({ lambda: 1e-4, observations: blind, cost: 'sent' })).toThrow(/futureCost/);
  });
});

const draftStep = (sendChars: number | undefined, label: TracedStep['label'] = 'correct'): TracedStep => ({
  source: 'weak',
  label,
  tokens: 10,
  draft: { score: 0.9, previous: [], tokens: 10, label, decision: 'accept', ...(sendChars !== undefined ? { sendChars } : {}) },
});

describe('fitting the characters a regeneration sends', () => {
  it('means by step, shrunk to a rising line: exact on a line, extrapolated past the data', () => {
    const traces: LabelledTrace[] = [
      { id: 'a', steps: [draftStep(100), draftStep(200)], correct: true, strongTokens: 0 },
      { id: 'b', steps: [draftStep(100), draftStep(200, 'first-wrong')], correct: false, strongTokens: 0 },
      { id: 'c', steps: [draftStep(100, 'first-wrong'), draftStep(200, 'after-error')], correct: false, strongTokens: 0 },
    ];
    const f = futureCharsByStep(traces, 4);
    // Every sample is on 100·t: the line is 100·t and the means agree with it; steps 3 and 4 are the line.
    f.forEach((c, i) => expect(c).toBeCloseTo(100 * (i + 1), 9));
    const fitted = fitPomdpFromTraces(traces, { cost: 'sent', maxSteps: 4 });
    expect(fitted.model.cost).toBe('sent');
    expect(fitted.model.futureCost!.map((c) => Math.round(c))).toEqual([100, 200, 300, 400]);
    // By default λ prices tokens and no per-step character cost is fitted.
    expect(fitPomdpFromTraces(traces, { maxSteps: 4 }).model.futureCost).toBeUndefined();
  });

  it('extends the line past the last step with data: a later step is priced higher', () => {
    // Step 1: ten samples at 100; step 2: one sample at 1000. Line through the 11 points; step 2's mean
    // (1000); two steps observed, so the line runs through both means and rises past them.
    const traces: LabelledTrace[] = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, steps: [draftStep(100)], correct: true, strongTokens: 0 }));
    traces.push({ id: 'q', steps: [draftStep(100), draftStep(1000)], correct: true, strongTokens: 0 });
    // 12 samples: eleven at t=1 (c=100), one at t=2 (c=1000): slope = 900, intercept = −800 (line(1) = 100, line(2) = 1000).
    const f = futureCharsByStep(traces, 3);
    expect(f[0]).toBeCloseTo(100, 9);
    expect(f[1]).toBeCloseTo(1000, 9);
    expect(f[2]).toBeCloseTo(1900, 9);
  });

  it('says what to do when the traces do not record characters', () => {
    const traces: LabelledTrace[] = [{ id: 'a', steps: [draftStep(undefined)], correct: true, strongTokens: 0 }];
    expect(() => fitPomdpFromTraces(traces, { cost: 'sent' })).toThrow(/remote strong model.*cost "tokens"/);
  });
});

describe('bundles record the cost their POMDP was tuned with', () => {
  const obs = defaultObservationModel();
  const bundle = (extra: object): RoutingBundle =>
    ({ policies: { pomdp: { observations: obs, pw: 0.8, ps: 0.97, futureTokens: 60, belief: 'filter', grid: [1e-5, 1e-4], extra: {}, ...extra } }, calibration: {}, best: null, provenance: {} }) as RoutingBundle;

  it('round-trips cost "sent" with its per-step characters, and runs a policy that prices them', () => {
    const b = bundleFromJson(JSON.parse(JSON.stringify(bundleToJson(bundle({ cost: 'sent', futureCost: [300, 450, 600] })))), 'test bundle');
    expect(b.policies.pomdp!.cost).toBe('sent');
    expect(b.policies.pomdp!.futureCost).toEqual([300, 450, 600]);
    const a = bundleArtefacts(b, 'pomdp');
    expect(a.cost).toBe('sent');
    const p = createPolicy('pomdp', { knob: 1e-4, artefacts: a });
    expect(() => p.episode(1).decide({ t: 1, score: 0.5, previous: [], draftTokens: 1, strongTokens: 0, budgetLeft: null })).toThrow(/--cost sent/);
    // A token-priced bundle stays as it was (no cost field written).
    const j = bundleToJson(bundle({})) as { policies: { pomdp: Record<string, unknown> } };
    expect(j.policies.pomdp.cost).toBeUndefined();
  });

  it('rejects a "sent" bundle without its characters per step', () => {
    expect(() => bundleFromJson(JSON.parse(JSON.stringify(bundleToJson(bundle({ cost: 'sent' })))), 'test bundle')).toThrow(/futureCost/);
    const bad = JSON.parse(JSON.stringify(bundleToJson(bundle({})))) as { policies: { pomdp: Record<string, unknown> } };
    bad.policies.pomdp.cost = 'dollars';
    expect(() => bundleFromJson(bad, 'test bundle')).toThrow(/cost must be "tokens" or "sent"/);
  });
});

describe('the characters a regeneration would send, at decision time', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startOpenAIServer();
  });
  afterAll(() => server.close());

  it('an OpenAI-compatible model sizes the body it then sends, to the character', async () => {
    const m = openAIStepModel({ baseUrl: server.url, model: 'm', http: { baseDelayMs: 5, maxDelayMs: 10, timeoutMs: 2000 } });
    const r = { problem: 'What is "1+2"?\nSay é.', steps: ['First.', 'Second, \\ step.'], maxTokens: 64, sampling: { temperature: 0.7, seed: 3 } };
    server.enqueue({ text: 'Then 3.' });
    await m.next(r);
    expect(m.requestChars!(r)).toBe(server.requests[0]!.rawBody.length);
  });

  it('solve shows the policy the strong request size, growing with the prefix; 0 for a local strong model', async () => {
    const seen: (number | undefined)[] = [];
    const weak: StepModel = { id: 'w', where: 'device', next: async (r) => ({ text: r.steps.length >= 2 ? '\\boxed{3}' : `Step ${r.steps.length + 1}.`, finish: 'step', promptTokens: 1, completionTokens: 2 }) };
    const strong = (where: 'device' | 'remote'): StepModel => ({
      id: 's',
      where,
      requestChars: (r) => 1000 + r.problem.length + r.steps.join('|').length,
      next: async () => ({ text: 'never', finish: 'step', promptTokens: 1, completionTokens: 2 }),
    });
    const prm: StepScorer = { id: 'p', where: 'device', score: async (r) => r.steps.map(() => 0.9) };
    const policy = createPolicy('thr', { knob: 0.5 });
    const watching = {
      ...policy,
      episode: (seed: number) => {
        const e = policy.episode(seed);
        return { plan: e.plan, decide: (o: Observation) => (seen.push(o.sendChars), e.decide(o)) };
      },
    };
    await solveToTrace('What is 1+2?', { weak, strong: strong('remote'), prm, policy: watching, seed: 1 });
    expect(seen).toEqual([1012, 1012 + 'Step 1.'.length, 1012 + 'Step 1.|Step 2.'.length]);
    seen.length = 0;
    await solveToTrace('What is 1+2?', { weak, strong: strong('device'), prm, policy: watching, seed: 1 });
    expect(seen).toEqual([0, 0, 0]);
  });
});

describe('the simulator prices characters as its characters-sent model counts them', () => {
  it('shows each decision the request a regeneration would send: the problem and the prefix, growing with t', () => {
    const w = createWorld(DEFAULT_SIM_PARAMS, 20, 3);
    const { problemChars, charsPerToken } = DEFAULT_SIM_PARAMS.sent;
    const seen: Observation[] = [];
    const accepting = { id: 'watch', knob: null, episode: () => ({ plan: () => 'score' as const, decide: (o: Observation) => (seen.push(o), 'accept' as const) }) };
    const row = runProblem(w, 0, accepting);
    expect(seen.length).toBe(row.steps.length);
    let prefix = problemChars;
    row.steps.forEach((s, i) => {
      expect(seen[i]!.sendChars).toBeCloseTo(prefix, 9);
      prefix += s.tokens * charsPerToken;
    });
    // And a regeneration does send exactly that.
    const regenerating = { id: 'r', knob: null, episode: () => ({ plan: () => 'score' as const, decide: (o: Observation) => (seen.push(o), 'regenerate' as const) }) };
    seen.length = 0;
    const r = runProblem(w, 0, regenerating);
    r.steps.forEach((s, i) => expect(s.sent).toBeCloseTo(seen[i]!.sendChars!, 9));
  });
});

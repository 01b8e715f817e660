import { describe, expect, it } from 'vitest';
import { AGG_FEATURES, aggFeatures, aggInput, lambdaFeature } from '../src/core/agg/features.ts';
import { Adam, Mlp } from '../src/core/agg/mlp.ts';
import { evaluate, stepCost, trainAgg, type EpisodeOutcome, type TrainingEnv } from '../src/core/agg/ppo.ts';
import { weightSetFromJson, weightSetToJson, weightsFromJson, weightsToJson, type AggWeights } from '../src/core/agg/weights.ts';
import { aggLambdaPolicy, aggPolicy } from '../src/core/policies/aggregate.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { mulberry32 } from '../src/core/rng.ts';
import { resolveSimParams } from '../src/core/sim/params.ts';
import { simTrainingEnv } from '../src/core/sim/training-env.ts';
import type { RoutingPolicy } from '../src/core/types.ts';
import { randomWeights } from './helpers/bundle.ts';

/** A policy that takes the given actions at the given steps and accepts everywhere else. */
function scripted(regenerateAt: ReadonlySet<number>): RoutingPolicy {
  return { id: 'scripted', knob: null, episode: () => ({ plan: () => 'score', decide: (o) => (regenerateAt.has(o.t) ? 'regenerate' : 'accept') }) };
}

describe('aggregate features', () => {
  it('are min and product of the previous scores (1 at the first step), the score, tokens/300, t/30', () => {
    expect(Array.from(aggFeatures({ t: 1, score: 0.7, previous: [], draftTokens: 150 }))).toEqual([1, 1, 0.7, 0.5, 1 / 30]);
    const f = aggFeatures({ t: 3, score: 0.2, previous: [0.9, 0.5], draftTokens: 30 });
    expect(f[0]).toBe(0.5);
    expect(f[1]).toBeCloseTo(0.45, 12);
    expect(f[4]).toBeCloseTo(0.1, 12);
  });
});

describe('MLP with LayerNorm and tanh', () => {
  it('backward matches finite differences for every parameter', () => {
    const rng = mulberry32(3);
    const m = new Mlp({ inputs: 5, hidden: 8, outputs: 2 }).init(rng, 1);
    for (let i = 0; i < m.params.length; i++) m.params[i] = m.params[i]! + 0.2 * (rng() - 0.5);
    const x = [0.3, 0.2, 0.9, 0.15, 0.4];
    const c = m.newCache();
    const loss = () => {
      const o = m.forward(x, c);
      return 0.7 * o[0]! - 1.3 * o[1]! + o[0]! * o[1]!;
    };
    m.grads.fill(0);
    const o = m.forward(x, c);
    m.backward(c, [0.7 + o[1]!, -1.3 + o[0]!]);
    for (let i = 0; i < m.params.length; i++) {
      const old = m.params[i]!;
      m.params[i] = old + 1e-6;
      const up = loss();
      m.params[i] = old - 1e-6;
      const down = loss();
      m.params[i] = old;
      const numeric = (up - down) / 2e-6;
      expect(Math.abs(numeric - m.grads[i]!)).toBeLessThan(1e-6 * (1 + Math.abs(numeric)));
    }
  });

  it('Adam fits a small regression', () => {
    const rng = mulberry32(9);
    const m = new Mlp({ inputs: 1, hidden: 16, outputs: 1 }).init(rng, 1);
    const opt = new Adam(m.params.length, 1e-2);
    const c = m.newCache();
    const data = Array.from({ length: 32 }, (_, i) => [i / 31, Math.sin(3 * (i / 31))] as const);
    const mse = () => data.reduce((s, [x, y]) => s + (m.forward([x], c)[0]! - y) ** 2, 0) / data.length;
    const before = mse();
    for (let step = 0; step < 300; step++) {
      m.grads.fill(0);
      for (const [x, y] of data) m.backward(c, [(2 * (m.forward([x], c)[0]! - y)) / data.length]);
      opt.step(m.params, m.grads);
    }
    expect(mse()).toBeLessThan(before / 20);
  });
});

describe('PPO for TRIM-Agg', () => {
  // A cost high enough that the right behaviour (keep confident drafts, regenerate doubtful ones) is
  // far from the untrained network's coin flips.
  it.each(['paired', 'gae'] as const)('improves on its initial policy in the simulator with %s advantages (small and fast)', async (advantages) => {
    const lambda = 2e-3;
    const env = simTrainingEnv(resolveSimParams({}), { heldOut: 400, seed: 4 });
    const r = await trainAgg(env, { lambda, hidden: 16, iterations: 6, episodesPerIteration: 200, epochs: 4, minibatch: 64, lr: 3e-3, seed: 1, advantages });
    expect(r.history).toHaveLength(6);
    expect(r.best.objective).toBeGreaterThan(r.initial.objective + 0.05);
    expect(r.history[r.history.length - 1]!.heldOut.objective).toBeGreaterThan(r.initial.objective + 0.03);
    // The kept checkpoint is what the weights hold: re-evaluating it gives the recorded number.
    expect(evaluate(await env.heldOut(aggPolicy(r.weights)), lambda)).toEqual(r.best);
    expect(r.weights.training).toMatchObject({ algorithm: 'PPO', bestIteration: r.bestIteration, advantageEstimator: advantages });
  });

  it('paired advantages find the cheap policy at a small λ where GAE does not (same budget)', async () => {
    // At λ = 3e-4 one regeneration is worth ~0.02 of reward against a terminal reward with sd ~0.4:
    // the regime where the curve's high-PGR end lives. Same seeds, problems and settings for both.
    const lambda = 3e-4;
    const settings = { lambda, hidden: 16, iterations: 5, episodesPerIteration: 600, epochs: 4, minibatch: 128, lr: 3e-3, seed: 2 };
    const env = () => simTrainingEnv(resolveSimParams({}), { heldOut: 1500, seed: 7 });
    const paired = await trainAgg(env(), { ...settings, advantages: 'paired' });
    const gae = await trainAgg(env(), { ...settings, advantages: 'gae' });
    expect(paired.initial).toEqual(gae.initial);
    expect(paired.best.objective).toBeGreaterThan(gae.best.objective + 0.01);
  });

  it('refuses paired advantages where problems cannot be replayed', async () => {
    const sim = simTrainingEnv(resolveSimParams({}), { heldOut: 20 });
    const online: TrainingEnv = { train: sim.train, heldOut: sim.heldOut };
    await expect(trainAgg(online, { iterations: 1, episodesPerIteration: 8, hidden: 4, advantages: 'paired' })).rejects.toThrow(/only the simulator/);
    // 'auto' falls back to GAE there.
    const r = await trainAgg(online, { iterations: 1, episodesPerIteration: 8, hidden: 4 });
    expect(r.weights.training).toMatchObject({ advantageEstimator: 'gae' });
  });

  it('weights survive a JSON round trip exactly and load through the registry', () => {
    const rng = mulberry32(2);
    const actor = new Mlp({ inputs: 5, hidden: 64, outputs: 2 }).init(rng, 1);
    const critic = new Mlp({ inputs: 5, hidden: 64, outputs: 1 }).init(rng, 1);
    const w = { lambda: 8e-4, hidden: 64, actor, critic, training: { note: 'test' } };
    const json = JSON.parse(JSON.stringify(weightsToJson(w)));
    const back = weightsFromJson(json);
    expect(back.actor.params).toEqual(actor.params);
    expect(back.critic.params).toEqual(critic.params);
    const a = aggPolicy(w, 0.5);
    const b = createPolicy('agg', { knob: 0.5, artefacts: { weights: json } });
    for (let i = 0; i < 200; i++) {
      const o = { t: 1 + (i % 9), score: rng(), previous: [rng()], draftTokens: rng() * 300, strongTokens: 0, budgetLeft: null };
      expect(b.episode().decide(o)).toBe(a.episode().decide(o));
    }
    expect(() => weightsFromJson({ ...json, actor: { ...json.actor, w1: [1, 2] } })).toThrow(/actor\.w1 must hold 320 numbers/);
    expect(() => weightsFromJson({ ...json, features: ['score'] })).toThrow(/features/);
    expect(() => createPolicy('agg', {})).toThrow(/--weights FILE/);
  });

  it('a checkpoint set survives a JSON round trip; agg-lambda picks the network trained at λ', () => {
    const set = { checkpoints: [randomWeights(3e-4, 1), randomWeights(1e-4, 2), randomWeights(2e-3, 3)] };
    const json = JSON.parse(JSON.stringify(weightSetToJson(set)));
    expect(json.lambdas).toEqual([3e-4, 1e-4, 2e-3]);
    const back = weightSetFromJson(json);
    expect(back.checkpoints.map((c) => c.lambda)).toEqual([1e-4, 3e-4, 2e-3]);
    for (const w of set.checkpoints) {
      const b = back.checkpoints.find((c) => c.lambda === w.lambda)!;
      expect(b.actor.params).toEqual(w.actor.params);
      expect(b.critic.params).toEqual(w.critic.params);
      expect(b.training).toEqual(w.training);
    }
    const rng = mulberry32(5);
    const observations = Array.from({ length: 300 }, (_, i) => ({ t: 1 + (i % 7), score: rng(), previous: [rng(), rng()], draftTokens: rng() * 300, strongTokens: 0, budgetLeft: null }));
    const decisions = (p: RoutingPolicy) => observations.map((o) => p.episode().decide(o));
    for (const w of set.checkpoints) {
      // From the set, through the registry, the λ as a user types it: the argmax of that network.
      const fromRegistry = createPolicy('agg-lambda', { knob: Number(String(w.lambda)), artefacts: { weights: json } });
      expect(fromRegistry).toMatchObject({ id: 'agg-lambda', knob: w.lambda });
      expect(decisions(fromRegistry)).toEqual(decisions(aggPolicy(w, 0.5)));
    }
    // The networks differ, so picking the wrong one would show.
    expect(decisions(aggLambdaPolicy(back, 1e-4))).not.toEqual(decisions(aggLambdaPolicy(back, 2e-3)));
    expect(() => createPolicy('agg-lambda', { knob: 5e-4, artefacts: { weights: json } })).toThrow(/No TRIM-Agg policy was trained at λ = 0\.0005; the weights hold λ = 0\.0001, 0\.0003, 0\.002/);
    expect(() => createPolicy('agg', { artefacts: { weights: json } })).toThrow(/3 policies .*--policy agg-lambda/);
    // A single-λ file is a set of one for agg-lambda, and a set of one still works for agg.
    const single = JSON.parse(JSON.stringify(weightsToJson(set.checkpoints[0]!)));
    expect(createPolicy('agg-lambda', { knob: 3e-4, artefacts: { weights: single } }).knob).toBe(3e-4);
    const setOfOne = weightSetToJson({ checkpoints: [set.checkpoints[0]!] });
    expect(decisions(createPolicy('agg', { artefacts: { weights: setOfOne } }))).toEqual(decisions(aggPolicy(set.checkpoints[0]!)));
    // Hostile or broken sets are refused with what is wrong.
    expect(() => weightSetFromJson({ ...json, checkpoints: [] })).toThrow(/non-empty array/);
    expect(() => weightSetFromJson({ ...json, version: 2 })).toThrow(/version 2/);
    expect(() => weightSetFromJson({ ...json, checkpoints: [json.checkpoints[0], json.checkpoints[0]] })).toThrow(/two checkpoints were trained at λ = 0\.0003/);
    expect(() => weightSetFromJson({ ...json, checkpoints: [{ ...json.checkpoints[1], critic: null }] })).toThrow(/checkpoint 1.*"critic" is missing/);
    expect(() => weightSetFromJson({ ...json, checkpoints: [{ ...json.checkpoints[1], lambda: -1 }] })).toThrow(/"lambda" must be a number ≥ 0/);
  });

  it('the knob moves the decision like TRIM-Thr\'s: regenerate when P(accept) < k', () => {
    const rng = mulberry32(8);
    const w = {
      lambda: 0,
      hidden: 8,
      actor: new Mlp({ inputs: 5, hidden: 8, outputs: 2 }).init(rng, 1),
      critic: new Mlp({ inputs: 5, hidden: 8, outputs: 1 }).init(rng, 1),
      training: {},
    };
    const o = { t: 2, score: 0.4, previous: [0.8], draftTokens: 50, strongTokens: 0, budgetLeft: null };
    expect(aggPolicy(w, 0).episode().decide(o)).toBe('accept');
    expect(aggPolicy(w, 1).episode().decide(o)).toBe('regenerate');
    expect(() => aggPolicy(w, 0.5).episode().decide({ ...o, score: Infinity })).toThrow(/PRM score/);
  });
});

describe('TRIM-Agg priced in characters sent', () => {
  it('evaluates and rewards what left the device for each step', () => {
    const outcomes: EpisodeOutcome[] = [
      { seed: 1, correct: true, steps: [{ source: 'weak', tokens: 10, sent: 300 }, { source: 'strong', tokens: 20, sent: 900 }] },
      { seed: 2, correct: false, steps: [{ source: 'weak', tokens: 10 }, { source: 'weak', tokens: 30 }] },
    ];
    // tokens: mean strong tokens 10 → 0.5 − 0.01·10; sent: mean characters (1200 + 0)/2 = 600 → 0.5 − 0.0001·600.
    expect(evaluate(outcomes, 0.01)).toEqual({ accuracy: 0.5, strongTokens: 10, objective: 0.5 - 0.1 });
    expect(evaluate(outcomes, 1e-4, 'sent').objective).toBeCloseTo(0.5 - 0.06, 12);
    expect(stepCost({ source: 'strong', tokens: 20, sent: 900 }, 'sent')).toBe(900);
    expect(stepCost({ source: 'strong', tokens: 20, sent: 900 }, 'tokens')).toBe(20);
    expect(stepCost({ source: 'weak', tokens: 20 }, 'sent')).toBe(0);
  });

  it('trains in the simulator with cost sent (late steps dearer), judged on characters', async () => {
    const env = simTrainingEnv(resolveSimParams({}), { heldOut: 300, seed: 4 });
    const r = await trainAgg(env, { cost: 'sent', lambda: 1e-4, hidden: 16, iterations: 4, episodesPerIteration: 300, epochs: 4, minibatch: 64, lr: 3e-3, seed: 1 });
    expect(r.best.objective).toBeGreaterThan(r.initial.objective);
    expect(evaluate(await env.heldOut(aggPolicy(r.weights)), 1e-4, 'sent')).toEqual(r.best);
    await expect(trainAgg(env, { cost: 'chars' as 'sent', iterations: 1 })).rejects.toThrow(/tokens or sent/);
  });
});

describe('one TRIM-Agg network conditioned on λ', () => {
  it('takes log10 λ as a sixth input and serves every λ of its range through agg-lambda', () => {
    expect(aggInput({ t: 3, score: 0.5, previous: [0.9], draftTokens: 30 }, 1e-3)).toEqual(
      Float64Array.from([0.9, 0.9, 0.5, 0.1, 0.1, (Math.log10(1e-3) + 3.5) / 1.5]),
    );
    expect(lambdaFeature(1e-5)).toBeCloseTo(-1, 12);
    expect(lambdaFeature(1e-2)).toBeCloseTo(1, 12);
    const rng = mulberry32(11);
    const w: AggWeights = {
      lambda: 1e-4,
      lambdaRange: [1e-4, 1e-2],
      hidden: 8,
      actor: new Mlp({ inputs: 6, hidden: 8, outputs: 2 }).init(rng, 1),
      critic: new Mlp({ inputs: 6, hidden: 8, outputs: 1 }).init(rng, 1),
      training: {},
    };
    const json = JSON.parse(JSON.stringify(weightsToJson(w)));
    expect(json.features).toEqual([...AGG_FEATURES, 'log10(lambda)']);
    expect(json.lambdaRange).toEqual([1e-4, 1e-2]);
    const back = weightsFromJson(json);
    expect(back.lambdaRange).toEqual([1e-4, 1e-2]);
    expect(back.actor.params).toEqual(w.actor.params);
    const observations = Array.from({ length: 400 }, (_, i) => ({ t: 1 + (i % 7), score: rng(), previous: [rng()], draftTokens: rng() * 300, strongTokens: 0, budgetLeft: null }));
    const decisions = (p: RoutingPolicy) => observations.map((o) => p.episode().decide(o));
    // Any λ of the range, through the registry; λ is an input, so two λ decide differently.
    const at = (lambda: number) => createPolicy('agg-lambda', { knob: lambda, artefacts: { weights: json } });
    expect(at(3.7e-4)).toMatchObject({ id: 'agg-lambda', knob: 3.7e-4 });
    expect(decisions(at(3.7e-4))).toEqual(decisions(aggPolicy(w, 0.5, 3.7e-4)));
    expect(decisions(at(1e-4))).not.toEqual(decisions(at(1e-2)));
    expect(() => at(0.05)).toThrow(/λ = 0\.05; the weights hold λ = 0\.0001…0\.01 \(one λ-conditioned network\)/);
    // A conditioned file must say its range, and plain weights keep their five inputs.
    expect(() => weightsFromJson({ ...json, lambdaRange: [0.01, 0.001] })).toThrow(/lambdaRange/);
    expect(() => weightsFromJson({ ...json, features: [...AGG_FEATURES, 'lambda'] })).toThrow(/log10\(lambda\)/);
    expect(() => weightsFromJson({ ...json, features: [...AGG_FEATURES] })).toThrow(/actor\.w1 must hold 40 numbers/);
  });

  it('trains over sampled λ in one run and is judged across the range', async () => {
    const env = simTrainingEnv(resolveSimParams({}), { heldOut: 300, seed: 4 });
    const r = await trainAgg(env, { lambdaRange: [3e-4, 3e-3], judgeLambdas: 3, hidden: 16, iterations: 5, episodesPerIteration: 300, epochs: 4, minibatch: 64, lr: 3e-3, seed: 1 });
    expect(r.weights.lambdaRange).toEqual([3e-4, 3e-3]);
    expect(r.weights.actor.shape.inputs).toBe(6);
    expect(r.best.objective).toBeGreaterThan(r.initial.objective);
    // The kept objective is the mean over the three judged λ (3e-4, ~9.5e-4, 3e-3).
    const grid = [3e-4, Math.sqrt(3e-4 * 3e-3), 3e-3];
    const each = await Promise.all(grid.map(async (l) => evaluate(await env.heldOut(aggPolicy(r.weights, 0.5, l)), l).objective));
    expect(r.best.objective).toBeCloseTo(each.reduce((a, b) => a + b, 0) / 3, 12);
    await expect(trainAgg(env, { lambdaRange: [1e-3, 1e-4], iterations: 1 })).rejects.toThrow(/λ range/);
  });
});

describe('replaying a simulated training problem (the paired advantages\' common random numbers)', () => {
  it('gives the same outcome for the same decisions, and flipping one decision changes only what follows it', async () => {
    const env = simTrainingEnv(resolveSimParams({}), { heldOut: 10, seed: 3 });
    const outcomes = (await env.train(scripted(new Set([2])), 1, 300)) as EpisodeOutcome[];
    let changedCorrectness = 0;
    for (const o of outcomes) {
      expect(await env.replay!(scripted(new Set([2])), o.seed)).toEqual(o);
      if (o.steps.length < 3) continue;
      const flipped = (await env.replay!(scripted(new Set()), o.seed)) as EpisodeOutcome;
      // Step 1 is untouched, step 2 is now the weak draft, and the solution has the same length.
      expect(flipped.steps[0]).toEqual(o.steps[0]);
      expect(o.steps[1]!.source).toBe('strong');
      expect(flipped.steps[1]!.source).toBe('weak');
      expect(flipped.steps).toHaveLength(o.steps.length);
      if (flipped.correct !== o.correct) changedCorrectness++;
    }
    // Regenerating one step matters on some problems, and not on most.
    expect(changedCorrectness).toBeGreaterThan(3);
    expect(changedCorrectness).toBeLessThan(outcomes.length / 3);
    expect(() => env.replay!(scripted(new Set()), 300)).toThrow(/episode seed 300/);
  });
});

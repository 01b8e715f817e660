import { describe, expect, it } from 'vitest';
import { aggFeatures } from '../src/core/agg/features.ts';
import { Adam, Mlp } from '../src/core/agg/mlp.ts';
import { evaluate, trainAgg } from '../src/core/agg/ppo.ts';
import { weightsFromJson, weightsToJson } from '../src/core/agg/weights.ts';
import { aggPolicy } from '../src/core/policies/aggregate.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { mulberry32 } from '../src/core/rng.ts';
import { resolveSimParams } from '../src/core/sim/params.ts';
import { simTrainingEnv } from '../src/core/sim/training-env.ts';

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
  it('improves on its initial policy in the simulator (small and fast)', async () => {
    // A cost high enough that the right behaviour (keep confident drafts, regenerate doubtful ones) is
    // far from the untrained network's coin flips.
    const lambda = 2e-3;
    const env = simTrainingEnv(resolveSimParams({}), { heldOut: 400, seed: 4 });
    const r = await trainAgg(env, { lambda, hidden: 16, iterations: 6, episodesPerIteration: 200, epochs: 4, minibatch: 64, lr: 3e-3, seed: 1 });
    expect(r.history).toHaveLength(6);
    expect(r.best.objective).toBeGreaterThan(r.initial.objective + 0.05);
    expect(r.history[r.history.length - 1]!.heldOut.objective).toBeGreaterThan(r.initial.objective + 0.03);
    // The kept checkpoint is what the weights hold: re-evaluating it gives the recorded number.
    expect(evaluate(await env.heldOut(aggPolicy(r.weights)), lambda)).toEqual(r.best);
    expect(r.weights.training).toMatchObject({ algorithm: 'PPO', bestIteration: r.bestIteration });
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

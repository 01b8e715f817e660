import { describe, expect, it } from 'vitest';
import { calibrateKnob, isotonic, searchKnob, spendByKnob, type CalibrationRow } from '../src/core/calibrate.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { calibrateInSimulator, KNOB_RANGES, strongShare } from '../src/core/sim/calibrate-sim.ts';
import { DEFAULT_SIM_PARAMS } from '../src/core/sim/params.ts';
import { runWorld } from '../src/core/sim/run.ts';
import { createWorld } from '../src/core/sim/world.ts';

const row = (id: string, policy: string, knob: number | null, strongTokens: number, sources: ('weak' | 'strong')[]): CalibrationRow => ({
  id,
  policy,
  knob,
  strongTokens,
  steps: sources.map((source) => ({ source })),
});

describe('calibration to a budget', () => {
  it('interpolates the knob between measured operating points', () => {
    const points = [
      { knob: 0.2, spend: 0.1 },
      { knob: 0.5, spend: 0.3 },
      { knob: 0.8, spend: 0.7 },
    ];
    expect(calibrateKnob(points, 0.5)).toMatchObject({ knob: 0.65, spend: 0.5, reached: true });
    expect(calibrateKnob(points, 0.3).knob).toBeCloseTo(0.5, 12);
  });

  it('works when spend falls as the knob grows (λ of the pomdp policy)', () => {
    const points = [
      { knob: 0.0001, spend: 0.6 },
      { knob: 0.001, spend: 0.3 },
      { knob: 0.01, spend: 0.05 },
    ];
    expect(calibrateKnob(points, 0.45).knob).toBeCloseTo(0.00055, 12);
  });

  it('says when a target is out of reach and returns the nearest end', () => {
    const points = [
      { knob: 0.2, spend: 0.1 },
      { knob: 0.8, spend: 0.7 },
    ];
    expect(calibrateKnob(points, 0.9)).toMatchObject({ knob: 0.8, spend: 0.7, reached: false });
    expect(calibrateKnob(points, 0.01)).toMatchObject({ knob: 0.2, spend: 0.1, reached: false });
    expect(() => calibrateKnob([], 0.3)).toThrow(/No measured/);
    expect(() => calibrateKnob(points, -1)).toThrow(/≥ 0/);
  });

  it('smooths a noisy reversal by pooling adjacent violators', () => {
    expect(isotonic([0.1, 0.3, 0.25, 0.6], true)).toEqual([0.1, 0.275, 0.275, 0.6]);
    expect(isotonic([0.6, 0.2, 0.3, 0.1], false)).toEqual([0.6, 0.25, 0.25, 0.1]);
    const c = calibrateKnob(
      [
        { knob: 0.1, spend: 0.1 },
        { knob: 0.2, spend: 0.3 },
        { knob: 0.3, spend: 0.25 },
        { knob: 0.4, spend: 0.6 },
      ],
      0.275,
    );
    expect(c.knob).toBeGreaterThanOrEqual(0.2);
    expect(c.knob).toBeLessThanOrEqual(0.3);
  });

  it('measures normalised cost against strong-only on the same problems, or the share of steps sent', () => {
    const rows = [
      row('a', 'strong-only', null, 100, ['strong', 'strong']),
      row('b', 'strong-only', null, 300, ['strong', 'strong', 'strong']),
      row('a', 'thr', 0.5, 50, ['weak', 'strong']),
      row('b', 'thr', 0.5, 0, ['weak', 'weak', 'weak']),
      row('a', 'thr', 0.9, 100, ['strong', 'strong']),
      row('b', 'thr', 0.9, 150, ['weak', 'strong', 'strong']),
    ];
    expect(spendByKnob(rows, 'thr', 'cost')).toEqual([
      { knob: 0.5, spend: 50 / 400 },
      { knob: 0.9, spend: 250 / 400 },
    ]);
    expect(spendByKnob(rows, 'thr', 'steps')).toEqual([
      { knob: 0.5, spend: 1 / 5 },
      { knob: 0.9, spend: 4 / 5 },
    ]);
    expect(() => spendByKnob(rows.slice(2), 'thr', 'cost')).toThrow(/--baselines/);
    expect(() => spendByKnob(rows, 'pomdp', 'cost')).toThrow(/No results for policy "pomdp"/);
  });

  it('bisects a monotone spend function measured on demand, on a log scale for λ', () => {
    const c = searchKnob((k) => k * k, { lo: 0, hi: 1 }, 0.25);
    expect(c.knob).toBeCloseTo(0.5, 5);
    const l = searchKnob((lambda) => 1 / (1 + lambda * 1000), { lo: 1e-6, hi: 1, scale: 'log' }, 0.5);
    expect(l.knob).toBeCloseTo(0.001, 5);
    expect(searchKnob((k) => k, { lo: 0.2, hi: 0.6 }, 0.9)).toMatchObject({ knob: 0.6, reached: false });
  });

  it('offers "budget: X% of steps sent" from the simulator alone (what the page uses)', () => {
    for (const [policy, share] of [['thr', 0.15], ['pomdp', 0.3]] as const) {
      const c = calibrateInSimulator((knob) => createPolicy(policy, { knob }), KNOB_RANGES[policy]!, share, 'steps', { problems: 800, seed: 2 });
      expect(c.reached).toBe(true);
      const rows = runWorld(createWorld(DEFAULT_SIM_PARAMS, 800, 2), createPolicy(policy, { knob: c.knob }));
      expect(Math.abs(strongShare(rows) - share)).toBeLessThan(0.01);
    }
  });
});

// trim tune leaves a tuned policy out of the bundle only when it clearly loses to TRIM-Thr on the tuning problems.

import { describe, expect, it } from 'vitest';
import { leaveOutLosers, LOSS_MARGIN } from '../src/cli/commands/tune.ts';

const cal = (m: Record<string, number | null>) => ({ metrics: Object.fromEntries(Object.entries(m).map(([p, cpt95]) => [p, { cpt95, apgr: 0.8 }])) });

describe('leaveOutLosers', () => {
  it('keeps a policy within the margin of Thr (noise on a small tuning set) and drops one far behind or never reaching PGR 95%', () => {
    expect(LOSS_MARGIN).toBe(0.1);
    expect(leaveOutLosers(cal({ thr: 0.28, pomdp: 0.316, 'agg-lambda': 0.278 }), ['pomdp', 'agg-lambda'])).toEqual([]);
    const out = leaveOutLosers(cal({ thr: 0.901, pomdp: 0.917, 'agg-lambda': 1.396 }), ['pomdp', 'agg-lambda']);
    expect(out.map((l) => l.policy)).toEqual(['agg-lambda']);
    expect(out[0]!.reason).toMatch(/139\.6% against TRIM-Thr's 90\.1%/);
    expect(leaveOutLosers(cal({ thr: 0.3, pomdp: null, 'agg-lambda': 0.31 }), ['pomdp', 'agg-lambda']).map((l) => l.policy)).toEqual(['pomdp']);
  });

  it('keeps the least bad policy when every one loses, and judges nothing when Thr itself never reaches PGR 95%', () => {
    expect(leaveOutLosers(cal({ thr: 0.3, pomdp: 0.5, 'agg-lambda': null }), ['pomdp', 'agg-lambda']).map((l) => l.policy)).toEqual(['agg-lambda']);
    expect(leaveOutLosers(cal({ thr: 0.3, pomdp: 0.6 }), ['pomdp'])).toEqual([]);
    expect(leaveOutLosers(cal({ thr: null, pomdp: null }), ['pomdp'])).toEqual([]);
  });
});

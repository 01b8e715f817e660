// trim tune leaves a tuned policy out of the bundle only when it clearly loses to TRIM-Thr on the tuning problems.

import { describe, expect, it } from 'vitest';
import { leaveOutLosers, LOSS_MARGIN } from '../src/cli/commands/tune.ts';
import { checkBundleHolds } from '../src/cli/policy-artefacts.ts';

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

describe('a bundle without a policy trim tune left out', () => {
  it('is refused with the reason, not with a request for --weights', () => {
    const bundle = { policies: { pomdp: { grid: [0.01] } }, provenance: { leftOut: [{ policy: 'agg-lambda', reason: 'its CPT(95%) on the tuning problems is 139.6% against TRIM-Thr\'s 90.1% (more than 10 points worse)' }] } };
    expect(() => checkBundleHolds({ bundle }, 'agg-lambda')).toThrow(/The bundle has no agg-lambda policy: trim tune left it out because its CPT\(95%\) .*; it holds pomdp\. Use one of those, or TRIM-Thr/);
    expect(() => checkBundleHolds({ bundle }, 'pomdp')).not.toThrow();
    expect(() => checkBundleHolds({ bundle }, 'thr')).not.toThrow();
    expect(() => checkBundleHolds({}, 'agg-lambda')).not.toThrow();
  });
});

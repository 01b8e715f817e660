// The per-step line that says where a solve's time went (drafting, scoring, the strong model).
import { describe, expect, it } from 'vitest';
import { StepClock } from '../src/app/step-clock.ts';
import { timingLabel } from '../src/app/views/step-item.ts';

describe('step timing line', () => {
  it('names each phase the step went through, in seconds, and the strong model by where it runs', () => {
    expect(timingLabel({ draft: 1234, score: 456, strong: 0 }, null)).toBe('drafting 1.2 s · scoring 0.5 s');
    expect(timingLabel({ draft: 900, score: 300, strong: 21_000 }, 'remote')).toBe('drafting 0.9 s · scoring 0.3 s · remote 21 s');
    expect(timingLabel({ draft: 0, score: 0, strong: 2500 }, 'device')).toBe('strong model 2.5 s');
    expect(timingLabel({ draft: 0, score: 0, strong: 0 }, null)).toBe('');
  });
});

describe('StepClock', () => {
  it('splits each step’s wall time into drafting, scoring and the strong model, from the solve’s events', () => {
    let now = 0;
    const clock = new StepClock(() => now);
    const at = (t: number, e: Parameters<StepClock['observe']>[0]) => ((now = t), clock.observe(e));
    const step = (source: 'weak' | 'strong', index: number) => ({ type: 'step', step: { source, index } }) as unknown as Parameters<StepClock['observe']>[0];
    expect(at(0, { type: 'start' } as never)).toBeNull();
    expect(at(700, { type: 'text' } as never)).toBeNull(); // streaming text stays inside the drafting phase
    expect(at(1000, { type: 'draft' } as never)).toBeNull();
    expect(at(1400, { type: 'score' } as never)).toBeNull();
    expect(at(1450, { type: 'decision' } as never)).toBeNull();
    expect(at(3450, step('strong', 0))).toEqual({ draft: 1000, score: 400, strong: 2000 });
    // The next step starts from zero; a kept draft has no strong time.
    at(3950, { type: 'draft' } as never);
    at(4050, { type: 'score' } as never);
    expect(at(4060, step('weak', 1))).toEqual({ draft: 500, score: 100, strong: 0 });
  });
});

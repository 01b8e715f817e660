// The per-step line that says where a solve's time went (drafting, scoring, the strong model).
import { describe, expect, it } from 'vitest';
import { timingLabel } from '../src/app/views/step-item.ts';

describe('step timing line', () => {
  it('names each phase the step went through, in seconds, and the strong model by where it runs', () => {
    expect(timingLabel({ draft: 1234, score: 456, strong: 0 }, null)).toBe('drafting 1.2 s · scoring 0.5 s');
    expect(timingLabel({ draft: 900, score: 300, strong: 21_000 }, 'remote')).toBe('drafting 0.9 s · scoring 0.3 s · remote 21 s');
    expect(timingLabel({ draft: 0, score: 0, strong: 2500 }, 'device')).toBe('strong model 2.5 s');
    expect(timingLabel({ draft: 0, score: 0, strong: 0 }, null)).toBe('');
  });
});

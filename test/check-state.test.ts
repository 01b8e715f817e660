// The pure part of the page's "Check my work": which step a re-check starts from, the verdicts, the
// calibrated threshold a PRM folder carries, and the status line; and the mode's link parameters.

import { describe, expect, it } from 'vitest';
import { calibratedThreshold, firstChangedStep, formatThreshold, scoredLine, thresholdNote, verdicts } from '../src/app/check-state.ts';
import { defaultSettings } from '../src/app/settings.ts';
import { readUrlConfig, settingsToQuery } from '../src/app/url-config.ts';

const prev = { key: 'k', steps: ['a', 'b', 'c'], scores: [0.9, 0.8, 0.7] };

describe('firstChangedStep', () => {
  it('starts from 0 with nothing scored, or for another problem or PRM', () => {
    expect(firstChangedStep(null, 'k', ['a'])).toBe(0);
    expect(firstChangedStep(prev, 'other', ['a', 'b', 'c'])).toBe(0);
  });
  it('starts at the first edited step, and keeps the steps before it', () => {
    expect(firstChangedStep(prev, 'k', ['a', 'b', 'C'])).toBe(2);
    expect(firstChangedStep(prev, 'k', ['a', 'B', 'c'])).toBe(1);
    expect(firstChangedStep(prev, 'k', ['A', 'b', 'c'])).toBe(0);
  });
  it('scores only added steps, nothing when unchanged, and nothing kept past a shortened solution', () => {
    expect(firstChangedStep(prev, 'k', ['a', 'b', 'c', 'd'])).toBe(3);
    expect(firstChangedStep(prev, 'k', ['a', 'b', 'c'])).toBe(3);
    expect(firstChangedStep(prev, 'k', ['a', 'b'])).toBe(2);
    // A step inserted in the middle shifts every later step: they are scored again.
    expect(firstChangedStep(prev, 'k', ['a', 'x', 'b', 'c'])).toBe(1);
  });
  it('never trusts a step whose score is missing', () => {
    expect(firstChangedStep({ ...prev, scores: [0.9] }, 'k', ['a', 'b', 'c'])).toBe(1);
  });
});

describe('verdicts', () => {
  it('marks the first step strictly below the threshold and the steps after it', () => {
    expect(verdicts([0.9, 0.2, 0.95, 0.1], 0.5)).toEqual({ flagged: 1, verdicts: ['looks-right', 'check-this', 'after-flagged', 'after-flagged'] });
  });
  it('does not flag a score equal to the threshold', () => {
    expect(verdicts([0.5, 0.6], 0.5)).toEqual({ flagged: null, verdicts: ['looks-right', 'looks-right'] });
  });
  it('flags the first step when it is the wrong one', () => {
    expect(verdicts([0.1, 0.9], 0.5).flagged).toBe(0);
  });
});

describe('calibratedThreshold', () => {
  it('reads trim.flagThreshold (and where it was calibrated) from a PRM folder config', () => {
    const d = calibratedThreshold({ trim: { head: 'value', flagThreshold: 0.454, calibratedOn: 'organism val, 400 solutions' } });
    expect(d).toEqual({ threshold: 0.454, source: 'calibrated', calibratedOn: 'organism val, 400 solutions' });
    expect(thresholdNote(d)).toBe('Empty: 0.454, calibrated for this PRM on organism val, 400 solutions.');
    expect(thresholdNote(calibratedThreshold({ trim: { flagThreshold: 0.3 } }))).toBe('Empty: 0.3, calibrated for this PRM.');
    expect(thresholdNote(calibratedThreshold({ trim: { flagThreshold: 0.3 } }), 'checker')).toBe('Empty: 0.3, calibrated for this checker.');
  });
  it('falls back to 0.5 without one', () => {
    for (const c of [null, {}, { trim: {} }]) expect(calibratedThreshold(c)).toEqual({ threshold: 0.5, source: 'default' });
    expect(thresholdNote(calibratedThreshold(null))).toBe('Empty: 0.5 (this PRM carries no calibrated threshold).');
  });
  it('does not use one that is not a number in [0, 1], and says so', () => {
    for (const c of [{ trim: { flagThreshold: '0.3' } }, { trim: { flagThreshold: 1.5 } }, { trim: { flagThreshold: null } }])
      expect(calibratedThreshold(c)).toEqual({ threshold: 0.5, source: 'invalid' });
    expect(thresholdNote(calibratedThreshold({ trim: { flagThreshold: -1 } }))).toMatch(/records a flagThreshold that is not a number from 0 to 1/);
  });
});

describe('formatThreshold', () => {
  it('writes three decimals, and two significant digits under 0.01 (a likelihood checker\'s threshold)', () => {
    expect(formatThreshold(0.6356697507314166)).toBe('0.636');
    expect(formatThreshold(0.5)).toBe('0.5');
    expect(formatThreshold(1)).toBe('1');
    expect(formatThreshold(0)).toBe('0');
    expect(formatThreshold(0.0006301992712038147)).toBe('0.00063');
    expect(formatThreshold(0.01)).toBe('0.01');
  });
});

describe('scoredLine', () => {
  it('says how many steps were scored and kept', () => {
    expect(scoredLine(1, 5, 41.6)).toBe('Scored 1 of 5 steps in 42 ms (4 kept from the last check).');
    expect(scoredLine(1, 1, 3)).toBe('Scored 1 of 1 step in 3 ms.');
  });
});

describe('check mode links', () => {
  it('reads mode=check and the solution, which a link never turns into a setting', () => {
    const u = readUrlConfig('?mode=check&problem=P&solution=1)%205%2B3%3D8%0A2)%208%2B1%3D3', defaultSettings());
    expect(u.mode).toBe('check');
    expect(u.solution).toBe('1) 5+3=8\n2) 8+1=3');
    expect(u.settings).toEqual(defaultSettings());
    expect(u.problems).toEqual([]);
    expect(u.scrub).toEqual([]);
  });
  it('defaults to the solver and reports an unknown mode', () => {
    expect(readUrlConfig('', defaultSettings()).mode).toBe('solve');
    const u = readUrlConfig('?mode=grade', defaultSettings());
    expect(u.mode).toBe('solve');
    expect(u.problems.join(' ')).toMatch(/mode=grade: use mode=solve or mode=check/);
  });
  it('keeps a solution that mentions a key-like word, and removes one that is a key as a whole', () => {
    expect(readUrlConfig('?solution=sk-learning%20is%20fun', defaultSettings()).solution).toBe('sk-learning is fun');
    const u = readUrlConfig('?mode=check&solution=sk-abcdefghijklmnopqrstuvwx', defaultSettings());
    expect(u.solution).toBeNull();
    expect(u.scrub).toEqual(['solution']);
    expect(u.problems.join(' ')).not.toContain('abcdefghijklmnop');
  });
  it('writes mode and solution back into a link', () => {
    const q = new URLSearchParams(settingsToQuery(defaultSettings(), 'P', { solution: 'a\nb' }));
    expect([q.get('mode'), q.get('problem'), q.get('solution')]).toEqual(['check', 'P', 'a\nb']);
    expect(new URLSearchParams(settingsToQuery(defaultSettings(), 'P')).has('mode')).toBe(false);
  });
});

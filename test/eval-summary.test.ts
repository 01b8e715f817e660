import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { esc, renderCurveSvg } from '../src/eval/curve-svg.ts';
import { Progress } from '../src/eval/progress.ts';
import { parseResults, ResultsLog } from '../src/eval/results-log.ts';
import { buildSummary, formatTable, ResultsError, type ResultRow } from '../src/eval/summary.ts';

const row = (id: string, policy: string, knob: number | null, correct: boolean, strongTokens: number, weakTokens = 10): ResultRow => ({
  id,
  policy,
  knob,
  correct,
  extracted: correct ? '1' : '2',
  gold: '1',
  strongTokens,
  weakTokens,
  strongCalls: strongTokens ? 1 : 0,
  steps: [{ source: strongTokens ? 'strong' : 'weak', score: null, tokens: strongTokens || weakTokens }],
  timing: { totalMs: 1, draftMs: 0, scoreMs: 0, strongMs: 0 },
});

const tmp = mkdtempSync(join(tmpdir(), 'trim-summary-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('buildSummary', () => {
  it('measures every operating point on the problems they all have', () => {
    const rows = [
      row('a', 'weak-only', null, true, 0),
      row('b', 'weak-only', null, false, 0),
      row('c', 'weak-only', null, false, 0),
      row('a', 'strong-only', null, true, 100),
      row('b', 'strong-only', null, true, 300),
      row('c', 'strong-only', null, true, 200),
      row('a', 'thr', 0.5, true, 0),
      row('b', 'thr', 0.5, true, 150),
      // c is missing at thr 0.5: it is left out everywhere.
    ];
    const s = buildSummary(rows);
    expect(s.problems).toBe(2);
    expect(s.dropped).toBe(1);
    // On {a, b}: weak 1/2, strong 2/2 with (100+300)/2 = 200 tokens; thr 2/2 with 75 tokens.
    expect(s.weak).toEqual({ accuracy: 0.5, strongTokens: 0, weakTokens: 10, sentChars: null });
    expect(s.strong).toEqual({ accuracy: 1, strongTokens: 200, weakTokens: 10, sentChars: null });
    const p = s.policies[0]!.points[0]!;
    expect(p).toMatchObject({ knob: 0.5, accuracy: 1, strongTokens: 75, cost: 0.375, pgr: 1, frontier: true });
    // ΔIBC = PGR/cost − 1 = 1/0.375 − 1
    expect(p.deltaIbc).toBeCloseTo(1 / 0.375 - 1, 12);
    // Curve (0,0) (0.375,1): CPT(50%) = 0.1875; APGR = 0.375/2 + 0.625 = 0.8125
    expect(s.policies[0]!.cpt['50']).toBeCloseTo(0.1875, 12);
    expect(s.policies[0]!.apgr).toBeCloseTo(0.8125, 12);
  });

  it('gives every point its share of characters sent, and costs by characters with cost "sent"', () => {
    const sent = (r: ResultRow, chars: number): ResultRow => ({ ...r, sentChars: chars });
    const rows = [
      sent(row('a', 'weak-only', null, true, 0), 0),
      sent(row('b', 'weak-only', null, false, 0), 0),
      sent(row('a', 'strong-only', null, true, 100), 1000),
      sent(row('b', 'strong-only', null, true, 300), 3000),
      // thr: a sends its late step (long prefix), b an early one (short prefix) with more tokens.
      sent(row('a', 'thr', 0.5, true, 10), 900),
      sent(row('b', 'thr', 0.5, true, 150), 100),
    ];
    const tokens = buildSummary(rows);
    expect(tokens.costKind).toBe('tokens');
    expect(tokens.strong!.sentChars).toBe(2000);
    const pt = tokens.policies[0]!.points[0]!;
    // strong tokens (10+150)/2 = 80 of 200; characters (900+100)/2 = 500 of 2000.
    expect(pt).toMatchObject({ cost: 0.4, sentChars: 500, sentShare: 0.25 });
    const chars = buildSummary(rows, { cost: 'sent' });
    expect(chars.costKind).toBe('sent');
    const cp = chars.policies[0]!.points[0]!;
    expect(cp).toMatchObject({ cost: 0.25, sentShare: 0.25, pgr: 1 });
    // ΔIBC on characters: (PGR/cost) − 1 = 1/0.25 − 1.
    expect(cp.deltaIbc).toBeCloseTo(3, 12);
    // Curve (0,0) (0.25,1): CPT(50%) = 0.125.
    expect(chars.policies[0]!.cpt['50']).toBeCloseTo(0.125, 12);
    const table = formatTable(chars);
    expect(table).toMatch(/cost\s+sent\s+PGR/);
    expect(table.split('\n').find((l) => l.startsWith('thr'))).toMatch(/25\.0%\s+25\.0%\s+100\.0%/);
    expect(table).toContain('cost = characters sent off the device ÷ strong-only (--cost sent)');
    expect(formatTable(tokens).split('\n').find((l) => l.startsWith('thr'))).toMatch(/40\.0%\s+25\.0%/);
  });

  it('refuses cost "sent" when the rows do not record characters or nothing left the device', () => {
    const rows = [row('a', 'weak-only', null, false, 0), row('a', 'strong-only', null, true, 100), row('a', 'thr', 0.5, true, 10)];
    expect(buildSummary(rows).policies[0]!.points[0]!.sentShare).toBeNull();
    expect(() => buildSummary(rows, { cost: 'sent' })).toThrow(/do not record.*--cost tokens/);
    const local = rows.map((r) => ({ ...r, sentChars: 0 }));
    expect(buildSummary(local).policies[0]!.points[0]!.sentShare).toBeNull();
    expect(() => buildSummary(local, { cost: 'sent' })).toThrow(/sent nothing off the device/);
  });

  it('leaves cost and PGR-based numbers null without baselines, and says why', () => {
    const s = buildSummary([row('a', 'thr', 0.2, true, 5), row('a', 'thr', 0.8, true, 50)]);
    expect(s.weak).toBeNull();
    expect(s.strong).toBeNull();
    expect(s.policies[0]).toMatchObject({ cpt: { '50': null, '80': null, '95': null }, apgr: null, deltaIbc: null, deltaIbcKnob: null });
    expect(s.policies[0]!.points.every((p) => p.cost === null && p.pgr === null && !p.frontier)).toBe(true);
    expect(formatTable(s)).toContain('need both baselines: run with --baselines');
  });

  it('has no PGR when strong-only is no better than weak-only', () => {
    const s = buildSummary([
      row('a', 'weak-only', null, true, 0),
      row('a', 'strong-only', null, true, 40),
      row('a', 'thr', 0.5, true, 10),
    ]);
    expect(s.policies[0]!.points[0]).toMatchObject({ cost: 0.25, pgr: null });
    expect(s.policies[0]!.apgr).toBeNull();
    expect(formatTable(s)).toContain('there is no gap to recover');
  });

  it('refuses two results for the same (problem, policy, knob)', () => {
    expect(() => buildSummary([row('a', 'thr', 0.5, true, 0), row('a', 'thr', 0.5, false, 0)])).toThrow(ResultsError);
  });

  it('formats one line per row whatever a policy name holds', () => {
    const s = buildSummary([row('a', 'evil\nname\u0007', 0.5, true, 0)]);
    const table = formatTable(s);
    expect(table).toContain('evil?name?');
    // Once in each table, and never split over two lines.
    expect(table.split('\n').filter((l) => l.includes('evil?name?'))).toHaveLength(2);
    expect(table.split('\n').some((l) => l.startsWith('name'))).toBe(false);
  });
});

describe('renderCurveSvg', () => {
  const hostile = 'thr</text><script>alert(1)</script>&\u0001\ud800"\'';
  const rows = [
    row('a', 'weak-only', null, false, 0),
    row('b', 'weak-only', null, true, 0),
    row('a', 'strong-only', null, true, 100),
    row('b', 'strong-only', null, true, 100),
    row('a', hostile, 0.3, true, 20),
    row('b', hostile, 0.3, true, 20),
    row('a', hostile, 0.6, false, 80),
    row('b', hostile, 0.6, true, 80),
    row('a', 'random', 0.5, true, 50),
    row('b', 'random', 0.5, false, 50),
  ];

  it('escapes every text so hostile names give well-formed XML', async () => {
    const svg = renderCurveSvg(buildSummary(rows));
    await sharp(Buffer.from(svg)).metadata(); // throws on malformed XML
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('thr&lt;/text&gt;&lt;script&gt;');
    expect(svg.match(/<path\b/g)).toHaveLength(2);
    expect(svg).toContain('Accuracy vs strong-model cost');
    expect(svg).toContain('Strong-model tokens, normalised (strong-only = 100%)');
    expect(svg).toMatch(/>100%<\/text>/); // x axis tick at strong-only's cost
    expect(svg).toContain('weak model only');
    expect(svg).toContain('strong model only');
  });

  it('plots raw strong tokens when there is no strong-only baseline', async () => {
    const svg = renderCurveSvg(buildSummary([row('a', 'thr', 0.2, true, 30), row('a', 'thr', 0.8, true, 1500)]));
    await sharp(Buffer.from(svg)).metadata();
    expect(svg).toContain('Strong-model tokens per problem');
    // Ticks every 200 tokens up to 1.6k, past the costliest point (1500).
    expect(svg).toContain('>1.6k</text>');
    expect(svg.match(/<path\b/g)).toHaveLength(1);
  });

  it('esc replaces characters XML forbids and escapes markup', () => {
    expect(esc('a<b>&"\'')).toBe('a&lt;b&gt;&amp;&quot;&apos;');
    expect(esc('x\u0000y\ud800z\u{1F600}')).toBe('x\ufffdy\ufffdz\u{1F600}');
  });
});

describe('ResultsLog', () => {
  it('appends whole lines, refuses a second writer and a duplicate key', () => {
    const dir = mkdtempSync(join(tmp, 'log-'));
    const { log, rows } = ResultsLog.open(dir, false);
    expect(rows).toEqual([]);
    log.append(row('a', 'thr', 0.5, true, 3));
    expect(() => ResultsLog.open(dir, true)).toThrow(/Another trim eval \(process \d+\) is writing to/);
    expect(() => log.append(row('a', 'thr', 0.5, false, 3))).toThrow(ResultsError);
    log.append(row('a', 'thr', 0.7, true, 3));
    log.close();
    const text = readFileSync(join(dir, 'results.jsonl'), 'utf8');
    expect(text.split('\n')).toHaveLength(3); // two lines and the final newline
    const again = ResultsLog.open(dir, true);
    expect(again.rows.map((r) => r.knob)).toEqual([0.5, 0.7]);
    expect(again.log.has({ id: 'a', policy: 'thr', knob: 0.7 })).toBe(true);
    expect(again.log.has({ id: 'a', policy: 'thr', knob: 0.9 })).toBe(false);
    again.log.close();
  });

  it('cuts an unterminated last line on resume and refuses damage elsewhere', () => {
    const dir = mkdtempSync(join(tmp, 'cut-'));
    const good = JSON.stringify(row('a', 'thr', 0.5, true, 3)) + '\n';
    writeFileSync(join(dir, 'results.jsonl'), good + '{"id":"b","pol');
    const { log, rows, truncatedBytes } = ResultsLog.open(dir, true);
    expect(rows).toHaveLength(1);
    expect(truncatedBytes).toBe('{"id":"b","pol'.length);
    log.append(row('b', 'thr', 0.5, true, 3));
    log.close();
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8')).toBe(good + JSON.stringify(row('b', 'thr', 0.5, true, 3)) + '\n');

    expect(() => parseResults(good + 'garbage\n' + good, 'r.jsonl')).toThrow(/r\.jsonl line 2 is not valid JSON/);
    expect(() => parseResults(good + good, 'r.jsonl')).toThrow(/lines 1 and 2 are both results for/);
    expect(() => parseResults('{"id":"a","policy":"thr","knob":"x"}\n', 'r.jsonl')).toThrow(/"knob" is neither a number nor null/);
  });
});

describe('Progress', () => {
  it('shows done/total, rate, ETA, running accuracy and cost', () => {
    let now = 0;
    const lines: string[] = [];
    const p = new Progress({
      total: 10,
      resumed: [row('a', 'thr', 0.1, true, 100)],
      sink: { write: (t: string) => lines.push(t), isTTY: false },
      now: () => now,
      logIntervalMs: 0,
    });
    now = 2000;
    p.result(row('b', 'thr', 0.1, false, 0));
    now = 4000;
    p.result(row('c', 'thr', 0.1, true, 50));
    // 3 of 10 done; 2 this session in 4 s = 0.5 runs/s = 30/min; 7 left → 14 s; 2/3 right; 150/3 = 50 tokens.
    expect(p.line()).toBe('eval 3/10 (30.0%) · 30.0 runs/min · ETA 0:14 · accuracy 66.7% · 50 strong tok/run');
    p.failure();
    expect(p.line()).toContain('· 1 failed');
    expect(lines.length).toBe(3);
  });
});

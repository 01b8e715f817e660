// `trim eval` end to end: the real CLI in a child process against scripted loopback servers
// (test/helpers/eval-world.ts), so every number can be checked against a hand computation.

import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResults } from '../src/eval/results-log.ts';
import { rowKey, type ResultRow, type Summary } from '../src/eval/summary.ts';
import { startEvalWorld, STRONG_TOKENS, WEAK_TOKENS, writeDataset, type EvalWorld, type ScriptedProblem } from './helpers/eval-world.ts';
import { trimInProcess } from './helpers/cli.ts';
import { trimChild as trim, type CliRun } from './helpers/cli-child.ts';

const readRows = (out: string): ResultRow[] => parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'), 'results.jsonl');
const lineCount = (out: string) => {
  const f = join(out, 'results.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l.endsWith('}')).length : 0;
};

// Weak-only gets P1 and P2 right (2/4). Under thr with threshold k, step 2 goes to the strong model
// when its score < k, and step 1 (score 0.9) too when k > 0.9; a strong step is always right.
const problems: ScriptedProblem[] = [
  { id: 'P1', gold: '7', weakAnswer: '7', score2: 0.8 },
  { id: 'P2', gold: '12', weakAnswer: '12', score2: 0.8 },
  { id: 'P3', gold: '5', weakAnswer: '6', score2: 0.3 },
  { id: 'P4', gold: '9', weakAnswer: '8', score2: 0.6 },
];

let dir: string;
let world: EvalWorld;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trim-eval-'));
  world = await startEvalWorld(problems);
});
afterAll(async () => {
  await world.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('trim eval on four scripted problems', () => {
  let out: string;
  let run: CliRun;
  beforeAll(async () => {
    out = join(dir, 'small');
    const data = writeDataset(dir, problems);
    run = await trim(['eval', '--data', data, ...world.flags, '--policy', 'thr', '--sweep', '0.5,0.7,0.95', '--baselines', '--out', out, '--seed', '7', '--concurrency', '3']);
  });

  it('records one complete line per (problem, policy, knob)', () => {
    expect(run.stderr).toContain('4 problems × 5 operating points = 20 runs');
    expect(run.code).toBe(0);
    const rows = readRows(out);
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map(rowKey)).size).toBe(20);
    const at = (id: string, policy: string, knob: number | null) => rows.find((r) => r.id === id && r.policy === policy && r.knob === knob)!;

    // P3 at k = 0.5: step 1 kept (0.9 ≥ 0.5), step 2 (0.3) rewritten by the strong model → right.
    expect(at('P3', 'thr', 0.5)).toMatchObject({
      correct: true,
      extracted: '5',
      gold: '5',
      strongTokens: STRONG_TOKENS,
      weakTokens: WEAK_TOKENS,
      strongCalls: 1,
      steps: [
        { source: 'weak', score: 0.9, tokens: WEAK_TOKENS },
        { source: 'strong', tokens: STRONG_TOKENS, draft: { score: 0.3, tokens: WEAK_TOKENS } },
      ],
      finish: 'boxed',
    });
    // P4 at k = 0.5: both drafts kept (0.6 ≥ 0.5) → the weak model's wrong 8.
    expect(at('P4', 'thr', 0.5)).toMatchObject({ correct: false, extracted: '8', strongTokens: 0, weakTokens: 2 * WEAK_TOKENS });
    expect(at('P4', 'weak-only', null)).toMatchObject({ correct: false, strongTokens: 0, steps: [{ source: 'weak' }, { source: 'weak' }] });
    expect(at('P1', 'strong-only', null)).toMatchObject({ correct: true, strongTokens: STRONG_TOKENS, steps: [{ source: 'strong' }] });
    for (const r of rows) {
      expect(r.timing.totalMs).toBeGreaterThanOrEqual(0);
      // One seed per problem, the same at every operating point.
      expect(r.seed).toBe(rows.find((x) => x.id === r.id && x.policy === 'weak-only')!.seed);
    }
  });

  it('writes summary.json with the numbers worked out by hand', () => {
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    // weak-only 2/4 right, 0 strong tokens; strong-only 4/4, 40 tokens each.
    expect(s).toMatchObject({ problems: 4, dropped: 0, weak: { accuracy: 0.5, strongTokens: 0 }, strong: { accuracy: 1, strongTokens: 40 } });
    const thr = s.policies.find((p) => p.policy === 'thr')!;
    // k=0.5:  P3 rewritten → 3/4 right; strong tokens 40/4 = 10 → cost 0.25; PGR (0.75−0.5)/0.5 = 0.5
    // k=0.7:  P3, P4 rewritten → 4/4; 80/4 = 20 → cost 0.5; PGR 1
    // k=0.95: step 1 rewritten everywhere (0.9 < 0.95) → 4/4; 40 → cost 1; PGR 1 (dominated by k=0.7)
    // Characters sent are checked by hand in core-solve and eval-summary tests; here they are consistent.
    expect(s.strong!.sentChars).toBeGreaterThan(0);
    for (const p of thr.points) expect(p.sentShare).toBeCloseTo(p.sentChars! / s.strong!.sentChars!, 12);
    expect(thr.points[0]!.sentShare).toBeLessThan(thr.points[1]!.sentShare!);
    expect(thr.points.map(({ sentChars: _c, sentShare: _s, ...p }) => p)).toEqual([
      { knob: 0.5, accuracy: 0.75, strongTokens: 10, weakTokens: 17.5, strongCalls: 0.25, cost: 0.25, pgr: 0.5, deltaIbc: 1, frontier: true },
      { knob: 0.7, accuracy: 1, strongTokens: 20, weakTokens: 15, strongCalls: 0.5, cost: 0.5, pgr: 1, deltaIbc: 1, frontier: true },
      { knob: 0.95, accuracy: 1, strongTokens: 40, weakTokens: 0, strongCalls: 1, cost: 1, pgr: 1, deltaIbc: 0, frontier: false },
    ]);
    // Curve (0,0) (0.25,0.5) (0.5,1).
    // CPT(50%) = 0.25; CPT(80%) = 0.25 + (0.3/0.5)·0.25 = 0.4; CPT(95%) = 0.25 + (0.45/0.5)·0.25 = 0.475
    expect(thr.cpt['50']).toBeCloseTo(0.25, 12);
    expect(thr.cpt['80']).toBeCloseTo(0.4, 12);
    expect(thr.cpt['95']).toBeCloseTo(0.475, 12);
    // APGR = 0.5·0.25/2 + (0.5+1)/2·0.25 + 1·0.5 = 0.0625 + 0.1875 + 0.5 = 0.75
    expect(thr.apgr).toBeCloseTo(0.75, 12);
    // ΔIBC = PGR/cost − 1: 1 at k=0.5 and at k=0.7 (a tie: the smaller knob is reported), 0 at 0.95.
    expect(thr.deltaIbc).toBeCloseTo(1, 12);
    expect(thr.deltaIbcKnob).toBe(0.5);
  });

  it('prints the table', () => {
    expect(run.stdout).toMatch(/^4 problems measured at every operating point/);
    // accuracy, strong tok/problem, cost, sent (characters sent ÷ strong-only's), PGR, ΔIBC, frontier.
    expect(run.stdout).toMatch(/thr\s+0\.5\s+75\.0%\s+10\.0\s+25\.0%\s+\d+\.\d%\s+50\.0%\s+1\.00\s+\*/);
    expect(run.stdout).toMatch(/strong-only\s+–\s+100\.0%\s+40\.0\s+100\.0%\s+100\.0%\s+100\.0%/);
    expect(run.stdout).toMatch(/thr\s+25\.0%\s+40\.0%\s+47\.5%\s+75\.0%\s+1\.00 at 0\.5/);
    expect(run.stderr).toMatch(/eval 20\/20 \(100\.0%\) · .* · ETA 0:00 · accuracy 85\.0% · 22 strong tok\/run/);
  });

  it('draws a well-formed SVG with one path per policy', async () => {
    const svg = readFileSync(join(out, 'curve.svg'), 'utf8');
    // librsvg parses strictly (libxml2): a malformed document is an error here.
    const meta = await sharp(Buffer.from(svg)).metadata();
    expect(meta.format).toBe('svg');
    expect(svg.match(/<path\b/g)).toHaveLength(1);
    expect(svg).toContain('weak only 50.0%');
    expect(svg).toContain('strong only 100.0%');
  });

  it('adds a second policy with --resume and summarises both on the same problems', async () => {
    const data = join(dir, 'problems.jsonl');
    // query: the first draft's score (0.9) decides the whole problem. q=0.5 → weak writes it all,
    // q=0.95 → strong writes it all: (cost 0, 50%) and (cost 1, 100%).
    const r = await trim(['eval', '--data', data, ...world.flags, '--policy', 'query', '--sweep', '0.5,0.95', '--baselines', '--out', out, '--resume']);
    expect(r.stderr).toContain('(8 already done)');
    expect(r.code).toBe(0);
    expect(readRows(out)).toHaveLength(28);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(s.policies.map((p) => p.policy)).toEqual(['query', 'thr']);
    const q = s.policies[0]!;
    // Curve (0,0) (1,1): CPT(x) = x, APGR = 0.5; q=0.5 ties the weak-only point, so it is not on it.
    expect(q.points.map((p) => [p.knob, p.accuracy, p.cost, p.frontier])).toEqual([
      [0.5, 0.5, 0, false],
      [0.95, 1, 1, true],
    ]);
    expect(q.cpt['80']).toBeCloseTo(0.8, 12);
    expect(q.apgr).toBeCloseTo(0.5, 12);
    const svg = readFileSync(join(out, 'curve.svg'), 'utf8');
    await sharp(Buffer.from(svg)).metadata();
    expect(svg.match(/<path\b/g)).toHaveLength(2);
  });

  it('refuses to mix runs: a fresh run in a used directory, or a resume with another model', async () => {
    const data = join(dir, 'problems.jsonl');
    const before = readFileSync(join(out, 'results.jsonl'), 'utf8');
    const fresh = await trim(['eval', '--data', data, ...world.flags, '--policy', 'thr', '--out', out]);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/already holds results from an earlier run\. Pass --resume/);
    const flags = world.flags.map((f) => (f === 'strong-test' ? 'other-model' : f));
    const other = await trim(['eval', '--data', data, ...flags, '--policy', 'thr', '--out', out, '--resume']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/strongModel was "strong-test", now "other-model"/);
    expect(readFileSync(join(out, 'results.jsonl'), 'utf8')).toBe(before);
  });

  it('rejects bad arguments with usage errors', async () => {
    const data = join(dir, 'problems.jsonl');
    const base = ['eval', '--data', data, ...world.flags, '--out', join(dir, 'bad')];
    const cases: [string[], RegExp][] = [
      [['--policy', 'thr', '--sweep', '0.2,abc'], /"abc" is not one/],
      [['--policy', 'thr', '--sweep', '0.2,1.5'], /--sweep value 1\.5: The threshold must be in \[0, 1\]/],
      [['--policy', 'weak-only', '--sweep', '0.2'], /has no knob to sweep/],
      [['--policy', 'thr', '--sweep', '0.2', '--threshold', '0.3'], /drop --threshold/],
      [['--policy', 'thr', '--concurrency', '0'], /--concurrency must be a whole number ≥ 1/],
      [['--policy', 'thr', '--format', 'nope'], /--format must be auto or one of/],
    ];
    // In-process: argument checks need no child process.
    for (const [extra, message] of cases) {
      const r = await trimInProcess([...base, ...extra]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });
});

describe('trim eval killed mid-run', () => {
  // Twelve problems, slow servers: long enough to be killed while runs are in flight.
  const many: ScriptedProblem[] = Array.from({ length: 12 }, (_, i) => ({
    id: `P${i + 1}`,
    gold: String(i + 10),
    weakAnswer: String(i % 3 === 0 ? i + 10 : i + 11),
    score2: [0.2, 0.45, 0.8][i % 3]!,
  }));
  const expectedCorrect = (p: ScriptedProblem, policy: string, knob: number | null) =>
    policy === 'strong-only' || p.weakAnswer === p.gold || (policy === 'thr' && p.score2 < knob!);
  let slow: EvalWorld;
  beforeAll(async () => {
    slow = await startEvalWorld(many, { chunkDelayMs: 15 });
  });
  afterAll(() => slow.close());

  it('loses nothing and duplicates nothing when resumed after SIGKILL', async () => {
    const sub = mkdtempSync(join(dir, 'kill-'));
    const data = writeDataset(sub, many);
    const out = join(sub, 'out');
    const args = ['eval', '--data', data, ...slow.flags, '--policy', 'thr', '--sweep', '0.3,0.6', '--baselines', '--out', out, '--seed', '3', '--concurrency', '4'];

    const killed = await trim(args, () => lineCount(out) >= 8);
    expect(killed.signal).toBe('SIGKILL');
    const survived = readFileSync(join(out, 'results.jsonl'), 'utf8');
    const done = parseResults(survived.slice(0, survived.lastIndexOf('\n') + 1), 'results.jsonl');
    expect(done.length).toBeGreaterThanOrEqual(8);
    expect(done.length).toBeLessThan(48);
    // The lock of the dead process is left behind; resume must take it over.
    expect(existsSync(join(out, 'results.lock'))).toBe(true);

    // A kill in the middle of a write leaves half a line; simulate one for a run not yet recorded.
    const doneKeys = new Set(done.map(rowKey));
    const pending = many.flatMap((p) => ['weak-only', 'strong-only'].map((policy) => ({ id: p.id, policy, knob: null }))).find((k) => !doneKeys.has(rowKey(k)))!;
    const complete = survived.endsWith('\n') ? survived : survived.slice(0, survived.lastIndexOf('\n') + 1);
    appendFileSync(join(out, 'results.jsonl'), `{"id":"${pending.id}","policy":"${pending.policy}","knob":null,"correct":tr`);

    const resumed = await trim([...args, '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/discarded an unfinished last line \(\d+ bytes\)/);
    expect(resumed.stderr).toContain(`(${done.length} already done)`);

    const text = readFileSync(join(out, 'results.jsonl'), 'utf8');
    // Nothing lost: the lines written before the kill are still there, byte for byte, first.
    expect(text.startsWith(complete)).toBe(true);
    expect(text.endsWith('\n')).toBe(true);
    // Every line parses, and each of the 12 × 4 runs is there exactly once.
    const lines = text.split('\n').slice(0, -1);
    expect(lines).toHaveLength(48);
    const rows = lines.map((l) => JSON.parse(l) as ResultRow);
    expect(new Set(rows.map(rowKey)).size).toBe(48);
    for (const p of many)
      for (const [policy, knob] of [['thr', 0.3], ['thr', 0.6], ['weak-only', null], ['strong-only', null]] as const) {
        const r = rows.find((x) => x.id === p.id && x.policy === policy && x.knob === knob);
        expect(r, `${p.id} ${policy} ${knob}`).toBeDefined();
        expect(r!.correct).toBe(expectedCorrect(p, policy, knob));
      }
    expect(existsSync(join(out, 'results.lock'))).toBe(false);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(s.problems).toBe(12);
    // weak-only right on P1, P4, P7, P10 (i % 3 = 0): 4/12.
    expect(s.weak!.accuracy).toBeCloseTo(4 / 12, 12);
  });
});

describe('trim eval interrupted with Ctrl-C', () => {
  it('stops cleanly, keeps what finished and resumes the rest', async () => {
    const sub = mkdtempSync(join(dir, 'int-'));
    const many = Array.from({ length: 10 }, (_, i) => ({ id: `P${i + 1}`, gold: '1', weakAnswer: '1', score2: 0.9 }));
    const slow = await startEvalWorld(many, { chunkDelayMs: 15 });
    try {
      const data = writeDataset(sub, many);
      const out = join(sub, 'out');
      const args = ['eval', '--data', data, ...slow.flags, '--policy', 'weak-only', '--baselines', '--out', out, '--concurrency', '2'];
      const stopped = await trim(args, () => lineCount(out) >= 3, 'SIGINT');
      expect(stopped.code).toBe(130);
      expect(stopped.stderr).toContain('stopping; runs in flight are dropped');
      expect(stopped.stderr).toMatch(/stopped with \d+ runs left; rerun with --resume/);
      const kept = readFileSync(join(out, 'results.jsonl'), 'utf8');
      expect(kept.endsWith('\n')).toBe(true);
      const n = readRows(out).length;
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThan(20);
      expect(existsSync(join(out, 'results.lock'))).toBe(false);
      // The seed was drawn and recorded; the resumed run uses it.
      const seed = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).seed;
      const resumed = await trim([...args, '--resume']);
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).toContain(`seed ${seed}`);
      expect(readFileSync(join(out, 'results.jsonl'), 'utf8').startsWith(kept)).toBe(true);
      expect(readRows(out)).toHaveLength(20);
    } finally {
      await slow.close();
    }
  });
});

describe('trim eval with a failing server', () => {
  it('keeps failed runs out of the results and retries them on --resume', async () => {
    const sub = mkdtempSync(join(dir, 'fail-'));
    const data = writeDataset(sub, problems);
    const out = join(sub, 'out');
    const original = world.strong.respond;
    // The strong server refuses problem P2 with a 400 (not retried).
    world.strong.respond = (req) =>
      JSON.stringify(req.body).includes('[P2]') ? { status: 400, message: 'context too long' } : original(req);
    const args = ['eval', '--data', data, ...world.flags, '--policy', 'strong-only', '--out', out, '--seed', '1'];
    let r: CliRun;
    try {
      r = await trim(args);
    } finally {
      world.strong.respond = original;
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 runs failed \(see .*failures\.jsonl\)/);
    expect(readRows(out).map((x) => x.id).sort()).toEqual(['P1', 'P3', 'P4']);
    const failure = JSON.parse(readFileSync(join(out, 'failures.jsonl'), 'utf8').trim());
    expect(failure).toMatchObject({ id: 'P2', policy: 'strong-only', knob: null });
    expect(failure.error).toMatch(/HTTP 400: context too long/);

    // On the retry the server is busy twice first: the client's retries absorb that.
    const before = world.strong.requests.length;
    world.strong.enqueue({ status: 429, retryAfter: '0', message: 'slow down' }, { status: 503, retryAfter: '0' });
    const again = await trim([...args, '--resume']);
    expect(again.code).toBe(0);
    expect(world.strong.requests.length - before).toBe(3);
    expect(readRows(out).map((x) => x.id).sort()).toEqual(['P1', 'P2', 'P3', 'P4']);
  });
});

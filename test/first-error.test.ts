// ProcessBench's protocol: the metrics and the threshold calibration on hand-computed cases, and
// `trim eval --task first-error` end to end against a loopback /pooling PRM (every number worked out by
// hand) and against folder PRMs of every head.

import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadTjsPrm } from '../src/backends/tjs-prm.ts';
import { firstError } from '../src/core/check.ts';
import {
  calibrateThreshold,
  candidateThresholds,
  firstErrorMetrics,
  harmonicMean,
  predictFirstError,
  type ScoredRecord,
} from '../src/core/first-error-metrics.ts';
import { parseLabelledSolutions, type FirstErrorRow } from '../src/eval/first-error.ts';
import { checkSolution } from '../src/organism/checker.ts';
import { tinyModel } from './helpers/fixtures.ts';
import { prmSteps, startOpenAIServer, type Responder, type TestServer } from './helpers/openai-server.ts';
import { REPO_ROOT } from './helpers/paths.ts';
import { trimInProcess as trim } from './helpers/cli.ts';

describe('first-error prediction and metrics', () => {
  it('predicts the first step strictly below the threshold, or -1', () => {
    expect(predictFirstError([0.9, 0.8, 0.7], 0.5)).toBe(-1); // every step correct
    expect(predictFirstError([0.1, 0.9, 0.9], 0.5)).toBe(0); // the first step wrong
    expect(predictFirstError([0.9, 0.4, 0.1], 0.5)).toBe(1); // the first of two low steps
    expect(predictFirstError([0.5, 0.5], 0.5)).toBe(-1); // a tie at the threshold is not flagged
    expect(predictFirstError([0.5, 0.49], 0.5)).toBe(1);
    expect(predictFirstError([], 0.5)).toBe(-1); // no scores: nothing to flag
    expect(firstError([], 0.5)).toBeNull();
    expect(firstError([0.2], 0.5)).toBe(0);
  });

  it('computes errorAcc, correctAcc and F1 as worked out by hand', () => {
    const m = firstErrorMetrics([
      { label: 2, predicted: 2 }, // error found
      { label: 0, predicted: 1 }, // error flagged too late
      { label: -1, predicted: -1 }, // correct left alone
      { label: -1, predicted: 0 }, // false alarm
      { label: -1, predicted: -1 },
    ]);
    expect(m).toMatchObject({ n: 5, nError: 2, nCorrect: 3, errorAcc: 0.5 });
    expect(m.correctAcc).toBeCloseTo(2 / 3, 12);
    expect(m.f1).toBeCloseTo(4 / 7, 12); // 2·(1/2)(2/3) / (1/2 + 2/3)
  });

  it('gives F1 0 when one side is 0, and null for a side with no records (never NaN)', () => {
    expect(harmonicMean(0, 1)).toBe(0);
    expect(firstErrorMetrics([{ label: 0, predicted: -1 }, { label: -1, predicted: -1 }])).toMatchObject({ errorAcc: 0, correctAcc: 1, f1: 0 });
    expect(firstErrorMetrics([{ label: -1, predicted: -1 }])).toMatchObject({ nError: 0, errorAcc: null, correctAcc: 1, f1: null });
    expect(firstErrorMetrics([{ label: 1, predicted: 1 }])).toMatchObject({ nCorrect: 0, errorAcc: 1, correctAcc: null, f1: null });
    expect(firstErrorMetrics([])).toMatchObject({ n: 0, errorAcc: null, correctAcc: null, f1: null });
    expect(() => firstErrorMetrics([{ label: -2, predicted: -1 }])).toThrow(/label/);
  });
});

describe('threshold calibration', () => {
  // Distinct scores 0.65 0.7 0.75 0.8 0.9 0.95 → candidates 0, 0.675, 0.725, 0.775, 0.85, 0.925, 1.
  // At 0.725: A -1 ✓, B 1 ✓ (0.7 < 0.725), C 0 ✓, D -1 ✓ (0.75 ≥ 0.725): F1 1. At 0.675 B is missed,
  // at 0.775 D is a false alarm (F1 2/3 each); at 0 nothing is flagged (errorAcc 0, F1 0).
  const records: ScoredRecord[] = [
    { label: -1, scores: [0.9, 0.8] },
    { label: 1, scores: [0.9, 0.7] },
    { label: 0, scores: [0.65, 0.9] },
    { label: -1, scores: [0.75, 0.95] },
  ];

  it('tries 0, 1 and the midpoints between neighbouring distinct scores', () => {
    const c = candidateThresholds(records);
    expect(c).toHaveLength(7);
    [0, 0.675, 0.725, 0.775, 0.85, 0.925, 1].forEach((x, i) => expect(c[i]).toBeCloseTo(x, 12));
  });

  it('picks the F1-maximising threshold', () => {
    const c = calibrateThreshold(records);
    expect(c.threshold).toBeCloseTo(0.725, 12);
    expect(c.metrics).toMatchObject({ errorAcc: 1, correctAcc: 1, f1: 1 });
    expect(c.candidates).toBe(7);
  });

  it('breaks ties towards the lowest threshold', () => {
    // Distinct 0.2 0.4 0.5 0.9 0.95 → candidates 0, 0.3, 0.45, 0.7, 0.925, 1. At 0.45 and at 0.7 both
    // errors are found at their step 0 and A is left alone (F1 1); at 0.3 C is missed, at 0.925 A is
    // flagged. Of the two best, 0.45 is kept.
    const c = calibrateThreshold([
      { label: -1, scores: [0.9, 0.95] },
      { label: 0, scores: [0.2, 0.5] },
      { label: 0, scores: [0.4, 0.9] },
    ]);
    expect(c.threshold).toBeCloseTo(0.45, 12);
    expect(c.metrics.f1).toBe(1);
  });

  it('refuses records of one kind only, where F1 is undefined', () => {
    expect(() => calibrateThreshold([{ label: -1, scores: [0.9] }])).toThrow(/records with an error and records without/);
    expect(() => calibrateThreshold([])).toThrow(/0 with an error/);
  });
});

describe('labelled solutions file', () => {
  it('reads ProcessBench records and names the line of a bad one', () => {
    const ok = parseLabelledSolutions('{"id": "a", "problem": "p", "steps": ["x", "y"], "label": 1}\n{"problem": "q", "steps": ["z"], "label": -1}\n', 'f.jsonl');
    expect(ok).toEqual([
      { id: 'a', problem: 'p', steps: ['x', 'y'], label: 1 },
      { id: 'line-2', problem: 'q', steps: ['z'], label: -1 },
    ]);
    expect(() => parseLabelledSolutions('{"problem": "p", "steps": ["x"], "label": 1}', 'f.jsonl')).toThrow(/f.jsonl line 1: "label" is 1, not -1 or a step index below 1/);
    expect(() => parseLabelledSolutions('{"problem": "p", "steps": "x", "label": 0}', 'f.jsonl')).toThrow(/"steps" is not a list of strings/);
    expect(() => parseLabelledSolutions('{"id": 1, "problem": "p", "steps": ["x"], "label": 0}\n{"id": "1", "problem": "p", "steps": ["x"], "label": 0}', 'f.jsonl')).toThrow(
      /lines 1 and 2 share the id "1"/,
    );
  });

  it('reads the ProcessBench fixture', () => {
    const text = readFileSync(resolve(REPO_ROOT, 'test/fixtures/datasets/processbench_gsm8k.jsonl'), 'utf8');
    const r = parseLabelledSolutions(text, 'processbench_gsm8k.jsonl');
    expect(r.map((x) => x.label)).toEqual([0, -1, -1, 0, -1, 0]);
  });
});

// --- the command against a loopback /pooling PRM ----------------------------------------------------

/** Each step ends in its own score, so the scripted PRM's answers are visible in the data. */
const step = (score: number) => `s ${score}`;
const record = (id: string, label: number, scores: number[]) => ({ id, problem: `problem ${id}`, steps: scores.map(step), label });

// At 0.5: r1 -1 ✓, r2 1 ✓, r3 0 ✓, r4 -1 ✓, r5: 0.5 ties (not flagged), 0.1 is flagged → 1, label 0 ✗.
// errorAcc 2/3, correctAcc 1, F1 0.8. At the calibrated 0.725: r4 (0.6) becomes a false alarm and r5 is
// found at step 0: errorAcc 1, correctAcc 1/2, F1 2/3.
const DATA = [
  record('r1', -1, [0.9, 0.8]),
  record('r2', 1, [0.9, 0.3, 0.2]),
  record('r3', 0, [0.4, 0.7]),
  record('r4', -1, [0.6, 0.6]),
  record('r5', 0, [0.5, 0.1]),
];
const CALIBRATION = [record('A', -1, [0.9, 0.8]), record('B', 1, [0.9, 0.7]), record('C', 0, [0.65, 0.9]), record('D', -1, [0.75, 0.95])];

let server: TestServer;
let dir: string;
let dataFile: string;
let calFile: string;
let n = 0;
const outDir = () => join(dir, `out-${++n}`);
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');
const readRows = (out: string): FirstErrorRow[] =>
  readFileSync(join(out, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as FirstErrorRow);
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
const prmArgs = () => ['--prm-url', server.url, '--prm-model', 'scripted-prm'];
const poolings = () => server.requests.filter((r) => r.path === '/pooling');

beforeAll(async () => {
  server = await startOpenAIServer();
  dir = mkdtempSync(join(tmpdir(), 'trim-first-error-'));
  dataFile = join(dir, 'data.jsonl');
  calFile = join(dir, 'cal.jsonl');
  writeFileSync(dataFile, jsonl(DATA));
  writeFileSync(calFile, jsonl(CALIBRATION));
});
afterAll(async () => {
  await server.close();
});
/** The score of each step is the number it ends with. */
const scriptedPrm: Responder = (req) =>
  req.path === '/pooling' ? { scores: prmSteps(req).map((s) => Number(s.split(' ').pop())).map((x) => [1 - x, x]) } : { status: 404 };
beforeEach(() => {
  server.reset();
  server.respond = scriptedPrm;
});

describe('trim eval --task first-error with a /pooling PRM', () => {
  it('writes {id, label, predicted, scores} per record and the summary worked out by hand', async () => {
    const out = outDir();
    const r = await trim(['eval', '--task', 'first-error', '--data', dataFile, ...prmArgs(), '--threshold', '0.5', '--out', out]);
    expect(r.code).toBe(0);
    const rows = readRows(out).sort((a, b) => a.id.localeCompare(b.id));
    expect(rows).toEqual([
      { id: 'r1', label: -1, predicted: -1, scores: [0.9, 0.8] },
      { id: 'r2', label: 1, predicted: 1, scores: [0.9, 0.3, 0.2] },
      { id: 'r3', label: 0, predicted: 0, scores: [0.4, 0.7] },
      { id: 'r4', label: -1, predicted: -1, scores: [0.6, 0.6] },
      { id: 'r5', label: 0, predicted: 1, scores: [0.5, 0.1] },
    ]);
    const s = summaryOf(out);
    expect(s).toMatchObject({ n: 5, nError: 3, nCorrect: 2, correctAcc: 1, threshold: 0.5, thresholdSource: { kind: 'given' }, notes: [] });
    expect(s.errorAcc).toBeCloseTo(2 / 3, 12);
    expect(s.f1).toBeCloseTo(0.8, 12);
    expect(r.stdout).toContain('errorAcc 66.7%   correctAcc 100.0%   F1 80.0%');
    expect(r.stderr).toMatch(/first-error 5\/5/);
    // One request per record, holding all its steps.
    expect(poolings()).toHaveLength(5);
  });

  it('calibrates the threshold on another file and records where it came from', async () => {
    const out = outDir();
    const r = await trim(['eval', '--task', 'first-error', '--data', dataFile, ...prmArgs(), '--calibrate', calFile, '--out', out]);
    expect(r.code).toBe(0);
    const s = summaryOf(out);
    expect(s.threshold).toBeCloseTo(0.725, 12);
    expect(s.thresholdSource).toMatchObject({ kind: 'calibrated', n: 4, f1: 1, errorAcc: 1, correctAcc: 1, candidates: 7 });
    expect(s.thresholdSource.file).toMatch(/cal\.jsonl$/);
    expect(s).toMatchObject({ errorAcc: 1, correctAcc: 0.5 });
    expect(s.f1).toBeCloseTo(2 / 3, 12);
    expect(readFileSync(join(out, 'calibration.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);
    expect(r.stderr).toMatch(/calibrated threshold 0\.72/);
  });

  it('resumes: an unfinished last line is redone, written records are not scored again', async () => {
    const out = outDir();
    const args = ['eval', '--task', 'first-error', '--data', dataFile, ...prmArgs(), '--threshold', '0.5', '--out', out];
    expect((await trim(args)).code).toBe(0);
    const full = readFileSync(join(out, 'results.jsonl'), 'utf8').split('\n');
    // A run killed while writing its third line.
    writeFileSync(join(out, 'results.jsonl'), `${full[0]}\n${full[1]}\n${full[2]!.slice(0, 12)}`);
    const kept = [JSON.parse(full[0]!).id, JSON.parse(full[1]!).id];
    server.reset();
    server.respond = scriptedPrm;
    const fresh = await trim(args);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/--resume/);
    const r = await trim([...args, '--resume']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/discarded an unfinished last line/);
    const scored = poolings().map((q) => q.body.messages[1].content as string);
    expect(scored.sort()).toEqual(DATA.map((d) => d.problem).filter((p) => !kept.some((id) => p === `problem ${id}`)).sort());
    expect(readRows(out).map((x) => x.id).sort()).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(summaryOf(out).f1).toBeCloseTo(0.8, 12);
    // Resuming with another threshold would mix predictions made at two thresholds.
    const other = await trim([...args.slice(0, -4), '--threshold', '0.6', '--out', out, '--resume']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/threshold was 0\.5, now 0\.6/);
  });

  it('keeps a record whose scoring failed out of the results, and --resume retries it', async () => {
    const out = outDir();
    const ok = server.respond;
    server.respond = (req) => (req.body?.messages?.[1]?.content === 'problem r3' ? { status: 400, message: 'bad request' } : ok(req));
    const args = ['eval', '--task', 'first-error', '--data', dataFile, ...prmArgs(), '--out', out];
    const r = await trim(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 records could not be scored/);
    expect(readFileSync(join(out, 'failures.jsonl'), 'utf8')).toMatch(/"id":"r3"/);
    expect(readRows(out).map((x) => x.id)).not.toContain('r3');
    expect(summaryOf(out)).toMatchObject({ n: 4, threshold: 0.5, thresholdSource: { kind: 'default' } });
    server.respond = ok;
    const again = await trim([...args, '--resume']);
    expect(again.code).toBe(0);
    expect(readRows(out)).toHaveLength(5);
    expect(summaryOf(out).n).toBe(5);
  });

  it('says which side is missing instead of dividing by zero', async () => {
    const out = outDir();
    const file = join(dir, 'errors-only.jsonl');
    writeFileSync(file, jsonl([DATA[1], DATA[2]]));
    const r = await trim(['eval', '--task', 'first-error', '--data', file, ...prmArgs(), '--threshold', '0.5', '--out', out]);
    expect(r.code).toBe(0);
    expect(summaryOf(out)).toMatchObject({ n: 2, errorAcc: 1, correctAcc: null, f1: null, notes: [expect.stringMatching(/No record is all correct/)] });
    expect(r.stdout).toMatch(/correctAcc n\/a/);
  });

  it('rejects bad arguments with usage errors', async () => {
    const base = ['eval', '--task', 'first-error', '--data', dataFile, '--out', outDir()];
    const cases: [string[], RegExp][] = [
      [[...base, ...prmArgs(), '--threshold', '0.5', '--calibrate', calFile], /not both/],
      [[...base, ...prmArgs(), '--threshold', '1.5'], /--threshold must be a number in \[0, 1\]/],
      [[...base], /A PRM is needed/],
      [['eval', '--task', 'first-error', ...prmArgs(), '--out', outDir()], /--data FILE is required/],
      [['eval', '--task', 'steps', '--data', dataFile], /--task must be answer or first-error/],
      // --task answer is the sweep of trim eval, which has flags of its own.
      [['eval', '--task', 'answer', '--data', dataFile, ...prmArgs()], /The weak model is missing|--out|--policy/],
      [[...base, ...prmArgs(), '--policy', 'thr'], /Unknown option '--policy'/],
    ];
    for (const [args, message] of cases) {
      const r = await trim(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(poolings()).toHaveLength(0);
  });
});

// --- folder PRMs -------------------------------------------------------------------------------------

describe('trim eval --task first-error with folder PRMs of every head', () => {
  const fixture = resolve(REPO_ROOT, 'test/fixtures/datasets/processbench_gsm8k.jsonl');
  const records = parseLabelledSolutions(readFileSync(fixture, 'utf8'), fixture);
  let folders: Record<'value' | 'two-class' | 'lm-tag', string>;

  beforeAll(async () => {
    // The same options as the other tests' fixtures, so the cached folders are reused.
    const [value, twoClass, lm] = await Promise.all(
      (['value', 'two-class', 'lm'] as const).map((head) => tinyModel({ head, precisions: ['fp32', 'q4'], seed: 7 })),
    );
    folders = { value: value!.dir, 'two-class': twoClass!.dir, 'lm-tag': lm!.dir };
  });

  for (const head of ['value', 'two-class', 'lm-tag'] as const) {
    it(`scores every record like the PRM itself and predicts from those scores (${head})`, async () => {
      const out = outDir();
      const r = await trim(['eval', '--task', 'first-error', '--data', fixture, '--prm-path', folders[head], '--prm-head', head, '--threshold', '0.5', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const rows = new Map(readRows(out).map((x) => [x.id, x]));
      const prm = await loadTjsPrm({ model: folders[head], head, incremental: false });
      try {
        for (const rec of records) {
          const row = rows.get(rec.id)!;
          const direct = await prm.score({ problem: rec.problem, steps: rec.steps });
          expect(row.scores).toHaveLength(rec.steps.length);
          row.scores.forEach((s, i) => expect(Math.abs(s - direct[i]!)).toBeLessThan(1e-5));
          expect(row.predicted).toBe(predictFirstError(row.scores, 0.5));
          expect(row.label).toBe(rec.label);
        }
      } finally {
        await prm.dispose();
      }
      const s = summaryOf(out);
      const m = firstErrorMetrics([...rows.values()].map((x) => ({ label: x.label, predicted: x.predicted })));
      expect(s).toMatchObject({ n: 6, nError: 3, nCorrect: 3, errorAcc: m.errorAcc, correctAcc: m.correctAcc, f1: m.f1 });
      expect(existsSync(join(out, 'run.json'))).toBe(true);
    });
  }
});

describe('trim organism processbench', () => {
  it("labels the weak model's own solutions with the checker's first error, the same on every run", async () => {
    const files = [join(dir, 'pb-a.jsonl'), join(dir, 'pb-b.jsonl')];
    for (const f of files) {
      const r = await trim(['organism', 'processbench', '--weak-path', resolve(REPO_ROOT, 'public/models/organism/weak'), '--limit', '6', '--out', f]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/wrote 6 labelled solutions/);
    }
    const text = readFileSync(files[0]!, 'utf8');
    expect(readFileSync(files[1]!, 'utf8')).toBe(text);
    const records = parseLabelledSolutions(text, files[0]!);
    expect(records.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `organism-test-00${i}#0`));
    for (const r of records) {
      const check = checkSolution(r.problem, r.steps);
      expect(r.label).toBe(check.firstError ?? -1);
    }
  });
});

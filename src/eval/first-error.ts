// `trim eval --task first-error`: ProcessBench's protocol. Each record is a solution labelled with its
// first wrong step (0-based) or -1; the PRM scores every step, the prediction is the first step scored
// below the threshold (or -1), and errorAcc / correctAcc / F1 summarise how often it finds the right
// step. The threshold is given, or picked to maximise F1 on another labelled file (--calibrate).
//
// Output directory:
//   results.jsonl      {id, label, predicted, scores} per record, appended durably as each is scored
//   calibration.jsonl  {id, label, scores} per record of the calibration file (so --resume does not
//                      score it again)
//   summary.json       {n, errorAcc, correctAcc, f1, threshold, thresholdSource, …}
//   run.json           the settings, checked by --resume
//   failures.jsonl     records whose scoring failed (rerun with --resume)
// A killed run loses only the records in flight: each line is one write() then fsync, an unterminated
// last line is cut away on --resume, and records already written are not scored again.

import { appendFileSync, closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, errorMessage, TrimError } from '../core/errors.ts';
import { calibrateThreshold, firstErrorMetrics, predictFirstError, type FirstErrorMetrics } from '../core/first-error-metrics.ts';
import type { StepScorer } from '../core/types.ts';
import { DatasetError } from './datasets.ts';
import { releaseLock, takeLock } from './results-log.ts';
import { relativePath, settleManifest, writeAtomic, type Identity } from './run-manifest.ts';

export interface LabelledSolution {
  id: string;
  problem: string;
  steps: string[];
  /** First wrong step (0-based), or -1 when every step is correct. */
  label: number;
}

export interface FirstErrorRow {
  id: string;
  label: number;
  predicted: number;
  scores: number[];
}

interface CalibrationRow {
  id: string;
  label: number;
  scores: number[];
}

// --- data ------------------------------------------------------------------------------------------

/**
 * Reads labelled solutions: JSONL (or a JSON array) of {id?, problem, steps: [..], label}, ProcessBench's
 * layout. A record without an id takes its line number. --offset / --limit select records in file order.
 */
export function loadLabelledSolutions(file: string, opts: { offset?: number; limit?: number } = {}): { file: string; total: number; records: LabelledSolution[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError(`Cannot read the labelled solutions ${file}: ${(err as Error).message}. Check the path.`);
  }
  const records = parseLabelledSolutions(text, file);
  const offset = opts.offset ?? 0;
  return { file, total: records.length, records: records.slice(offset, offset + (opts.limit ?? Infinity)) };
}

export function parseLabelledSolutions(text: string, file: string): LabelledSolution[] {
  const body = text.replace(/^\uFEFF/, '').trim();
  let items: { line: number; value: unknown }[];
  if (body.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(body);
    } catch (err) {
      throw new DatasetError(`${file} starts like a JSON array but does not parse: ${(err as Error).message}.`);
    }
    items = (arr as unknown[]).map((value, i) => ({ line: i + 1, value }));
  } else {
    items = [];
    text.split('\n').forEach((raw, i) => {
      const l = raw.replace(/^\uFEFF/, '').trim();
      if (!l) return;
      try {
        items.push({ line: i + 1, value: JSON.parse(l) });
      } catch (err) {
        throw new DatasetError(`${file} line ${i + 1} is not valid JSON (${(err as Error).message}); each line must be one JSON object.`);
      }
    });
  }
  if (!items.length) throw new DatasetError(`${file} holds no records; give one {"problem", "steps", "label"} per line.`);
  const seen = new Map<string, number>();
  return items.map(({ line, value }) => {
    const where = `${file} line ${line}`;
    const bad = (what: string) => new DatasetError(`${where}: ${what}. Each record must be {"id", "problem", "steps": [..strings], "label": first wrong step (0-based) or -1}.`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('not a JSON object');
    const r = value as Record<string, unknown>;
    if (typeof r.problem !== 'string') throw bad('"problem" is not a string');
    if (!Array.isArray(r.steps) || !r.steps.every((s) => typeof s === 'string')) throw bad('"steps" is not a list of strings');
    if (r.steps.length === 0) throw bad('"steps" is empty');
    const label = r.label;
    if (typeof label !== 'number' || !Number.isInteger(label) || label < -1 || label >= r.steps.length)
      throw bad(`"label" is ${JSON.stringify(label)}, not -1 or a step index below ${r.steps.length}`);
    const id = typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : `line-${line}`;
    const first = seen.get(id);
    if (first !== undefined) throw new DatasetError(`${file}: lines ${first} and ${line} share the id "${id}"; results are keyed by id.`);
    seen.set(id, line);
    return { id, problem: r.problem, steps: r.steps as string[], label };
  });
}

// --- the append-only logs ---------------------------------------------------------------------------

/** One JSON object per line, appended durably; on resume the lines already there are returned. */
class JsonlLog<T extends { id: string }> {
  private constructor(
    private readonly fd: number,
    private readonly ids: Set<string>,
  ) {}

  static open<T extends { id: string }>(path: string, resume: boolean, check: (v: unknown, where: string) => T): { log: JsonlLog<T>; rows: T[]; truncatedBytes: number } {
    let rows: T[] = [];
    let keep = 0;
    let truncatedBytes = 0;
    if (existsSync(path)) {
      const content = readFileSync(path);
      if (content.length && !resume)
        throw new ConfigError(`${path} holds results of an earlier run. Pass --resume to continue it, or choose another --out directory.`);
      keep = content.lastIndexOf(0x0a) + 1;
      truncatedBytes = content.length - keep;
      rows = content
        .subarray(0, keep)
        .toString('utf8')
        .split('\n')
        .map((line, i) => ({ line, where: `${path} line ${i + 1}` }))
        .filter(({ line }) => line.trim())
        .map(({ line, where }) => {
          let v: unknown;
          try {
            v = JSON.parse(line);
          } catch {
            throw new TrimError(`${where} is not valid JSON. The file was edited or damaged; remove that line and rerun with --resume.`);
          }
          return check(v, where);
        });
    }
    const fd = openSync(path, 'a');
    if (truncatedBytes) {
      // The unterminated tail is a record that was being written when the run died; it is scored again.
      ftruncateSync(fd, keep);
      fsyncSync(fd);
    }
    return { log: new JsonlLog<T>(fd, new Set(rows.map((r) => r.id))), rows, truncatedBytes };
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  append(row: T): void {
    if (this.ids.has(row.id)) throw new TrimError(`The record "${row.id}" is already written; it is not written twice.`);
    const line = Buffer.from(JSON.stringify(row) + '\n', 'utf8');
    let done = 0;
    while (done < line.length) done += writeSync(this.fd, line, done, line.length - done);
    fsyncSync(this.fd);
    this.ids.add(row.id);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function checkScored(v: unknown, where: string): CalibrationRow {
  const bad = (what: string) => new TrimError(`${where}: ${what}. The file was edited or damaged; remove that line and rerun with --resume.`);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('not a JSON object');
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string') throw bad('"id" is not a string');
  if (typeof r.label !== 'number' || !Number.isInteger(r.label) || r.label < -1) throw bad('"label" is not -1 or a step index');
  if (!Array.isArray(r.scores) || !r.scores.every((s) => typeof s === 'number' && Number.isFinite(s))) throw bad('"scores" is not a list of numbers');
  return r as unknown as CalibrationRow;
}

// --- scoring -----------------------------------------------------------------------------------------

export interface ScoreOutcome {
  failed: number;
  interrupted: number;
}

/** Scores each record (one PRM call for all its steps), a few at a time; `onScored` runs in completion order. */
async function scoreAll(
  records: readonly LabelledSolution[],
  prm: StepScorer,
  concurrency: number,
  signal: AbortSignal | undefined,
  onScored: (r: LabelledSolution, scores: number[]) => void,
  onFailure: (r: LabelledSolution, message: string) => void,
): Promise<ScoreOutcome> {
  const outcome: ScoreOutcome = { failed: 0, interrupted: 0 };
  let next = 0;
  let fatal: unknown = null;
  const worker = async () => {
    while (next < records.length && fatal === null) {
      const r = records[next++]!;
      if (signal?.aborted) {
        outcome.interrupted++;
        continue;
      }
      let scores: number[];
      try {
        scores = await prm.score({ problem: r.problem, steps: r.steps, ...(signal ? { signal } : {}) });
        if (scores.length !== r.steps.length) throw new TrimError(`the PRM returned ${scores.length} scores for ${r.steps.length} steps`);
      } catch (err) {
        if (signal?.aborted) outcome.interrupted++;
        else {
          outcome.failed++;
          onFailure(r, errorMessage(err));
        }
        continue;
      }
      try {
        onScored(r, scores);
      } catch (err) {
        // Writing failed (disk full…): stop handing out work and report it.
        fatal ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, records.length)) }, worker));
  if (fatal !== null) throw fatal;
  return outcome;
}

/** done/total, rate and ETA on stderr: redrawn on a terminal, a line every few seconds in a log. */
class Progress {
  private done: number;
  private fresh = 0;
  private failed = 0;
  private readonly started = performance.now();
  private lastLog = -Infinity;

  constructor(
    private readonly phase: string,
    private readonly total: number,
    resumed: number,
    private readonly sink: { write(s: string): unknown; isTTY?: boolean },
  ) {
    this.done = resumed;
  }

  tick(failed = false): void {
    if (failed) this.failed++;
    else {
      this.done++;
      this.fresh++;
    }
    this.render(false);
  }

  finish(): void {
    this.render(true);
    if (this.sink.isTTY) this.sink.write('\n');
  }

  private render(force: boolean): void {
    const s = (performance.now() - this.started) / 1000;
    const rate = s > 0 ? this.fresh / s : 0;
    const left = Math.max(0, this.total - this.done - this.failed);
    const eta = left === 0 ? '0:00' : rate > 0 ? clock(left / rate) : '?';
    const line = `${this.phase} ${this.done}/${this.total} · ${rate.toFixed(2)} records/s · ETA ${eta}${this.failed ? ` · ${this.failed} failed` : ''}`;
    if (this.sink.isTTY) return void this.sink.write(`\r${line}\x1b[K`);
    const now = performance.now();
    if (!force && now - this.lastLog < 5000) return;
    this.lastLog = now;
    this.sink.write(line + '\n');
  }
}

function clock(seconds: number): string {
  const t = Math.round(seconds);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}

// --- the run -----------------------------------------------------------------------------------------

export type ThresholdChoice = { kind: 'given'; threshold: number } | { kind: 'default'; threshold: number } | { kind: 'calibrate'; file: string; records: LabelledSolution[] };

export interface FirstErrorRunOptions {
  out: string;
  data: { file: string; records: LabelledSolution[] };
  prm: StepScorer;
  threshold: ThresholdChoice;
  /** Settings that define the experiment beyond data and threshold (PRM, head, offset…), for --resume. */
  identity: Identity;
  concurrency: number;
  resume: boolean;
  signal?: AbortSignal;
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

export interface FirstErrorSummary extends FirstErrorMetrics {
  task: 'first-error';
  threshold: number;
  thresholdSource:
    | { kind: 'given' | 'default' }
    | { kind: 'calibrated'; file: string; n: number; errorAcc: number | null; correctAcc: number | null; f1: number | null; candidates: number };
  data: string;
  prm: string;
  /** Why a figure is null, when one is. */
  notes: string[];
}

export interface FirstErrorOutcome {
  summary: FirstErrorSummary | null;
  failed: number;
  interrupted: number;
}

export async function runFirstErrorEval(o: FirstErrorRunOptions): Promise<FirstErrorOutcome> {
  const lock = join(o.out, 'results.lock');
  takeLock(lock, o.out);
  const logs: { close(): void }[] = [];
  /** Scores `todo` (of `total` records in the phase) with progress on stderr; failures go to failures.jsonl. */
  const scorePhase = async (phase: 'calibrate' | 'first-error', todo: readonly LabelledSolution[], total: number, onScored: (r: LabelledSolution, scores: number[]) => void) => {
    const progress = new Progress(phase, total, total - todo.length, o.stderr);
    const outcome = await scoreAll(
      todo,
      o.prm,
      o.concurrency,
      o.signal,
      (r, scores) => {
        onScored(r, scores);
        progress.tick();
      },
      (r, message) => {
        appendFileSync(join(o.out, 'failures.jsonl'), JSON.stringify({ phase, id: r.id, error: message, at: new Date().toISOString() }) + '\n');
        progress.tick(true);
      },
    );
    progress.finish();
    return outcome;
  };
  try {
    const t = o.threshold;
    const identity: Identity = {
      task: 'first-error',
      data: relativePath(o.data.file),
      ...o.identity,
      threshold: t.kind === 'calibrate' ? null : t.threshold,
      calibrate: t.kind === 'calibrate' ? relativePath(t.file) : null,
    };
    const results = JsonlLog.open(join(o.out, 'results.jsonl'), o.resume, (v, where) => {
      const r = checkScored(v, where) as FirstErrorRow;
      if (typeof r.predicted !== 'number') throw new TrimError(`${where}: "predicted" is not a number. Remove that line and rerun with --resume.`);
      return r;
    });
    logs.push(results.log);
    // Scoring is deterministic: the seed run.json records is unused (0).
    const manifest = settleManifest(o.out, identity, 0, o.resume, results.rows.length > 0, ['data', 'calibrate']);
    if (manifest.warning) o.stderr.write(`trim eval: ${manifest.warning}\n`);
    if (results.truncatedBytes) o.stderr.write('trim eval: discarded an unfinished last line of results.jsonl; that record will be scored again.\n');

    let threshold: number;
    let thresholdSource: FirstErrorSummary['thresholdSource'];
    let failed = 0;
    let interrupted = 0;
    if (t.kind === 'calibrate') {
      const cal = JsonlLog.open(join(o.out, 'calibration.jsonl'), o.resume, checkScored);
      logs.push(cal.log);
      if (cal.truncatedBytes) o.stderr.write('trim eval: discarded an unfinished last line of calibration.jsonl; that record will be scored again.\n');
      const rows = [...cal.rows];
      const todo = t.records.filter((r) => !cal.log.has(r.id));
      o.stderr.write(`trim eval: calibrating on ${t.records.length} records of ${t.file}${rows.length ? ` (${t.records.length - todo.length} already scored)` : ''}\n`);
      const outcome = await scorePhase('calibrate', todo, t.records.length, (r, scores) => {
        const row = { id: r.id, label: r.label, scores };
        cal.log.append(row);
        rows.push(row);
      });
      if (outcome.failed || outcome.interrupted) return { summary: null, ...outcome };
      const wanted = new Set(t.records.map((r) => r.id));
      const c = calibrateThreshold(rows.filter((r) => wanted.has(r.id)));
      threshold = c.threshold;
      thresholdSource = {
        kind: 'calibrated',
        file: relativePath(t.file),
        n: c.metrics.n,
        errorAcc: c.metrics.errorAcc,
        correctAcc: c.metrics.correctAcc,
        f1: c.metrics.f1,
        candidates: c.candidates,
      };
      o.stderr.write(`trim eval: calibrated threshold ${threshold} (F1 ${pct(c.metrics.f1)} on the calibration records, ${c.candidates} thresholds tried)\n`);
    } else {
      threshold = t.threshold;
      thresholdSource = { kind: t.kind };
    }

    const rows = [...results.rows];
    const todo = o.data.records.filter((r) => !results.log.has(r.id));
    o.stderr.write(`trim eval: first-error on ${o.data.records.length} records of ${o.data.file}, threshold ${threshold}${rows.length ? ` (${o.data.records.length - todo.length} already scored)` : ''}\n`);
    const outcome = await scorePhase('first-error', todo, o.data.records.length, (r, scores) => {
      const row: FirstErrorRow = { id: r.id, label: r.label, predicted: predictFirstError(scores, threshold), scores };
      results.log.append(row);
      rows.push(row);
    });
    failed += outcome.failed;
    interrupted += outcome.interrupted;

    const selected = new Set(o.data.records.map((r) => r.id));
    const mine = rows.filter((r) => selected.has(r.id));
    // Predictions are recomputed from the scores, so the summary holds whatever an older line says.
    const metrics = firstErrorMetrics(mine.map((r) => ({ label: r.label, predicted: predictFirstError(r.scores, threshold) })));
    const notes: string[] = [];
    if (metrics.nError === 0) notes.push('No record has an error (label ≥ 0): errorAcc and f1 are undefined (null).');
    if (metrics.nCorrect === 0) notes.push('No record is all correct (label -1): correctAcc and f1 are undefined (null).');
    const summary: FirstErrorSummary = {
      task: 'first-error',
      ...metrics,
      threshold,
      thresholdSource,
      data: relativePath(o.data.file),
      prm: String(o.identity.prm ?? o.prm.id),
      notes,
    };
    writeAtomic(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    return { summary, failed, interrupted };
  } finally {
    for (const l of logs) l.close();
    releaseLock(lock);
  }
}

export const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);

/** The summary as a few lines for standard output. */
export function formatFirstErrorSummary(s: FirstErrorSummary): string {
  const src = s.thresholdSource;
  const from = src.kind === 'calibrated' ? `calibrated on ${src.file}: F1 ${pct(src.f1)} there` : src.kind === 'given' ? 'given' : 'default';
  return [
    `first-error: ${s.n} records (${s.nError} with an error, ${s.nCorrect} all correct), threshold ${s.threshold} (${from})`,
    `errorAcc ${pct(s.errorAcc)}   correctAcc ${pct(s.correctAcc)}   F1 ${pct(s.f1)}`,
    ...s.notes,
  ].join('\n');
}

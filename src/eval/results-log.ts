// DIR/results.jsonl, written so that a run killed at any moment loses only what was in flight:
// each finished record is one write() of one complete line to a file opened for appending, then
// fsync'd. A kill can therefore leave at most one unterminated line at the end, which --resume cuts
// away before it appends again; no complete line is ever written twice because --resume skips every
// (id, policy, knob) already in the file, and a lock file keeps two runs from sharing one directory.

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, ftruncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { ResultsError, rowKey, type ResultRow } from './summary.ts';

export const RESULTS_FILE = 'results.jsonl';
const LOCK_FILE = 'results.lock';

export interface OpenedLog {
  log: ResultsLog;
  /** Rows already in the file (resume). */
  rows: ResultRow[];
  /** Bytes of an unterminated last line that were cut away (a record that was being written). */
  truncatedBytes: number;
}

export class ResultsLog {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly lockPath: string,
    private readonly keys: Set<string>,
  ) {}

  /**
   * Opens DIR/results.jsonl for appending. Without `resume` the file must be absent or empty, so an
   * earlier run's results are never mixed in by accident.
   */
  static open(dir: string, resume: boolean): OpenedLog {
    const path = join(dir, RESULTS_FILE);
    const lockPath = join(dir, LOCK_FILE);
    takeLock(lockPath, dir);
    try {
      let rows: ResultRow[] = [];
      let truncatedBytes = 0;
      let keep = 0;
      if (existsSync(path)) {
        const content = readFileSync(path);
        if (content.length && !resume)
          throw new ConfigError(
            `${dir} already holds results from an earlier run. Pass --resume to continue it, or choose another --out directory.`,
          );
        keep = content.lastIndexOf(0x0a) + 1;
        truncatedBytes = content.length - keep;
        rows = parseResults(content.subarray(0, keep).toString('utf8'), path);
      }
      const fd = openSync(path, 'a');
      if (truncatedBytes) {
        // The unterminated tail is a record that was being written when the run died; it will rerun.
        ftruncateSync(fd, keep);
        fsyncSync(fd);
      }
      return { log: new ResultsLog(path, fd, lockPath, new Set(rows.map(rowKey))), rows, truncatedBytes };
    } catch (err) {
      releaseLock(lockPath);
      throw err;
    }
  }

  has(key: Pick<ResultRow, 'id' | 'policy' | 'knob'>): boolean {
    return this.keys.has(rowKey(key));
  }

  /** Appends one record as one complete line, durably, or throws and appends nothing. */
  append(row: ResultRow): void {
    if (this.closed) throw new ResultsError('The results file is closed.');
    const key = rowKey(row);
    if (this.keys.has(key)) throw new ResultsError(`A result for ${key} is already in ${this.path}; it is not written twice.`);
    const line = Buffer.from(JSON.stringify(row) + '\n', 'utf8');
    let done = 0;
    // One write() for the whole line; a short write (disk full…) continues where it stopped, and at
    // worst leaves an unterminated line that --resume cuts away.
    while (done < line.length) done += writeSync(this.fd, line, done, line.length - done);
    fsyncSync(this.fd);
    this.keys.add(key);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    releaseLock(this.lockPath);
  }
}

/** Parses complete results lines; a line that is not a valid record is an error naming it. */
export function parseResults(text: string, path: string): ResultRow[] {
  const rows: ResultRow[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new ResultsError(`${path} line ${i + 1} is not valid JSON. The file was edited or damaged; remove that line and rerun with --resume.`);
    }
    const row = checkRow(v, `${path} line ${i + 1}`);
    const key = rowKey(row);
    const first = seen.get(key);
    if (first !== undefined)
      throw new ResultsError(`${path} lines ${first} and ${i + 1} are both results for ${key}; remove one and rerun with --resume.`);
    seen.set(key, i + 1);
    rows.push(row);
  });
  return rows;
}

/** Checks the fields every summary relies on; the rest of a row is passed through as written. */
export function checkRow(v: unknown, where: string): ResultRow {
  const bad = (what: string) => new ResultsError(`${where}: ${what}. The file was edited or damaged; remove that line and rerun with --resume.`);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('not a JSON object');
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string') throw bad('"id" is not a string');
  if (typeof r.policy !== 'string' || !r.policy) throw bad('"policy" is not a name');
  if (r.knob !== null && !(typeof r.knob === 'number' && Number.isFinite(r.knob))) throw bad('"knob" is neither a number nor null');
  if (typeof r.correct !== 'boolean') throw bad('"correct" is not true or false');
  for (const k of ['strongTokens', 'weakTokens', 'strongCalls'])
    if (!(typeof r[k] === 'number' && Number.isFinite(r[k]) && (r[k] as number) >= 0)) throw bad(`"${k}" is not a non-negative number`);
  if (!Array.isArray(r.steps)) throw bad('"steps" is not a list');
  return r as unknown as ResultRow;
}

/** Takes DIR's lock, or explains which process holds it; a lock left by a dead process is taken over. */
export function takeLock(lockPath: string, dir: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid))
      throw new ConfigError(
        `Another trim eval (process ${pid}) is writing to ${dir}. Wait for it to finish, or if no such run exists, delete ${lockPath}.`,
      );
    releaseLock(lockPath);
  }
  throw new ConfigError(`Cannot take the lock ${lockPath}; delete it if no other trim eval is running.`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function releaseLock(lockPath: string): void {
  try {
    unlinkSync(lockPath);
  } catch {
    // Already gone: nothing to release.
  }
}

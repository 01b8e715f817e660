// Progress of an evaluation on stderr: done/total, rate, ETA, running accuracy and strong-token cost.
// On a terminal one line is redrawn in place; in a log file a line is written every few seconds.

import type { ResultRow } from './summary.ts';

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Runs in the whole evaluation, those already done included. */
  total: number;
  /** Rows already in the results file (a resumed run). */
  resumed: readonly ResultRow[];
  sink: ProgressSink;
  now?: () => number;
  /** Least time between two lines when the sink is not a terminal. */
  logIntervalMs?: number;
}

export class Progress {
  private done: number;
  private correct = 0;
  private strongTokens = 0;
  private failed = 0;
  private sessionDone = 0;
  private readonly started: number;
  private lastLog = -Infinity;
  private readonly now: () => number;

  constructor(private readonly o: ProgressOptions) {
    this.now = o.now ?? (() => performance.now());
    this.started = this.now();
    this.done = o.resumed.length;
    for (const r of o.resumed) this.count(r);
  }

  result(row: ResultRow): void {
    this.done++;
    this.sessionDone++;
    this.count(row);
    this.render(false);
  }

  failure(): void {
    this.failed++;
    this.render(false);
  }

  /** Writes the final state and ends the line. */
  finish(): void {
    this.render(true);
    if (this.o.sink.isTTY) this.o.sink.write('\n');
  }

  line(): string {
    const elapsed = (this.now() - this.started) / 1000;
    const rate = elapsed > 0 ? this.sessionDone / elapsed : 0;
    const left = Math.max(0, this.o.total - this.done - this.failed);
    const parts = [
      `eval ${this.done}/${this.o.total} (${pct(this.o.total ? this.done / this.o.total : 1)})`,
      rate >= 1 ? `${rate.toFixed(2)} runs/s` : `${(rate * 60).toFixed(1)} runs/min`,
      `ETA ${left === 0 ? '0:00' : rate > 0 ? clock(left / rate) : '?'}`,
      `accuracy ${this.done ? pct(this.correct / this.done) : '–'}`,
      `${this.done ? (this.strongTokens / this.done).toFixed(0) : '–'} strong tok/run`,
    ];
    if (this.failed) parts.push(`${this.failed} failed`);
    return parts.join(' · ');
  }

  private count(r: ResultRow): void {
    if (r.correct) this.correct++;
    this.strongTokens += r.strongTokens;
  }

  private render(force: boolean): void {
    if (this.o.sink.isTTY) {
      this.o.sink.write(`\r${this.line()}\x1b[K`);
      return;
    }
    const t = this.now();
    if (!force && t - this.lastLog < (this.o.logIntervalMs ?? 5000)) return;
    this.lastLog = t;
    this.o.sink.write(this.line() + '\n');
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// Solved problems (transcript, ledger, what was sent) kept in IndexedDB, so they survive a reload. A
// record is written at every step, not only at the end: a crash, an error or a closed tab never loses
// the transcript so far.

import type { Ledger } from '../core/ledger.ts';
import type { SolveFinish, StepRecord } from '../core/solve.ts';
import type { Transmission, Where } from '../core/types.ts';
import type { Hold } from './remote-gate.ts';
import type { StepTiming } from './step-clock.ts';

export type RecordStatus = 'running' | 'done' | 'stopped' | 'error' | 'interrupted';

export interface SolveRecord {
  id: string;
  /** The browser-tab session it was solved in (session totals of the ledger). */
  sessionId: string;
  startedAt: number;
  updatedAt: number;
  status: RecordStatus;
  problem: string;
  /** What ran, as text specs (never the API key). `strongWhere` says where the strong model ran, if any. */
  setup: { weak: string; prm: string; strong: string | null; strongWhere: Where | null; policy: string };
  steps: StepRecord[];
  /** Where each step's time went, by step index (absent in records saved before it was kept). */
  timings?: StepTiming[];
  holds: Hold[];
  transmissions: Transmission[];
  /** Null until the run ends (the ledger comes with the final trace). */
  ledger: Ledger | null;
  answer: string | null;
  finish: SolveFinish | null;
  error: string | null;
}

const DB_NAME = 'trim-page';
const STORE = 'solves';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error ?? new Error('IndexedDB request failed'));
  });
}

export class History {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(factory: IDBFactory = indexedDB): Promise<History> {
    const open = factory.open(DB_NAME, 1);
    open.onupgradeneeded = () => {
      const store = open.result.createObjectStore(STORE, { keyPath: 'id' });
      store.createIndex('startedAt', 'startedAt');
    };
    const history = new History(await request(open));
    await history.markInterrupted();
    return history;
  }

  async save(rec: SolveRecord): Promise<void> {
    // Structured clone of plain data: the record never holds functions or errors.
    await request(this.db.transaction(STORE, 'readwrite').objectStore(STORE).put(rec));
  }

  /** Newest first. */
  async list(limit = 50): Promise<SolveRecord[]> {
    const all = (await request(this.db.transaction(STORE).objectStore(STORE).index('startedAt').getAll())) as SolveRecord[];
    return all.reverse().slice(0, limit);
  }

  async clear(): Promise<void> {
    await request(this.db.transaction(STORE, 'readwrite').objectStore(STORE).clear());
  }

  /** A record still "running" when the page opens was cut off by a reload or a crash. */
  private async markInterrupted(): Promise<void> {
    for (const r of await this.list(Infinity)) {
      if (r.status !== 'running') continue;
      await this.save({ ...r, status: 'interrupted', error: r.error ?? 'The page was closed or reloaded while this problem was being solved; the steps so far are kept.' });
    }
  }
}

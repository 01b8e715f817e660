// One model run at a time, in arrival order: a model's KV cache is shared state, and on a CPU two runs
// side by side only make both slower. Requests wait their turn instead of being refused; only a queue
// past `max` (a client flooding the server) gets a 503 asking it to retry later.

import { AbortedError } from '../core/errors.ts';
import { ApiError } from './api-error.ts';

export class JobQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(readonly max: number) {}

  /** Requests waiting or running. */
  get size(): number {
    return this.pending;
  }

  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.pending >= this.max)
      return Promise.reject(new ApiError(503, `The server is busy (${this.pending} requests queued); retry later.`, 'server_error', null, 'queue_full'));
    this.pending++;
    const start = () => {
      // A client that left while waiting costs nothing.
      if (signal?.aborted) throw new AbortedError();
      return job();
    };
    const next = this.tail.then(start, start);
    this.tail = next.catch(() => {});
    return next.finally(() => this.pending--);
  }
}

// The page side of a model worker. It owns the worker's life: starts it, loads the model, watches for
// a crash (error / messageerror events, a heartbeat that goes unanswered, a worker that ignores Stop),
// reports it, rejects the calls in flight with a clear error, and starts a fresh worker.

import * as Comlink from 'comlink';
import { AbortedError, TrimError, errorMessage } from '../core/errors.ts';
import type { ScoreRequest, StepModel, StepRequest, StepResult, StepScorer, Where } from '../core/types.ts';
import type { TokenProbe } from './self-check.ts';
import type { HostEvent, LoadProgress, ModelWorkerApi } from './worker-host.ts';

/** A worker stopped (crashed, hung, or was killed) while it was needed. */
export class WorkerLostError extends TrimError {}

/** What the client needs of a Worker (a DOM Worker, or a MessagePort-backed stand-in). */
export interface WorkerLike extends Comlink.Endpoint {
  terminate(): void;
}

export type WorkerStatus =
  | { type: 'loading' }
  | { type: 'progress'; progress: LoadProgress }
  | { type: 'ready'; description: string }
  | { type: 'lost'; reason: string }
  | { type: 'failed'; message: string };

export interface WorkerClientOptions<C> {
  /** Used in messages: "the PRM", "the small model". */
  name: string;
  create: () => WorkerLike;
  config: C;
  onStatus?: (s: WorkerStatus) => void;
  /** How often the worker is pinged while alive. */
  heartbeatMs?: number;
  /** A ping unanswered this long means the worker is gone. Generous: one WASM forward pass can be slow. */
  heartbeatTimeoutMs?: number;
  /** After Stop, a call that has not ended within this time means the worker is stuck: it is replaced. */
  cancelGraceMs?: number;
  /** Restarts allowed within a minute before giving up (a model that crashes on load would loop). */
  maxRestartsPerMinute?: number;
}

interface Live {
  worker: WorkerLike;
  api: Comlink.Remote<ModelWorkerApi<unknown>>;
  ready: Promise<void>;
  dead: boolean;
}

export class WorkerClient<C> {
  private live: Live | null = null;
  private seq = 0;
  private readonly pending = new Map<number, (err: Error) => void>();
  private readonly texts = new Map<number, (delta: string) => void>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private restarts: number[] = [];
  private disposed = false;

  constructor(private readonly opts: WorkerClientOptions<C>) {}

  /** Starts the worker and loads the model if that is not done yet; resolves when it is ready. */
  ready(): Promise<void> {
    if (this.disposed) return Promise.reject(new WorkerLostError(`${this.opts.name} was closed.`));
    if (!this.live || this.live.dead) this.live = this.start();
    return this.live.ready;
  }

  stepModel(id: string): StepModel {
    return {
      id,
      where: 'device' as Where,
      next: (r: StepRequest): Promise<StepResult> => {
        const { signal: _s, onText, beforeSend: _b, ...plain } = r;
        return this.call(r.signal, (api, cid) => {
          if (onText) this.texts.set(cid, onText);
          return api.next(cid, plain);
        });
      },
    };
  }

  scorer(id: string): StepScorer {
    return {
      id,
      where: 'device',
      score: (r: ScoreRequest): Promise<number[]> => {
        const { signal: _s, beforeSend: _b, ...plain } = r;
        return this.call(r.signal, (api, cid) => api.score(cid, plain));
      },
    };
  }

  probe(id: string): TokenProbe {
    return {
      id,
      where: 'device',
      nextTokenProbabilities: (prompt, candidates, signal) => this.call(signal, (api, cid) => api.probe(cid, prompt, [...candidates])),
    };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.stopHeartbeat();
    const live = this.live;
    this.live = null;
    if (live && !live.dead) {
      live.dead = true;
      await Promise.race([live.api.dispose().catch(() => {}), sleep(1000)]);
      live.worker.terminate();
    }
    this.rejectAll(new WorkerLostError(`${this.opts.name} was closed.`));
  }

  private start(): Live {
    this.opts.onStatus?.({ type: 'loading' });
    const worker = this.opts.create();
    const api = Comlink.wrap<ModelWorkerApi<unknown>>(worker);
    const live: Live = { worker, api, ready: Promise.resolve(), dead: false };
    const onError = (e: Event) => {
      const msg = (e as ErrorEvent).message;
      this.lose(live, msg ? `it crashed (${msg})` : 'it crashed');
    };
    const onMessageError = () => this.lose(live, 'it sent a message that could not be read');
    worker.addEventListener('error', onError);
    worker.addEventListener('messageerror', onMessageError);
    live.ready = (async () => {
      await api.listen(Comlink.proxy((e: HostEvent) => this.onHostEvent(e)));
      const info = await api.load(this.opts.config);
      if (live.dead) throw new WorkerLostError(`${this.opts.name} stopped while loading.`);
      this.startHeartbeat(live);
      this.opts.onStatus?.({ type: 'ready', description: info.description });
    })();
    live.ready.catch((err) => {
      if (live.dead) return;
      // A load that fails leaves no usable worker: close it so the next attempt starts clean.
      live.dead = true;
      worker.terminate();
      this.stopHeartbeat();
      this.opts.onStatus?.({ type: 'failed', message: errorMessage(err) });
    });
    return live;
  }

  private onHostEvent(e: HostEvent): void {
    if (e.type === 'text') this.texts.get(e.id)?.(e.delta);
    else this.opts.onStatus?.({ type: 'progress', progress: e.progress });
  }

  private async call<T>(signal: AbortSignal | undefined, invoke: (api: Comlink.Remote<ModelWorkerApi<unknown>>, id: number) => Promise<T>): Promise<T> {
    if (signal?.aborted) throw new AbortedError();
    await this.ready();
    const live = this.live!;
    const id = ++this.seq;
    let settled = false;
    const work = invoke(live.api, id).finally(() => {
      settled = true;
    });
    const stop = new Promise<never>((_, reject) => {
      this.pending.set(id, reject);
      const onAbort = () => {
        reject(new AbortedError());
        live.api.cancel(id).catch(() => {});
        const grace = this.opts.cancelGraceMs ?? 3000;
        setTimeout(() => {
          if (!settled) this.lose(live, `it did not stop within ${grace / 1000} s of Stop`);
        }, grace);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      work.then(
        () => signal?.removeEventListener('abort', onAbort),
        () => signal?.removeEventListener('abort', onAbort),
      );
    });
    try {
      return await Promise.race([work, stop]);
    } finally {
      this.pending.delete(id);
      this.texts.delete(id);
      work.catch(() => {}); // its outcome no longer matters once the race is decided
    }
  }

  private lose(live: Live, reason: string): void {
    if (live.dead || this.disposed) return;
    live.dead = true;
    this.stopHeartbeat();
    live.worker.terminate();
    const message = `${capitalise(this.opts.name)} stopped: ${reason}. A fresh worker is being started; press Solve to try again.`;
    this.rejectAll(new WorkerLostError(message));
    this.opts.onStatus?.({ type: 'lost', reason: message });
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    if (this.restarts.length >= (this.opts.maxRestartsPerMinute ?? 3)) {
      this.opts.onStatus?.({ type: 'failed', message: `${capitalise(this.opts.name)} keeps stopping; it was not restarted again. Reload the page or choose another model.` });
      return;
    }
    this.restarts.push(now);
    this.ready().catch(() => {}); // failures are reported through onStatus
  }

  private rejectAll(err: Error): void {
    for (const reject of this.pending.values()) reject(err);
    this.pending.clear();
    this.texts.clear();
  }

  private startHeartbeat(live: Live): void {
    this.stopHeartbeat();
    const every = this.opts.heartbeatMs ?? 5000;
    const timeout = this.opts.heartbeatTimeoutMs ?? 60_000;
    let waitingSince: number | null = null;
    this.heartbeat = setInterval(() => {
      if (live.dead) return this.stopHeartbeat();
      if (waitingSince !== null) {
        if (Date.now() - waitingSince > timeout) this.lose(live, `it stopped answering for ${Math.round(timeout / 1000)} s`);
        return;
      }
      waitingSince = Date.now();
      live.api.ping().then(
        () => (waitingSince = null),
        () => {},
      );
    }, every);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// The worker side of a model worker: loads one backend and serves its calls over comlink.
// AbortSignal cannot cross postMessage, so every call carries an id and `cancel(id)` aborts the
// controller the worker made for it. Streaming text and load progress go back through one listener
// the page registers once, tagged with the call id, instead of one proxied callback per call.

import * as Comlink from 'comlink';
import { ModelLoadError } from '../core/errors.ts';
import type { ScoreRequest, StepModel, StepRequest, StepResult, StepScorer } from '../core/types.ts';
import type { TokenProbe } from './self-check.ts';

/** A StepRequest without what cannot be cloned (signal, callbacks). */
export type PlainStepRequest = Omit<StepRequest, 'signal' | 'onText' | 'beforeSend'>;
export type PlainScoreRequest = Omit<ScoreRequest, 'signal' | 'beforeSend'>;

export interface LoadProgress {
  /** File being fetched, when known. */
  file?: string;
  loaded: number;
  total: number;
  /** Free text from the library (e.g. "compiling shaders"). */
  text?: string;
}

export type HostEvent = { type: 'text'; id: number; delta: string } | { type: 'progress'; progress: LoadProgress };

/** What a loaded worker backend offers; a worker may hold a step model, a scorer, a probe or several. */
export interface WorkerBackend {
  model?: StepModel;
  scorer?: StepScorer;
  probe?: TokenProbe;
  /** A one-line description for the page ("tjs:…/lm on wasm, fp32"). */
  description: string;
  dispose(): Promise<void>;
}

export type BackendLoader<C> = (config: C, onProgress: (p: LoadProgress) => void) => Promise<WorkerBackend>;

export interface ModelWorkerApi<C> {
  listen(listener: (e: HostEvent) => void): void;
  load(config: C): Promise<{ description: string; model: boolean; scorer: boolean; probe: boolean }>;
  next(id: number, req: PlainStepRequest): Promise<StepResult>;
  score(id: number, req: PlainScoreRequest): Promise<number[]>;
  probe(id: number, prompt: string, candidates: string[]): Promise<number[]>;
  cancel(id: number): void;
  ping(): number;
  dispose(): Promise<void>;
}

export function createModelWorkerApi<C>(loadBackend: BackendLoader<C>): ModelWorkerApi<C> {
  let backend: WorkerBackend | null = null;
  let listener: ((e: HostEvent) => void) | null = null;
  const calls = new Map<number, AbortController>();
  let pings = 0;

  const need = <K extends 'model' | 'scorer' | 'probe'>(k: K): NonNullable<WorkerBackend[K]> => {
    const part = backend?.[k];
    if (!part) throw new ModelLoadError(backend ? `This worker's model has no ${k}.` : 'The model is not loaded yet: load it before solving.');
    return part as NonNullable<WorkerBackend[K]>;
  };
  const track = async <T>(id: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const ac = new AbortController();
    calls.set(id, ac);
    try {
      return await run(ac.signal);
    } finally {
      calls.delete(id);
    }
  };

  return {
    listen(l) {
      listener = l;
    },
    async load(config) {
      await backend?.dispose();
      backend = null;
      backend = await loadBackend(config, (progress) => listener?.({ type: 'progress', progress }));
      return { description: backend.description, model: !!backend.model, scorer: !!backend.scorer, probe: !!backend.probe };
    },
    next(id, req) {
      const model = need('model');
      return track(id, (signal) => model.next({ ...req, signal, onText: (delta) => listener?.({ type: 'text', id, delta }) }));
    },
    score(id, req) {
      const scorer = need('scorer');
      return track(id, (signal) => scorer.score({ ...req, signal }));
    },
    probe(id, prompt, candidates) {
      const probe = need('probe');
      return track(id, (signal) => probe.nextTokenProbabilities(prompt, candidates, signal));
    },
    cancel(id) {
      calls.get(id)?.abort();
    },
    ping() {
      return ++pings;
    },
    async dispose() {
      for (const ac of calls.values()) ac.abort();
      await backend?.dispose();
      backend = null;
    },
  };
}

/** Serves a backend from inside a worker (or on any comlink endpoint, for tests). */
export function serveModelWorker<C>(loadBackend: BackendLoader<C>, endpoint: Comlink.Endpoint = self as unknown as Comlink.Endpoint): void {
  Comlink.expose(createModelWorkerApi(loadBackend), endpoint);
}

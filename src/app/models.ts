// The page's local models: which workers run, with which model, and reuse across solves. A model is
// loaded once and kept while the settings name the same one; a crashed worker is restarted by its
// client. transformers.js models run in workers/lm.worker.ts and workers/prm.worker.ts, WebLLM in
// workers/webllm.worker.ts.

import { AbortedError, ConfigError } from '../core/errors.ts';
import type { StepModel, StepScorer } from '../core/types.ts';
import { selfCheckScorer } from '../backends/self-check.ts';
import { connectWebLlm, webllmProbe, webllmStepModel, type WebLlmEngine } from '../backends/webllm.ts';
import { WorkerClient, type WorkerStatus } from '../backends/worker-client.ts';
import { tjsDevice, type Capabilities } from './capabilities.ts';
import { folderFacts, judgeFit } from './model-fit.ts';
import type { PrmHead } from '../backends/prm-layout.ts';
import type { Settings } from './settings.ts';

export type ModelRole = 'weak' | 'prm' | 'strong';

/** What a transformers.js worker is asked to load (URLs absolute: workers resolve against their own URL). */
export interface TjsWorkerConfig {
  url: string;
  device: 'webgpu' | 'wasm';
  /** Self-hosted ONNX Runtime files. */
  ort: { wasm: string; mjs: string };
  /** PRM only. */
  head?: PrmHead;
}

export interface PreparedModels {
  weak: StepModel;
  prm?: StepScorer;
  /** A strong model on this device, when the settings name one (otherwise the remote model is used). */
  strong?: StepModel;
}

interface Held<T> {
  key: string;
  value: T;
  dispose(): Promise<void>;
}

const WORKER_NAMES: Record<ModelRole, string> = { weak: 'the small model', prm: 'the PRM', strong: 'the strong model' };

export class ModelManager {
  private readonly workers = new Map<ModelRole, Held<WorkerClient<TjsWorkerConfig>>>();
  private webllm: Held<WebLlmEngine & { unload(): Promise<void> }> | null = null;
  private readonly fitChecked = new Set<string>();

  constructor(
    private readonly caps: Capabilities,
    /** The page's base URL: model URLs and ./ort/ are resolved against it. */
    private readonly base: string,
    private readonly onStatus: (role: ModelRole, s: WorkerStatus) => void,
  ) {}

  /** Loads (or reuses) the models the settings name; Stop (the signal) abandons the wait. */
  async prepare(s: Settings, signal: AbortSignal): Promise<PreparedModels> {
    return abortable(this.load(s), signal);
  }

  /**
   * Only what scoring needs (checking a student's work): the PRM's worker, or the small model's for
   * self-check. The other models are neither loaded nor unloaded.
   */
  async preparePrm(s: Settings, signal: AbortSignal): Promise<StepScorer | undefined> {
    if (s.prm.kind !== 'tjs') return s.prm.kind === 'self' ? (await this.prepare(s, signal)).prm : undefined;
    const { url, head } = s.prm;
    const device = tjsDevice(s.device, this.caps);
    const client = this.tjsWorker('prm', { url: this.abs(url), device, ort: this.ort(), head });
    return (await abortable(client, signal)).scorer(`tjs:${url}#${head}`);
  }

  /**
   * Check my work's other checker: the strong model on this device read as an lm-likelihood checker
   * (workers/lm.worker.ts). It is the same worker as the strong model's, so showing a corrected step
   * afterwards loads nothing more.
   */
  async prepareLmChecker(s: Settings, signal: AbortSignal): Promise<StepScorer> {
    const url = s.strongLocal;
    if (!url) throw new ConfigError('The strong-model checker needs a strong model on this device: set one under Settings → Remote model, or choose the PRM as the checker.');
    const device = tjsDevice(s.device, this.caps);
    await abortable(this.checkFit([{ role: 'strong', url }], device), signal);
    const client = this.tjsWorker('strong', { url: this.abs(url), device, ort: this.ort() });
    return (await abortable(client, signal)).scorer(`lm-likelihood:${url}`);
  }

  private ort(): TjsWorkerConfig['ort'] {
    return { wasm: this.abs('./ort/ort-wasm-simd-threaded.asyncify.wasm'), mjs: this.abs('./ort/ort-wasm-simd-threaded.asyncify.mjs') };
  }

  private async load(s: Settings): Promise<PreparedModels> {
    const device = tjsDevice(s.device, this.caps);
    const ort = this.ort();
    let weak: StepModel;
    let selfProbe: () => StepScorer;
    const w = s.weak;
    // Every folder is judged before any of them is downloaded: a PRM that cannot fit should not cost
    // the user the small model's download first.
    await this.checkFit([
      ...(w.kind === 'tjs' ? [{ role: 'weak' as const, url: w.url }] : []),
      ...(s.strongLocal ? [{ role: 'strong' as const, url: s.strongLocal }] : []),
      ...(s.prm.kind === 'tjs' ? [{ role: 'prm' as const, url: s.prm.url }] : []),
    ], device);
    if (w.kind === 'tjs') {
      const client = await this.tjsWorker('weak', { url: this.abs(w.url), device, ort });
      weak = client.stepModel(`tjs:${w.url}`);
      selfProbe = () => selfCheckScorer(client.probe(`tjs:${w.url}`));
    } else {
      const engine = await this.webllmEngine(w.model);
      weak = webllmStepModel(engine, w.model);
      selfProbe = () => selfCheckScorer(webllmProbe(engine, w.model));
    }
    const out: PreparedModels = { weak };
    if (s.strongLocal) out.strong = (await this.tjsWorker('strong', { url: this.abs(s.strongLocal), device, ort })).stepModel(`tjs:${s.strongLocal}`);
    if (s.prm.kind === 'self') out.prm = selfProbe();
    else if (s.prm.kind === 'tjs') out.prm = (await this.tjsWorker('prm', { url: this.abs(s.prm.url), device, ort, head: s.prm.head })).scorer(`tjs:${s.prm.url}#${s.prm.head}`);
    return out;
  }

  /** Refuses, before any download, a model that cannot run here; warnings go to the role's status line. */
  private async checkFit(models: { role: ModelRole; url: string }[], device: 'webgpu' | 'wasm'): Promise<void> {
    const key = (m: { url: string }) => `${this.abs(m.url)} ${device}`;
    const pending = models.filter((m) => !this.fitChecked.has(key(m)));
    if (pending.length === 0) return;
    const estimate = await navigator.storage?.estimate?.().catch(() => null);
    const free = estimate?.quota !== undefined ? estimate.quota - (estimate.usage ?? 0) : null;
    for (const m of pending) {
      let facts;
      try {
        facts = await folderFacts(this.abs(m.url), m.url);
      } catch {
        continue; // the worker's own load reports an unreachable folder, with its own advice
      }
      const verdict = judgeFit(facts, device, this.caps, free);
      if (verdict.refuse) throw new ConfigError(verdict.refuse);
      for (const text of verdict.warnings) this.onStatus(m.role, { type: 'progress', progress: { loaded: 0, total: 0, text } });
      this.fitChecked.add(key(m));
    }
  }

  private async tjsWorker(role: ModelRole, config: TjsWorkerConfig): Promise<WorkerClient<TjsWorkerConfig>> {
    const key = JSON.stringify(config);
    const slot = this.workers.get(role);
    if (slot?.key === key) {
      await slot.value.ready();
      return slot.value;
    }
    await slot?.dispose();
    // Vite bundles each worker from these literal URLs; they must stay written out in full.
    const create =
      role === 'prm'
        ? () => new Worker(new URL('../../workers/prm.worker.ts', import.meta.url), { type: 'module', name: 'PRM' })
        : () => new Worker(new URL('../../workers/lm.worker.ts', import.meta.url), { type: 'module', name: role === 'weak' ? 'small model' : 'strong model' });
    const client = new WorkerClient<TjsWorkerConfig>({ name: WORKER_NAMES[role], create, config, onStatus: (st) => this.onStatus(role, st) });
    this.workers.set(role, { key, value: client, dispose: () => client.dispose() });
    await client.ready();
    return client;
  }

  private async webllmEngine(modelId: string): Promise<WebLlmEngine> {
    if (this.webllm?.key === modelId) return this.webllm.value;
    if (!this.caps.webgpu.available)
      throw new ConfigError(
        `WebLLM models need WebGPU, and ${this.caps.webgpu.reason}. Choose the offline demo or a transformers.js model (they run on WebAssembly), or the policy strong-only to use the remote model alone.`,
      );
    await this.webllm?.dispose();
    this.webllm = null;
    this.onStatus('weak', { type: 'loading' });
    const worker = new Worker(new URL('../../workers/webllm.worker.ts', import.meta.url), { type: 'module', name: 'WebLLM' });
    // WebLLM's own handler owns the worker's messages; a crash still surfaces as an error event.
    worker.addEventListener('error', (e) => {
      if (this.webllm?.key !== modelId) return;
      this.webllm = null;
      worker.terminate();
      this.onStatus('weak', { type: 'lost', reason: `The WebLLM worker crashed (${e.message || 'no details'}). It will be restarted on the next solve.` });
    });
    try {
      const engine = await connectWebLlm(worker, modelId, (p) =>
        this.onStatus('weak', { type: 'progress', progress: { loaded: p.progress, total: 1, text: p.text } }),
      );
      this.webllm = { key: modelId, value: engine, dispose: async () => (await engine.unload().catch(() => {}), worker.terminate()) };
      this.onStatus('weak', { type: 'ready', description: `${modelId} (WebLLM, WebGPU)` });
      return engine;
    } catch (err) {
      worker.terminate();
      this.onStatus('weak', { type: 'failed', message: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }

  /** Unloads every model; the next solve loads them again (from the browser cache if it is still there). */
  async unloadAll(): Promise<void> {
    const held = [...this.workers.values(), this.webllm];
    this.workers.clear();
    this.webllm = null;
    await Promise.all(held.map((x) => x?.dispose().catch(() => {})));
  }

  private abs(url: string): string {
    return new URL(url.endsWith('/') ? url : url + '/', this.base).href.replace(/\/$/, '');
  }
}

/** Cache Storage and IndexedDB entries that hold model files (transformers.js, WebLLM, runtime-cached files). */
const MODEL_CACHE = /^(transformers-cache|webllm|trim-runtime)/;

/** Deletes downloaded models; the app shell stays cached so the page still opens offline. */
export async function clearModelCaches(): Promise<string[]> {
  const cleared: string[] = [];
  if (typeof caches !== 'undefined') {
    for (const name of await caches.keys()) if (MODEL_CACHE.test(name) && (await caches.delete(name))) cleared.push(name);
  }
  const dbs = (await indexedDB.databases?.()) ?? [];
  for (const db of dbs) {
    if (!db.name || !MODEL_CACHE.test(db.name)) continue;
    await new Promise<void>((ok) => {
      const r = indexedDB.deleteDatabase(db.name!);
      r.onsuccess = r.onerror = r.onblocked = () => ok();
    });
    cleared.push(db.name);
  }
  return cleared;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortedError());
  return new Promise<T>((ok, fail) => {
    const onAbort = () => fail(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(ok, fail).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

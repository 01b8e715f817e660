// Benchmark page: the page's own model workers (workers/lm.worker.ts, workers/prm.worker.ts, the same
// WorkerClient and config the app's ModelManager uses, browser cache on) run the shared workload.
import type { TjsWorkerConfig } from '../../../src/app/models.ts';
import { WorkerClient } from '../../../src/backends/worker-client.ts';
import { decodeMsPerToken, incrementalScoring, PRM_POINTS, shapeProbe, type PointTimes, type ProbeTimes } from './workload.ts';

export interface BenchAsk {
  kind: 'lm' | 'prm';
  url: string;
  device: 'webgpu' | 'wasm';
  /** Load only (the second load, from the cache). */
  loadOnly?: boolean;
  points?: number[];
  /** Tokens sampled for the decode timing (default DECODE_TOKENS). */
  decodeTokens?: number;
  /** After the PRM curve: step n+1 at a new shape, then twice at the same shape (see shapeProbe). */
  shapeProbe?: boolean;
}

export interface BenchAnswer {
  loadMs: number;
  /** performance.memory of the page (Chromium): the page's own heap, not the worker's. */
  pageHeapMB: number | null;
  decode?: Awaited<ReturnType<typeof decodeMsPerToken>>;
  incremental?: PointTimes;
  probe?: ProbeTimes;
  description: string;
  /** Model files in Cache Storage after the load. */
  cachedFiles: number;
}

export type BenchProgress = { loadMs: number } | { step: number; ms: number; cpuMs?: number };

declare global {
  interface Window {
    bench(ask: BenchAsk): Promise<BenchAnswer>;
    /** Set by the benchmark (page.exposeFunction): CPU milliseconds used so far by Chromium's processes. */
    chromiumCpuMs?: () => Promise<number>;
    /** Set by the benchmark: hears the load and each scoring call as they end. */
    benchProgress?: (event: BenchProgress) => Promise<void>;
  }
}

const abs = (u: string) => new URL(u, location.href).href;

window.bench = async (ask) => {
  const config: TjsWorkerConfig = {
    url: abs(ask.url),
    device: ask.device,
    ort: { wasm: abs('./ort/ort-wasm-simd-threaded.asyncify.wasm'), mjs: abs('./ort/ort-wasm-simd-threaded.asyncify.mjs') },
    ...(ask.kind === 'prm' ? { head: 'value' as const } : {}),
  };
  let description = '';
  let failed = '';
  // Vite bundles each worker from these literal URLs, as in src/app/models.ts.
  const create =
    ask.kind === 'prm'
      ? () => new Worker(new URL('../../../workers/prm.worker.ts', import.meta.url), { type: 'module', name: 'PRM' })
      : () => new Worker(new URL('../../../workers/lm.worker.ts', import.meta.url), { type: 'module', name: 'small model' });
  const client = new WorkerClient<TjsWorkerConfig>({
    name: ask.kind === 'prm' ? 'the PRM' : 'the small model',
    create,
    config,
    // One forward pass of a 1.5B model on SwiftShader is far longer than the page's default heartbeat.
    heartbeatTimeoutMs: 30 * 60_000,
    onStatus: (s) => {
      if (s.type === 'ready') description = s.description;
      if (s.type === 'failed' || s.type === 'lost') failed = 'message' in s ? s.message : s.reason;
    },
  });
  try {
    const t0 = performance.now();
    await client.ready().catch((err: unknown) => {
      throw new Error(failed || String(err));
    });
    const out: BenchAnswer = { loadMs: performance.now() - t0, pageHeapMB: heapMB(), description, cachedFiles: await cachedFiles() };
    await window.benchProgress?.({ loadMs: out.loadMs });
    if (ask.loadOnly) return out;
    if (ask.kind === 'lm') out.decode = await decodeMsPerToken(client.stepModel('bench') as never, ask.decodeTokens);
    else {
      const onStep = (step: number, ms: number, cpuMs?: number) => window.benchProgress?.({ step, ms, ...(cpuMs !== undefined ? { cpuMs } : {}) });
      const scorer = client.scorer('bench');
      out.incremental = await incrementalScoring(scorer, ask.points, window.chromiumCpuMs, onStep);
      if (ask.shapeProbe) out.probe = await shapeProbe(scorer, Math.max(...(ask.points ?? PRM_POINTS)), window.chromiumCpuMs);
    }
    out.pageHeapMB = heapMB();
    return out;
  } finally {
    await client.dispose();
  }
};

function heapMB(): number | null {
  const m = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
  return m ? Math.round(m.usedJSHeapSize / 2 ** 20) : null;
}

async function cachedFiles(): Promise<number> {
  if (!(await caches.has('transformers-cache'))) return 0;
  return (await (await caches.open('transformers-cache')).keys()).length;
}

document.body.dataset.ready = 'true';

import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerClient, WorkerLostError, type WorkerLike, type WorkerStatus } from '../src/backends/worker-client.ts';
import { serveModelWorker, type WorkerBackend } from '../src/backends/worker-host.ts';
import { AbortedError } from '../src/core/errors.ts';
import type { StepRequest } from '../src/core/types.ts';

// Real comlink over a real MessageChannel; the model inside is scripted (the real transformers.js
// backends run in these workers in the browser tests).
interface Script {
  next?: (r: StepRequest) => Promise<string>;
}

function fakeWorker(script: Script, log: { aborted: number }) {
  const { port1, port2 } = new MessageChannel();
  let frozen = false;
  serveModelWorker(
    async (_config, onProgress): Promise<WorkerBackend> => {
      onProgress({ file: 'model.onnx', loaded: 5, total: 10 });
      return {
        description: 'scripted',
        model: {
          id: 'm',
          where: 'device',
          async next(r) {
            r.signal?.addEventListener('abort', () => log.aborted++);
            r.onText?.('he');
            r.onText?.('llo');
            const text = script.next ? await script.next(r) : 'hello';
            return { text, finish: 'step', promptTokens: 3, completionTokens: 2, confidence: 0.375 };
          },
        },
        scorer: { id: 's', where: 'device', score: async (r) => r.steps.map((_, i) => i / 10) },
        dispose: async () => {},
      };
    },
    port2 as unknown as Parameters<typeof serveModelWorker>[1],
  );
  const listeners: { type: string; fn: (e: Event) => void }[] = [];
  const worker: WorkerLike & { crash(msg: string): void; freeze(): void; terminated: boolean } = {
    terminated: false,
    postMessage: (m: unknown, t?: Transferable[]) => {
      if (!frozen) (port1 as MessagePort).postMessage(m, t as never);
    },
    addEventListener: (type: string, fn: EventListenerOrEventListenerObject) => {
      const f = typeof fn === 'function' ? fn : (e: Event) => fn.handleEvent(e);
      listeners.push({ type, fn: f });
      if (type === 'message') (port1 as unknown as EventTarget).addEventListener('message', f);
    },
    removeEventListener: (type: string, fn: EventListenerOrEventListenerObject) => {
      if (type === 'message') (port1 as unknown as EventTarget).removeEventListener('message', fn);
    },
    start: () => port1.start(),
    terminate() {
      this.terminated = true;
      port1.close();
      port2.close();
    },
    crash(msg: string) {
      for (const l of listeners.filter((l) => l.type === 'error')) l.fn(Object.assign(new Event('error'), { message: msg }));
    },
    freeze() {
      frozen = true;
    },
  };
  return worker;
}

const clients: WorkerClient<unknown>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});

function setup(script: Script = {}, opts: Partial<ConstructorParameters<typeof WorkerClient>[0]> = {}) {
  const log = { aborted: 0 };
  const workers: ReturnType<typeof fakeWorker>[] = [];
  const statuses: WorkerStatus[] = [];
  const client = new WorkerClient({
    name: 'the small model',
    config: {},
    create: () => {
      const w = fakeWorker(script, log);
      workers.push(w);
      return w;
    },
    onStatus: (s) => statuses.push(s),
    ...opts,
  });
  clients.push(client);
  return { client, log, workers, statuses };
}

const req = { problem: 'P', steps: [], maxTokens: 5 };

describe('model worker client', () => {
  it('loads with progress, streams text and returns results', async () => {
    const { client, statuses } = setup();
    const deltas: string[] = [];
    const r = await client.stepModel('m').next({ ...req, onText: (d) => deltas.push(d) });
    // The drafter's confidence crosses the worker boundary with the rest of the result.
    expect(r).toMatchObject({ text: 'hello', finish: 'step', confidence: 0.375 });
    expect(deltas).toEqual(['he', 'llo']);
    expect(await client.scorer('s').score({ problem: 'P', steps: ['a', 'b'] })).toEqual([0, 0.1]);
    expect(statuses.map((s) => s.type)).toEqual(['loading', 'progress', 'ready']);
  });

  it('Stop rejects at once and aborts the call inside the worker', async () => {
    const { client, log } = setup({ next: (r) => new Promise((resolve) => r.signal!.addEventListener('abort', () => resolve('late'))) });
    const ac = new AbortController();
    const p = client.stepModel('m').next({ ...req, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await new Promise((r) => setTimeout(r, 50));
    expect(log.aborted).toBe(1);
  });

  it('replaces a worker that ignores Stop', async () => {
    const { client, workers, statuses } = setup({ next: () => new Promise(() => {}) }, { cancelGraceMs: 100 });
    const ac = new AbortController();
    const p = client.stepModel('m').next({ ...req, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await expect.poll(() => workers.length).toBe(2);
    expect(workers[0]!.terminated).toBe(true);
    expect(statuses.find((s) => s.type === 'lost')).toMatchObject({ reason: expect.stringMatching(/did not stop within 0.1 s of Stop/) });
  });

  it('detects a crash, fails the call in flight with a clear error, and restarts', async () => {
    let first = true;
    const { client, workers, statuses } = setup({
      next: () => (first ? ((first = false), new Promise(() => {})) : Promise.resolve('again')),
    });
    const p = client.stepModel('m').next(req);
    await expect.poll(() => workers.length).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    workers[0]!.crash('RuntimeError: memory access out of bounds');
    await expect(p).rejects.toThrow(WorkerLostError);
    await expect(p).rejects.toThrow(/The small model stopped: it crashed \(RuntimeError: memory access out of bounds\)\. A fresh worker/);
    await expect.poll(() => statuses.filter((s) => s.type === 'ready').length).toBe(2);
    expect((await client.stepModel('m').next(req)).text).toBe('again');
  });

  it('detects a worker that stops answering (heartbeat)', async () => {
    const { client, workers, statuses } = setup({}, { heartbeatMs: 20, heartbeatTimeoutMs: 100 });
    await client.ready();
    workers[0]!.freeze();
    await expect.poll(() => statuses.some((s) => s.type === 'lost'), { timeout: 2000 }).toBe(true);
    expect(statuses.find((s) => s.type === 'lost')).toMatchObject({ reason: expect.stringMatching(/stopped answering/) });
    await expect.poll(() => workers.length).toBe(2);
  });

  it('gives up restarting a worker that keeps crashing', async () => {
    const { client, workers, statuses } = setup({}, { maxRestartsPerMinute: 2 });
    for (let i = 0; i < 3; i++) {
      await client.ready();
      workers[i]!.crash('boom');
      await expect.poll(() => workers.length).toBe(Math.min(i + 2, 3));
    }
    expect(statuses.at(-1)).toMatchObject({ type: 'failed', message: expect.stringMatching(/keeps stopping/) });
  });
});

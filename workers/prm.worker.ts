// The process reward model (transformers.js, incremental scoring) in its own worker, over comlink.
import type { TjsWorkerConfig } from '../src/app/models.ts';
import { tjsPrm } from '../src/backends/tjs-prm.ts';
import { loadTjs } from '../src/backends/tjs-runtime.ts';
import { serveModelWorker } from '../src/backends/worker-host.ts';
import { setUpTjs, yieldBeforeForward } from './tjs-setup.ts';

serveModelWorker<TjsWorkerConfig>(async (c, onProgress) => {
  setUpTjs(c);
  const loaded = yieldBeforeForward(await loadTjs({ model: c.url, device: c.device, onProgress }));
  try {
    const prm = await tjsPrm(loaded, { head: c.head });
    return { scorer: prm, description: prm.description, dispose: () => prm.dispose() };
  } catch (err) {
    await loaded.model.dispose();
    throw err;
  }
});

// The small model (transformers.js) in its own worker, served over comlink. It is also the self-check
// PRM's probe: the same loaded model answers "is this step correct?" without a second download.
import type { TjsWorkerConfig } from '../src/app/models.ts';
import { tjsStepModel } from '../src/backends/tjs-lm.ts';
import { loadTjs } from '../src/backends/tjs-runtime.ts';
import { serveModelWorker } from '../src/backends/worker-host.ts';
import { setUpTjs, yieldBeforeForward } from './tjs-setup.ts';

serveModelWorker<TjsWorkerConfig>(async (c, onProgress) => {
  setUpTjs(c);
  const model = tjsStepModel(yieldBeforeForward(await loadTjs({ model: c.url, device: c.device, onProgress })));
  return { model, probe: model, description: model.description, dispose: () => model.dispose() };
});

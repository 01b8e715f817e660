// The small model (transformers.js) in its own worker, served over comlink. It is also the self-check
// PRM's probe: the same loaded model answers "is this step correct?" without a second download. As the
// strong model on the device it is also Check my work's lm-likelihood checker, on the same loaded model.
import type { TjsWorkerConfig } from '../src/app/models.ts';
import { lmLikelihoodScorer } from '../src/backends/lm-likelihood.ts';
import { tjsStepModel } from '../src/backends/tjs-lm.ts';
import { loadTjs } from '../src/backends/tjs-runtime.ts';
import { serveModelWorker } from '../src/backends/worker-host.ts';
import { setUpTjs, yieldBeforeForward } from './tjs-setup.ts';

serveModelWorker<TjsWorkerConfig>(async (c, onProgress) => {
  setUpTjs(c);
  const loaded = yieldBeforeForward(await loadTjs({ model: c.url, device: c.device, onProgress }));
  const model = tjsStepModel(loaded);
  // Its own KV cache; the model (and its ONNX session) belongs to the step model, which disposes it.
  const scorer = lmLikelihoodScorer(loaded, { sharedModel: true });
  return {
    model,
    probe: model,
    scorer,
    description: model.description,
    dispose: async () => {
      await scorer.dispose();
      await model.dispose();
    },
  };
});

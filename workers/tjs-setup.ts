// What both transformers.js workers share: self-hosted ONNX Runtime, and a forward pass that lets Stop in.
import type { TjsWorkerConfig } from '../src/app/models.ts';
import { configureTjsRuntime, type TjsLoaded } from '../src/backends/tjs-runtime.ts';

export function setUpTjs(c: TjsWorkerConfig): void {
  // transformers.js keeps fetched model files and the wasm in Cache Storage ("transformers-cache"),
  // which is what lets cached models load offline and what "Clear model cache" deletes.
  configureTjsRuntime({ wasmPaths: c.ort, browserCache: true });
}

/** Resolves after the tasks already queued (a cancel message among them) have run; no timer clamping. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/**
 * On WASM a forward pass resolves without ever returning to the worker's task queue, so a decode loop
 * would not see the page's cancel message until it finished on its own. Yielding one task before each
 * forward pass lets the cancel in, and the loop stops at the next token.
 */
export function yieldBeforeForward(loaded: TjsLoaded): TjsLoaded {
  const model = loaded.model as unknown as { forward(inputs: unknown): Promise<unknown> };
  const forward = model.forward.bind(model);
  model.forward = async (inputs) => {
    await nextTask();
    return forward(inputs);
  };
  return loaded;
}

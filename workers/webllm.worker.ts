// WebLLM's engine in its own dedicated worker. Its handler owns onmessage: the page talks to it only
// through WebLLM's WebWorkerMLCEngine (src/backends/webllm.ts), never through comlink.
import { WebWorkerMLCEngineHandler } from '@mlc-ai/web-llm';

const handler = new WebWorkerMLCEngineHandler();
self.onmessage = (msg: MessageEvent) => handler.onmessage(msg);

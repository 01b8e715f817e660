// The small model through WebLLM (WebGPU). Thin on purpose: WebLLM models cannot be fetched in our
// test environment, so all the logic that can be tested elsewhere lives outside this file.
//
// Exact continuation: a raw text completion of the chat template we render ourselves. WebLLM reports
// finish_reason "stop" both for end-of-sequence and for a stop string, and TRIM must tell them apart
// (a step ends the solution only at end-of-sequence), so no stop string is passed: the stream is watched
// for "\n\n" and generation interrupted there. Its stream is pulled chunk by chunk from the worker,
// so at most the delimiter's own token is decoded past the step.
//
// Confidence (StepResult.confidence): WebLLM 0.2.86 computes logprobs from the distribution it samples
// from, after temperature (and any repetition penalty or logit bias), and only when top_logprobs > 0
// (it then copies the whole distribution to the CPU every token). Only at temperature 1 is that the
// untempered distribution the confidence is defined on, so only then are logprobs asked for; at any
// other temperature the step has no confidence rather than a tempered one. Each streamed chunk carries
// the logprob of the last token decoded for it; a chunk WebLLM holds back (half a UTF-8 character) loses
// its token's logprob, so a step with such a character may report a slightly higher confidence.

import type { Completion, MLCEngineInterface } from '@mlc-ai/web-llm';
import { AbortedError, ModelLoadError } from '../core/errors.ts';
import { qwen25, renderContinuation, type ChatTemplate } from '../core/prompt.ts';
import { STEP_DELIMITER } from '../core/steps.ts';
import type { StepModel, StepRequest, StepResult } from '../core/types.ts';
import type { TokenProbe } from './self-check.ts';

/** The part of WebLLM's engine this adapter uses. */
export type WebLlmEngine = Pick<MLCEngineInterface, 'completions' | 'interruptGenerate'>;

/** The GPU ran out of memory or the WebGPU device was lost: a smaller model is the fix. */
export class WebGpuMemoryError extends ModelLoadError {
  constructor(
    readonly modelId: string,
    detail: string,
  ) {
    super(
      `The GPU ran out of memory or was lost while running ${modelId} (${detail}). Load a smaller model, close other GPU-heavy tabs, or use the remote model only.`,
    );
  }
}

const GPU_LOSS = /device (was )?lost|DeviceLostError|out of memory|\bOOM\b|GPUOutOfMemoryError|allocation failed|Failed to allocate/i;

/** Turns WebLLM's failures into errors that say what to do. */
export function classifyWebLlmError(err: unknown, modelId: string): Error {
  if (err instanceof AbortedError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (GPU_LOSS.test(msg) || (err instanceof Error && GPU_LOSS.test(err.name))) return new WebGpuMemoryError(modelId, msg.split('\n')[0]!.slice(0, 200));
  return new ModelLoadError(`WebLLM failed running ${modelId}: ${msg.split('\n')[0]!.slice(0, 300)}`);
}

export function webllmStepModel(engine: WebLlmEngine, modelId: string, template: ChatTemplate = qwen25): StepModel {
  return {
    id: `webllm:${modelId}`,
    where: 'device',
    async next(r: StepRequest): Promise<StepResult> {
      if (r.signal?.aborted) throw new AbortedError();
      const interrupt = () => engine.interruptGenerate();
      r.signal?.addEventListener('abort', interrupt, { once: true });
      try {
        const stream = await engine.completions.create({
          prompt: renderContinuation(template, r.problem, r.steps, r.partial ?? ''),
          max_tokens: r.maxTokens,
          temperature: r.sampling?.temperature,
          top_p: r.sampling?.topP,
          seed: r.sampling?.seed,
          stream: true,
          stream_options: { include_usage: true },
          ...(r.sampling?.temperature === 1 ? { logprobs: true, top_logprobs: 1 } : {}),
        });
        return await readStep(stream, engine, r);
      } catch (err) {
        if (r.signal?.aborted) throw new AbortedError();
        throw classifyWebLlmError(err, modelId);
      } finally {
        r.signal?.removeEventListener('abort', interrupt);
      }
    },
  };
}

async function readStep(stream: AsyncIterable<Completion>, engine: WebLlmEngine, r: StepRequest): Promise<StepResult> {
  let text = '';
  let cut = false;
  let reason: string | null = null;
  let chunks = 0;
  let usage: Completion['usage'] | undefined;
  // Each text chunk's start in the generated text and its token's logprob, for the confidence.
  const spans: { start: number; logprob: number | undefined }[] = [];
  let generated = 0;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.finish_reason) reason = choice.finish_reason;
    if (cut || !choice.text) continue;
    chunks++;
    spans.push({ start: generated, logprob: chunkLogprob(choice.logprobs) });
    generated += choice.text.length;
    const at = (text + choice.text).indexOf(STEP_DELIMITER);
    if (at < 0) {
      text += choice.text;
      r.onText?.(choice.text);
      continue;
    }
    const delta = (text + choice.text).slice(text.length, Math.max(text.length, at));
    text = (text + choice.text).slice(0, at);
    if (delta) r.onText?.(delta);
    cut = true;
    engine.interruptGenerate();
  }
  if (r.signal?.aborted || (!cut && reason === 'abort')) throw new AbortedError();
  return {
    text,
    finish: cut ? 'step' : reason === 'length' ? 'length' : 'end',
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? chunks,
    ...(usage ? {} : { estimated: true }),
    ...stepConfidence(spans, text.length),
  };
}

/**
 * StepResult.confidence from the chunks that wrote some of the step's text (those starting before its
 * end; a chunk of the delimiter alone does not count): none unless every one of them carried a logprob.
 */
function stepConfidence(spans: readonly { start: number; logprob: number | undefined }[], end: number): { confidence?: number } {
  const inStep = spans.filter((c) => c.start < end);
  if (inStep.length === 0 || inStep.some((c) => c.logprob === undefined)) return {};
  return { confidence: Math.exp(Math.min(0, ...inStep.map((c) => c.logprob!))) };
}

/** The logprob of a streamed chunk's token (WebLLM sends the last decoded one), or undefined without one. */
function chunkLogprob(lp: unknown): number | undefined {
  const content = (lp as { content?: unknown } | null | undefined)?.content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  let min = 0;
  for (const t of content) {
    const v = (t as { logprob?: unknown } | null)?.logprob;
    if (typeof v !== 'number' || Number.isNaN(v)) return undefined;
    min = Math.min(min, v);
  }
  return min;
}

/** Next-token probabilities from WebLLM's top logprobs (it returns at most 5, so rare answers count 0). */
export function webllmProbe(engine: WebLlmEngine, modelId: string): TokenProbe {
  return {
    id: `webllm:${modelId}`,
    where: 'device',
    async nextTokenProbabilities(prompt, candidates, signal) {
      if (signal?.aborted) throw new AbortedError();
      try {
        const res = await engine.completions.create({ prompt, max_tokens: 1, temperature: 1, top_p: 1, logprobs: true, top_logprobs: 5, stream: false });
        const top = res.choices[0]?.logprobs?.content?.[0]?.top_logprobs ?? [];
        return candidates.map((c) => top.filter((t) => t.token === c).reduce((p, t) => p + Math.exp(t.logprob), 0));
      } catch (err) {
        throw classifyWebLlmError(err, modelId);
      }
    },
  };
}

export interface WebLlmProgress {
  /** 0..1 */
  progress: number;
  text: string;
}

/**
 * Loads `modelId` in a worker that runs WebLLM's own handler (see workers/webllm.worker.ts). WebLLM is
 * imported here lazily so the page's first load does not carry it.
 */
export async function connectWebLlm(worker: Worker, modelId: string, onProgress: (p: WebLlmProgress) => void): Promise<WebLlmEngine & { unload(): Promise<void> }> {
  const { CreateWebWorkerMLCEngine } = await import('@mlc-ai/web-llm');
  try {
    return await CreateWebWorkerMLCEngine(worker, modelId, { initProgressCallback: (r) => onProgress({ progress: r.progress, text: r.text }) });
  } catch (err) {
    throw classifyWebLlmError(err, modelId);
  }
}

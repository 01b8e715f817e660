// One script of model calls, run by Node (device cpu, folder paths) and by the browser page (webgpu or
// wasm, folder URLs) through the same backends, so the two results can be compared number for number.
// It stays small: SwiftShader runs WebGPU correctly but slowly.

import { loadTjsStepModel } from '../../src/backends/tjs-lm.ts';
import { loadTjsPrm } from '../../src/backends/tjs-prm.ts';
import type { PrmHead } from '../../src/backends/prm-layout.ts';
import type { TjsDevice } from '../../src/backends/tjs-options.ts';

export interface TjsPlan {
  device: TjsDevice;
  /** Random-weight language model (also the lm-tag PRM). */
  lm: string;
  /** The scripted bigram model (test/helpers/scripted-lm.ts); skipped when absent. */
  scripted?: string;
  prms: { model: string; head: PrmHead }[];
}

export interface TjsPlanResult {
  /** The scripted model's steps: text, finish, and prompt tokens found in the KV cache. */
  scripted: { text: string; finish: string; cachedTokens: number }[];
  /** Whether the KV caches (step model, PRM) lived in GPU buffers. */
  kvOnGpu: boolean[];
  /** Seeded generations of the random model with the log-probability of each token. */
  lm: { text: string; logprobs: number[] }[];
  /** Next-token probabilities of a few candidates. */
  probe: number[];
  /** Per PRM head, the scores of each call of the sequence (incremental, with a regenerated step). */
  prm: Record<string, number[][]>;
}

const PROBLEM = 'Find x if 2x + 3 = 11.';
const STEPS = ['Subtract 3: 2x = 8.', 'Divide by 2: x = 4.', 'Check: 2*4 + 3 = 11.'];

/** Growth, a regenerated last step (the GPU cache's rollback to its mark), growth after it. */
export const SCORE_SEQUENCE: string[][] = [
  STEPS.slice(0, 1),
  STEPS.slice(0, 2),
  [STEPS[0]!, 'Divide both sides by 2 to get x = 4.'],
  [STEPS[0]!, 'Divide both sides by 2 to get x = 4.', STEPS[2]!],
  ['Another first step.', STEPS[1]!],
];

export async function runTjsPlan(plan: TjsPlan): Promise<TjsPlanResult> {
  const result: TjsPlanResult = { scripted: [], kvOnGpu: [], lm: [], probe: [], prm: {} };

  if (plan.scripted) {
    const scripted = await loadTjsStepModel({ model: plan.scripted, device: plan.device, dtype: 'fp32' });
    for (const r of [{ steps: [] }, { steps: ['x=1'] }, { steps: ['x=1', 'y+'], partial: 'z' }]) {
      const out = await scripted.next({ problem: PROBLEM, maxTokens: 10, sampling: { temperature: 0.7, seed: 1 }, ...r });
      result.scripted.push({ text: out.text, finish: out.finish, cachedTokens: scripted.lastReuse!.cachedTokens });
    }
    result.kvOnGpu.push(scripted.lastReuse!.kvOnGpu);
    await scripted.dispose();
  }

  const lm = await loadTjsStepModel({ model: plan.lm, device: plan.device, dtype: 'fp32' });
  for (const [i, steps] of [[], STEPS.slice(0, 1)].entries()) {
    const out = await lm.next({ problem: PROBLEM, steps, maxTokens: 6, sampling: { temperature: 1, topP: 1, topK: 0, seed: 40 + i } });
    result.lm.push({ text: out.text, logprobs: out.logprobs });
  }
  result.kvOnGpu.push(lm.lastReuse!.kvOnGpu);
  result.probe = await lm.nextTokenProbabilities('<|im_start|>user\nIs it right?<|im_end|>\n<|im_start|>assistant\n', ['Y', 'N', 'Yes', 'No']);
  await lm.dispose();

  for (const { model, head } of plan.prms) {
    const prm = await loadTjsPrm({ model, head, device: plan.device, dtype: 'fp32' });
    result.prm[head] = [];
    for (const steps of SCORE_SEQUENCE) result.prm[head].push(await prm.score({ problem: PROBLEM, steps }));
    result.kvOnGpu.push(prm.lastReuse!.kvOnGpu);
    await prm.dispose();
  }
  return result;
}

// npm run bench:overhead — the time TRIM's orchestration adds per step when the models answer instantly:
// the solve loop, the policy, request building, JSON/SSE parsing and the HTTP round trips on loopback.
// Prints the median (and p90) milliseconds per step for a few policies, over real local HTTP servers,
// and for the bare loop with in-process models (no network) as the floor.

import { openAIStepModel } from '../../src/backends/openai.ts';
import { vllmPrmScorer } from '../../src/backends/vllm-prm.ts';
import { parsePolicySpec } from '../../src/core/policies/index.ts';
import { solveToTrace, type SolveOptions } from '../../src/core/solve.ts';
import type { StepModel, StepScorer } from '../../src/core/types.ts';
import { continuedSteps, prmSteps, startOpenAIServer } from '../helpers/openai-server.ts';

const PROBLEMS = Number(process.env.BENCH_PROBLEMS ?? 20);
const STEPS = 10;
const PROBLEM = 'Let x be the sum of 1, 2 and 3. What is 2x?';

const weakText = (n: number) => (n % 3 === 1 ? `Shaky step ${n}: maybe x = ${n}.` : `Step ${n}: we compute ${n} + ${n} = ${2 * n}.`);
const strongText = (n: number) => `Careful step ${n}: ${n} * 2 = ${2 * n}.`;
const score = (s: string) => (s.startsWith('Shaky') ? 0.2 : 0.9);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!;
}

/** Per-step wall times of one solve, from the start event to each accepted step. */
async function stepTimes(opts: Omit<SolveOptions, 'policy'>, policy: string): Promise<number[]> {
  const times: number[] = [];
  let last = 0;
  await solveToTrace(PROBLEM, { ...opts, policy: parsePolicySpec(policy), limits: { maxSteps: STEPS } }, (e) => {
    const now = performance.now();
    if (e.type === 'start') last = now;
    if (e.type === 'step') {
      times.push(now - last);
      last = now;
    }
    if (e.type === 'error') throw e.error;
  });
  return times;
}

async function measure(label: string, opts: Omit<SolveOptions, 'policy'>, policies: string[]): Promise<void> {
  for (const policy of policies) {
    await stepTimes(opts, policy); // warm-up: JIT, sockets, module caches
    const all: number[] = [];
    for (let i = 0; i < PROBLEMS; i++) all.push(...(await stepTimes(opts, policy)));
    console.log(`${label.padEnd(22)} ${policy.padEnd(12)} median ${median(all).toFixed(2).padStart(6)} ms/step   p90 ${p90(all).toFixed(2).padStart(6)} ms/step   (${all.length} steps)`);
  }
}

const weak = await startOpenAIServer({ respond: (r) => ({ text: weakText(continuedSteps(r).length + 1) }) });
const strong = await startOpenAIServer({ respond: (r) => ({ text: strongText(continuedSteps(r).length + 1) }) });
const prm = await startOpenAIServer({ respond: (r) => ({ scores: prmSteps(r).map((s) => [1 - score(s), score(s)]) }) });

try {
  console.log(`Per-step orchestration overhead, instant models, ${PROBLEMS} problems x ${STEPS} steps per policy (Node ${process.version})`);
  const http: Omit<SolveOptions, 'policy'> = {
    weak: openAIStepModel({ baseUrl: weak.url, model: 'weak', mode: 'raw', where: 'device' }),
    strong: openAIStepModel({ baseUrl: strong.url, model: 'strong', mode: 'continue' }),
    prm: vllmPrmScorer({ baseUrl: prm.url, model: 'prm' }),
  };
  await measure('HTTP on 127.0.0.1', http, ['weak-only', 'thr:0.5', 'strong-only']);

  const local = (text: (n: number) => string): StepModel => ({
    id: 'local',
    where: 'device',
    next: async (r) => ({ text: text(r.steps.length + 1), finish: 'step', promptTokens: 10, completionTokens: 10 }),
  });
  const localPrm: StepScorer = { id: 'local-prm', where: 'device', score: async (r) => r.steps.map(score) };
  await measure('in-process (no HTTP)', { weak: local(weakText), strong: local(strongText), prm: localPrm }, ['weak-only', 'thr:0.5', 'strong-only']);
  console.log('thr:0.5 sends every third step to the strong model: draft + PRM + strong = 3 round trips for those steps, 2 for the others.');
} finally {
  await Promise.all([weak.close(), strong.close(), prm.close()]);
}

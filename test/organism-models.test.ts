// The trained organism models (public/models/organism, written by training/train.py through
// `trim convert`): transformers.js, through the project's own backends, reproduces the outputs torch
// computed on the same tokens, the prompts the project renders are the ones the models were trained
// on, and the models solve organism problems through the real paths: on the device, and as "remote"
// models behind `trim serve`.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvCache, type Forwarder } from '../src/backends/kv-cache.ts';
import { loadTjsStepModel } from '../src/backends/tjs-lm.ts';
import { loadTjsPrm, type TjsPrm } from '../src/backends/tjs-prm.ts';
import { encode, loadTjs, type TjsLoaded } from '../src/backends/tjs-runtime.ts';
import { parsePolicySpec } from '../src/core/policies/index.ts';
import { qwen25, renderContinuation } from '../src/core/prompt.ts';
import { solveToTrace } from '../src/core/solve.ts';
import { checkSolution } from '../src/organism/checker.ts';
import { createTrimServer, type TrimServer } from '../src/serve/server.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const MODELS = join(REPO_ROOT, 'public/models/organism');
const BIN = join(REPO_ROOT, 'src/cli/bin.mjs');

interface LmReference {
  text: string;
  ids: number[];
  positions: number[];
  logits: number[][];
}
interface Reference {
  problem: string;
  steps: string[];
  models: { weak: LmReference; strong: LmReference; prm: { ids: number[]; positions: number[]; values: number[]; steps: string[] } };
}
const ref = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/organism-reference.json'), 'utf8')) as Reference;
const TEST = readFileSync(join(REPO_ROOT, 'public/organism/test.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { id: string; problem: string; answer: string });

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('organism models match their torch originals', () => {
  it.each(['weak', 'strong'] as const)('%s: the project renders the training prompt, and transformers.js gives torch’s logits (1e-4)', async (name) => {
    const r = ref.models[name];
    const loaded = await loadTjs({ model: join(MODELS, name) }, 'causal-lm');
    try {
      const text = renderContinuation(qwen25, ref.problem, ref.steps);
      expect(text).toBe(r.text);
      expect(encode(loaded.tokenizer, text)).toEqual(r.ids);
      const rows = new Map<number, Float32Array>();
      const cache = new KvCache(loaded.model as unknown as Forwarder, { maxPositions: loaded.maxPositions, chunk: 64 });
      await cache.extend(r.ids, {
        read: (chunk, first) => {
          for (let j = 0; j < chunk.count; j++) rows.set(first + j, chunk.data.slice(j * chunk.width, (j + 1) * chunk.width));
        },
      });
      cache.dispose();
      let worst = 0;
      r.positions.forEach((p, i) => {
        const got = rows.get(p)!;
        expect(got.length).toBe(r.logits[i]!.length);
        r.logits[i]!.forEach((x, v) => (worst = Math.max(worst, Math.abs(x - got[v]!))));
      });
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await loaded.model.dispose();
    }
  });

  it('prm: the project’s value-head scorer lays out the tokens as trained and gives sigmoid(torch value) per step (1e-4)', async () => {
    const r = ref.models.prm;
    const prm = await loadTjsPrm({ model: join(MODELS, 'prm') });
    try {
      expect(prm.head).toBe('value');
      const scores = await prm.score({ problem: ref.problem, steps: r.steps });
      expect(prm.lastReuse?.tokens).toBe(r.ids.length);
      expect(scores).toHaveLength(r.values.length);
      scores.forEach((s, i) => expect(Math.abs(s - sigmoid(r.values[i]!))).toBeLessThan(1e-4));
    } finally {
      await prm.dispose();
    }
  });
});

describe('organism models at work', () => {
  let strong: TjsLoaded;
  let prm: TjsPrm;
  let server: TrimServer;
  let url: string;

  beforeAll(async () => {
    strong = await loadTjs({ model: join(MODELS, 'strong') }, 'causal-lm');
    prm = await loadTjsPrm({ model: join(MODELS, 'prm') });
    server = createTrimServer({ lm: { name: 'organism-strong', loaded: strong }, prm: { name: 'organism-prm', scorer: prm, separator: '<extra_0>' } });
    url = await server.listen(0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('the strong model behind trim serve solves test problems greedily, step by step', async () => {
    const problems = TEST.slice(0, 8);
    let correct = 0;
    for (const p of problems) {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ messages: [{ role: 'user', content: p.problem }], temperature: 0, max_tokens: 120 }),
      });
      const body = (await res.json()) as { choices: { message: { content: string }; finish_reason: string }[] };
      expect(body.choices[0]!.finish_reason).toBe('stop');
      const check = checkSolution(p.problem, body.choices[0]!.message.content.split('\n\n'));
      if (check.correct) correct++;
    }
    // A trained strong model; an untrained or mis-converted one gets almost none right.
    expect(correct).toBeGreaterThanOrEqual(7);
  });

  it('the PRM behind trim serve tells the weak model’s wrong steps from its right ones', async () => {
    // Real mistakes: the weak model's greedy solutions to test problems, labelled by the checker.
    const weak = await loadTjsStepModel({ model: join(MODELS, 'weak') });
    const right: number[] = [];
    const wrong: number[] = [];
    try {
      for (const p of TEST.slice(0, 40)) {
        const steps: string[] = [];
        for (let t = 0; t < 8; t++) {
          const r = await weak.next({ problem: p.problem, steps, maxTokens: 40, sampling: { temperature: 0 } });
          if (!r.text) break;
          steps.push(r.text);
          if (r.finish !== 'step' || r.text.includes('\\boxed{')) break;
        }
        const labels = checkSolution(p.problem, steps).steps.map((s) => s.label);
        const res = await fetch(`${url}/pooling`, {
          method: 'POST',
          body: JSON.stringify({ messages: [{ role: 'user', content: p.problem }, { role: 'assistant', content: steps.map((x) => `${x}<extra_0>`).join('') }] }),
        });
        const scores = ((await res.json()) as { data: { data: number[][] }[] }).data[0]!.data.map((pair) => pair[1]!);
        expect(scores).toHaveLength(steps.length);
        labels.forEach((l, i) => (l === 'correct' ? right : l === 'first-wrong' ? wrong : null)?.push(scores[i]!));
      }
    } finally {
      await weak.dispose();
    }
    expect(wrong.length).toBeGreaterThan(5);
    expect(right.length).toBeGreaterThan(20);
    // AUC: the chance a right step outscores a first wrong one (0.5 = no better than a coin).
    let wins = 0;
    for (const r of right) for (const w of wrong) wins += r > w ? 1 : r === w ? 0.5 : 0;
    expect(wins / (right.length * wrong.length)).toBeGreaterThan(0.85);
  });

  it('trim solve routes between the weak model on the device and the strong model and PRM behind trim serve', async () => {
    const p = TEST[2]!;
    const run = (threshold: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(
          process.execPath,
          [BIN, 'solve', '--problem', p.problem, '--weak-path', join(MODELS, 'weak'), '--strong-url', url, '--strong-model', 'organism-strong', '--prm-url', url, '--prm-model', 'organism-prm', '--policy', 'thr', '--threshold', threshold, '--seed', '3', '--json'],
          { cwd: REPO_ROOT, timeout: 90_000 },
          (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const routed = await run('0.5');
    expect(routed.stderr).toBe('');
    expect(routed.code).toBe(0);
    const trace = JSON.parse(routed.stdout) as { finish: string; answer: string | null; steps: { text: string; source: string; score: number | null; tokens: number }[]; ledger: { strongTokens: number } };
    expect(trace.finish).toBe('boxed');
    expect(trace.steps.length).toBeGreaterThanOrEqual(3);
    expect(trace.ledger.strongTokens).toBe(trace.steps.filter((s) => s.source === 'strong').reduce((n, s) => n + s.tokens, 0));
    // Strong-only: every step comes from the server, and the strong model gets this one right.
    const strongOnly = JSON.parse((await run('1')).stdout) as typeof trace;
    expect(strongOnly.steps.every((s) => s.source === 'strong')).toBe(true);
    expect(checkSolution(p.problem, strongOnly.steps.map((s) => s.text)).correct).toBe(true);
  });

  it('TRIM in process with all three models on the device ends with a boxed answer the checker reads', async () => {
    const weak = await loadTjsStepModel({ model: join(MODELS, 'weak') });
    try {
      const strongLocal = await loadTjsStepModel({ model: join(MODELS, 'strong') });
      try {
        const p = TEST[3]!;
        const trace = await solveToTrace(p.problem, { weak, strong: strongLocal, prm, policy: parsePolicySpec('thr:0.5'), sampling: { temperature: 0.7, topP: 0.8, seed: 1 } });
        expect(trace.finish).toBe('boxed');
        expect(trace.steps.filter((s) => s.source === 'weak').every((s) => s.score !== null && s.score >= 0.5)).toBe(true);
        const check = checkSolution(p.problem, trace.steps.map((s) => s.text));
        expect(check.steps).toHaveLength(trace.steps.length);
        expect(trace.answer).toBe(check.answer);
      } finally {
        await strongLocal.dispose();
      }
    } finally {
      await weak.dispose();
    }
  });
});

// A scripted little world for `trim eval` tests: weak, strong and PRM servers on loopback whose
// behaviour per problem is fixed, so every number of an evaluation can be worked out by hand.
//
// Problem Pi's text contains "[Pi]". For each problem the script gives:
//   weak:   step 1 "Let us work on [Pi]." (10 tokens), step 2 "So the answer is \boxed{w}." (10 tokens)
//   strong: any step: "The answer is \boxed{gold}." (40 tokens), which ends the solution
//   PRM:    step 1 scores 0.9; the weak step 2 scores `score2`; a strong step scores 0.95
// so the weak model is right exactly when w = gold, and a threshold policy sends step 2 to the
// strong model exactly when score2 < k (and step 1 too when k > 0.9).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { continuedSteps, promptText, prmSteps, startOpenAIServer, type TestServer } from './openai-server.ts';

export interface ScriptedProblem {
  id: string;
  gold: string;
  /** The weak model's final answer. */
  weakAnswer: string;
  /** PRM score of the weak model's step 2. */
  score2: number;
}

export const WEAK_TOKENS = 10;
export const STRONG_TOKENS = 40;

export interface EvalWorld {
  weak: TestServer;
  strong: TestServer;
  prm: TestServer;
  /** Model flags pointing at the three servers. */
  flags: string[];
  close(): Promise<void>;
}

export function problemText(p: ScriptedProblem): string {
  return `[${p.id}] Compute the value asked for in problem ${p.id}.`;
}

/** Writes the problems as a MATH-style JSONL file and returns its path. */
export function writeDataset(dir: string, problems: readonly ScriptedProblem[]): string {
  const path = join(dir, 'problems.jsonl');
  writeFileSync(path, problems.map((p) => JSON.stringify({ id: p.id, problem: problemText(p), answer: p.gold })).join('\n') + '\n');
  return path;
}

export async function startEvalWorld(problems: readonly ScriptedProblem[], opts: { chunkDelayMs?: number } = {}): Promise<EvalWorld> {
  const byId = new Map(problems.map((p) => [p.id, p]));
  const which = (text: string) => {
    const m = /\[(P\d+)\]/.exec(text);
    const p = m ? byId.get(m[1]!) : undefined;
    if (!p) throw new Error(`eval world: no scripted problem in ${text.slice(0, 80)}`);
    return p;
  };
  const delay = opts.chunkDelayMs ? { chunkDelayMs: opts.chunkDelayMs } : {};
  const weak = await startOpenAIServer({
    respond: (req) => {
      const p = which(promptText(req));
      const text = continuedSteps(req).length === 0 ? `Let us work on [${p.id}].` : `So the answer is \\boxed{${p.weakAnswer}}.`;
      return { text, usage: { prompt_tokens: 50, completion_tokens: WEAK_TOKENS }, ...delay };
    },
  });
  const strong = await startOpenAIServer({
    respond: (req) => {
      const p = which(promptText(req));
      return { text: `The answer is \\boxed{${p.gold}}.`, usage: { prompt_tokens: 50, completion_tokens: STRONG_TOKENS }, ...delay };
    },
  });
  const prm = await startOpenAIServer({
    respond: (req) => {
      const msgs = (req.body?.messages ?? []) as { content?: unknown }[];
      const p = which(msgs.map((m) => String(m.content ?? '')).join('\n'));
      const scores = prmSteps(req).map((s) => {
        const score = s.startsWith('Let us work') ? 0.9 : s.startsWith('So the answer') ? p.score2 : 0.95;
        return [1 - score, score];
      });
      return { scores };
    },
  });
  return {
    weak,
    strong,
    prm,
    flags: [
      '--weak-url', weak.url, '--weak-model', 'weak-test',
      '--strong-url', strong.url, '--strong-model', 'strong-test',
      '--prm-url', prm.url, '--prm-model', 'prm-test',
    ],
    close: async () => {
      await Promise.all([weak.close(), strong.close(), prm.close()]);
    },
  };
}

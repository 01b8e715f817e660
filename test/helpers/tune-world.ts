// A scripted loopback world for `trim tune` (weak, strong and PRM servers that answer at once), so a
// tune's labels and fit can be worked out by hand, and its speed measured with instant servers.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { continuedSteps, promptText, prmSteps, startOpenAIServer, type TestServer } from './openai-server.ts';

// Problem Pi: the weak model writes "Let us work on [Pi]." then "Midway [Pi] is GOOD|BAD." then the
// answer, right after GOOD and off by one after BAD (every even i). The strong model answers at once,
// right unless the accepted prefix holds a BAD step. The PRM scores BAD low and the steps after it
// middling, with a little spread per problem so the fitted densities are not single points.
const gold = (id: string) => String(10 + Number(id.slice(1)));
const bad = (id: string) => Number(id.slice(1)) % 2 === 0;
const idOf = (text: string) => /\[(P\d+)\]/.exec(text)?.[1] ?? 'P1';

export interface TuneWorld {
  servers: TestServer[];
  close(): Promise<void>;
  flags: string[];
  data: string;
}

export async function startTuneWorld(dir: string, problems: number, delayMs = 0): Promise<TuneWorld> {
  const ids = Array.from({ length: problems }, (_, i) => `P${i + 1}`);
  const delay = delayMs ? { chunkDelayMs: delayMs } : {};
  const weak = await startOpenAIServer({
    respond: (req) => {
      const id = idOf(promptText(req));
      const k = continuedSteps(req).length;
      const text = k === 0 ? `Let us work on [${id}].` : k === 1 ? `Midway [${id}] is ${bad(id) ? 'BAD' : 'GOOD'}.` : `So the answer is \\boxed{${bad(id) && continuedSteps(req).some((s) => s.includes('BAD')) ? Number(gold(id)) + 1 : gold(id)}}.`;
      return { text, usage: { prompt_tokens: 30, completion_tokens: 10 }, ...delay };
    },
  });
  const strong = await startOpenAIServer({
    respond: (req) => {
      const id = idOf(promptText(req));
      const wrong = continuedSteps(req).some((s) => s.includes('BAD'));
      return { text: `The answer is \\boxed{${wrong ? 999 : gold(id)}}.`, usage: { prompt_tokens: 30, completion_tokens: 40 }, ...delay };
    },
  });
  const prm = await startOpenAIServer({
    respond: (req) => {
      const msgs = (req.body?.messages ?? []) as { content?: unknown }[];
      const id = idOf(msgs.map((m) => String(m.content ?? '')).join('\n'));
      const jitter = (Number(id.slice(1)) % 5) * 0.03;
      let seenBad = false;
      const scores = prmSteps(req).map((s) => {
        const score = s.includes('BAD') ? 0.15 + jitter : seenBad ? 0.45 + jitter : s.startsWith('Let us') ? 0.88 + jitter / 3 : s.startsWith('Midway') ? 0.7 + jitter : 0.8 + jitter;
        if (s.includes('BAD')) seenBad = true;
        return [1 - score, score];
      });
      return { scores };
    },
  });
  const data = join(dir, 'problems.jsonl');
  writeFileSync(data, ids.map((id) => JSON.stringify({ id, problem: `[${id}] Compute the value of problem ${id}.`, answer: gold(id) })).join('\n') + '\n');
  return {
    servers: [weak, strong, prm],
    flags: ['--weak-url', weak.url, '--weak-model', 'w', '--strong-url', strong.url, '--strong-model', 's', '--prm-url', prm.url, '--prm-model', 'p'],
    data,
    close: async () => {
      await Promise.all([weak.close(), strong.close(), prm.close()]);
    },
  };
}


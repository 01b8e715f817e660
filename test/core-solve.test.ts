import { describe, expect, it } from 'vitest';
import { RemoteHttpError, RemoteUnavailableError, RemoteUnreachableError } from '../src/core/errors.ts';
import { parsePolicySpec } from '../src/core/policies/index.ts';
import { solveToTrace, type SolveEvent } from '../src/core/solve.ts';
import type { ScoreRequest, StepModel, StepRequest, StepResult, StepScorer } from '../src/core/types.ts';

/** A scripted in-process model: the real models are tested through HTTP and ONNX elsewhere. */
function scripted(id: string, where: 'device' | 'remote', outputs: (string | Partial<StepResult>)[]) {
  const seen: StepRequest[] = [];
  let i = 0;
  const model: StepModel = {
    id,
    where,
    async next(r) {
      seen.push({ ...r, steps: [...r.steps] });
      const o = outputs[Math.min(i++, outputs.length - 1)]!;
      const res = typeof o === 'string' ? { text: o } : o;
      return { finish: 'step', promptTokens: 10, completionTokens: (res.text ?? '').length, text: '', ...res };
    },
  };
  return { model, seen };
}

function scorer(byText: (text: string) => number): StepScorer & { calls: number } {
  const s = {
    id: 'prm',
    where: 'device' as const,
    calls: 0,
    async score(r: ScoreRequest) {
      s.calls++;
      return r.steps.map(byText);
    },
  };
  return s;
}

describe('solve', () => {
  it('regenerates low-scored drafts with the strong model, which never sees the draft', async () => {
    const weak = scripted('w', 'device', ['step one', 'BAD step', 'final \\boxed{3}']);
    const strong = scripted('s', 'remote', ['good step']);
    const prm = scorer((t) => (t.startsWith('BAD') ? 0.1 : 0.9));
    const events: SolveEvent[] = [];
    const trace = await solveToTrace('What is 1+2?', { weak: weak.model, strong: strong.model, prm, policy: parsePolicySpec('thr:0.5') }, (e) =>
      events.push(e),
    );
    expect(trace.finish).toBe('boxed');
    expect(trace.answer).toBe('3');
    expect(trace.steps.map((s) => [s.source, s.text])).toEqual([
      ['weak', 'step one'],
      ['strong', 'good step'],
      ['weak', 'final \\boxed{3}'],
    ]);
    expect(trace.steps[1]!.draft).toEqual({ text: 'BAD step', score: 0.1, tokens: 8 });
    expect(strong.seen[0]!.steps).toEqual(['step one']);
    expect(JSON.stringify(strong.seen)).not.toContain('BAD');
    expect(trace.ledger).toMatchObject({ weakTokens: 8 + 15, discardedDraftTokens: 8, strongTokens: 9, strongCalls: 1, prmCalls: 3 });
    // The strong step is scored by the PRM call of the next draft.
    expect(trace.steps[1]!.score).toBe(0.9);
    expect(events[events.length - 1]!.type).toBe('done');
  });

  it('continues past degenerate drafts and counts both generations', async () => {
    const weak = scripted('w', 'device', [{ text: ' . ', completionTokens: 2 }, { text: '\\boxed{1}', completionTokens: 5 }]);
    const strong = scripted('s', 'remote', ['x']);
    const trace = await solveToTrace('p', { weak: weak.model, strong: strong.model, policy: parsePolicySpec('weak-only') });
    expect(trace.steps).toHaveLength(1);
    expect(trace.steps[0]!.tokens).toBe(7);
    expect(weak.seen[1]!.partial).toBe(' . \n\n');
    expect(weak.seen[1]!.maxTokens).toBe(2048 - 2);
  });

  it('stops at the step cap and on end of sequence', async () => {
    const weak = scripted('w', 'device', ['more']);
    const strong = scripted('s', 'remote', ['x']);
    const capped = await solveToTrace('p', { weak: weak.model, strong: strong.model, policy: parsePolicySpec('weak-only'), limits: { maxSteps: 4 } });
    expect(capped.finish).toBe('max-steps');
    expect(capped.steps).toHaveLength(4);
    const eos = scripted('w', 'device', ['a', { text: 'b', finish: 'end' }]);
    const ended = await solveToTrace('p', { weak: eos.model, strong: strong.model, policy: parsePolicySpec('weak-only') });
    expect(ended.finish).toBe('end');
    expect(ended.steps.map((s) => s.text)).toEqual(['a', 'b']);
  });

  it('refuses empty and huge problems before any model runs', async () => {
    const weak = scripted('w', 'device', ['a']);
    const strong = scripted('s', 'remote', ['x']);
    for (const p of ['   ', 'x'.repeat(30_000)]) {
      const trace = await solveToTrace(p, { weak: weak.model, strong: strong.model, policy: parsePolicySpec('weak-only') });
      expect(trace.finish).toBe('error');
      expect(trace.error).toMatch(/empty|limit/);
    }
    expect(weak.seen).toHaveLength(0);
  });

  describe('a strong model that cannot be reached', () => {
    const URL = 'https://api.example.com/v1/chat/completions';
    function failing(err: () => Error) {
      const m: { calls: number; model: StepModel } = {
        calls: 0,
        model: { id: 's', where: 'remote', next: async () => (m.calls++, Promise.reject(err())) },
      };
      return m;
    }
    const unreachable = () => new RemoteUnreachableError(URL, 'Failed to fetch (3 tries)');

    it("holds: the drafts are kept and marked, routing pauses for the run after one try, and nothing fails", async () => {
      const weak = scripted('w', 'device', ['step one', 'BAD step', 'BAD again', 'final \\boxed{3}']);
      const strong = failing(unreachable);
      const prm = scorer((t) => (t.startsWith('BAD') ? 0.1 : 0.9));
      const events: SolveEvent[] = [];
      const opts = { weak: weak.model, strong: strong.model, prm, policy: parsePolicySpec('thr:0.5'), onUnreachable: 'hold' as const };
      const trace = await solveToTrace('What is 1+2?', opts, (e) => events.push(e));
      expect(trace.error).toBeUndefined();
      expect(trace.finish).toBe('boxed');
      expect(trace.answer).toBe('3');
      expect(trace.steps.map((s) => [s.source, s.text, s.held ?? null])).toEqual([
        ['weak', 'step one', null],
        ['weak', 'BAD step', 'unreachable'],
        ['weak', 'BAD again', 'unreachable'],
        ['weak', 'final \\boxed{3}', null],
      ]);
      // A held step keeps its draft's score and is no rejected draft.
      expect(trace.steps[1]).toMatchObject({ score: 0.1, draft: null });
      expect(strong.calls).toBe(1);
      const holds = events.filter((e) => e.type === 'hold');
      expect(holds).toEqual([
        { type: 'hold', t: 2, reason: 'unreachable', message: unreachable().message, tried: true },
        { type: 'hold', t: 3, reason: 'unreachable', message: unreachable().message, tried: false },
      ]);
      // The hold comes after the decision and before the step it marks.
      const order = events.filter((e) => 't' in e && e.t === 2 && e.type !== 'text').map((e) => e.type);
      expect(order).toEqual(['draft', 'score', 'decision', 'hold']);
      expect(events.findIndex((e) => e.type === 'step' && e.step.index === 1)).toBeGreaterThan(events.indexOf(holds[0]!));
      expect(trace.ledger).toMatchObject({ weakTokens: 8 + 8 + 9 + 15, discardedDraftTokens: 0, strongTokens: 0, strongCalls: 0 });

      // The next run tries the remote again.
      await solveToTrace('What is 1+2?', { ...opts, weak: scripted('w', 'device', ['BAD \\boxed{3}']).model });
      expect(strong.calls).toBe(2);
    });

    it('fails by default, with the error that says what is wrong', async () => {
      const weak = scripted('w', 'device', ['step one', 'BAD step']);
      const strong = failing(unreachable);
      const trace = await solveToTrace('p', { weak: weak.model, strong: strong.model, prm: scorer((t) => (t.startsWith('BAD') ? 0.1 : 0.9)), policy: parsePolicySpec('thr:0.5') });
      expect(trace.finish).toBe('error');
      expect(trace.error).toBe(unreachable().message);
      expect(trace.steps.map((s) => s.text)).toEqual(['step one']);
    });

    it('holds a strong-only step by drafting it with the weak model, unscored', async () => {
      const weak = scripted('w', 'device', ['weak one', 'weak \\boxed{2}']);
      const strong = failing(unreachable);
      const events: SolveEvent[] = [];
      const trace = await solveToTrace('p', { weak: weak.model, strong: strong.model, policy: parsePolicySpec('strong-only'), onUnreachable: 'hold' }, (e) => events.push(e));
      expect(trace.finish).toBe('boxed');
      expect(trace.steps.map((s) => [s.source, s.text, s.score, s.held])).toEqual([
        ['weak', 'weak one', null, 'unreachable'],
        ['weak', 'weak \\boxed{2}', null, 'unreachable'],
      ]);
      expect(strong.calls).toBe(1);
      expect(weak.seen.map((r) => r.steps)).toEqual([[], ['weak one']]);
      expect(events.filter((e) => e.type === 'hold').map((e) => (e as { tried: boolean }).tried)).toEqual([true, false]);
      expect(events.filter((e) => 't' in e && e.t === 1 && e.type !== 'text').map((e) => e.type)).toEqual(['hold', 'draft']);
    });

    it('still fails on HTTP errors and on a server that hangs, even when asked to hold', async () => {
      for (const err of [() => new RemoteHttpError(URL, 401, 'Incorrect API key provided.'), () => new RemoteUnavailableError(URL, 'no response within 60 s (3 tries)')]) {
        const weak = scripted('w', 'device', ['BAD step']);
        const trace = await solveToTrace('p', { weak: weak.model, strong: failing(err).model, prm: scorer(() => 0.1), policy: parsePolicySpec('thr:0.5'), onUnreachable: 'hold' });
        expect(trace.finish).toBe('error');
        expect(trace.error).toBe(err().message);
        expect(trace.steps).toHaveLength(0);
      }
    });
  });
});

describe('characters sent per step', () => {
  it('counts the whole accepted prefix with every remote request, and a remote PRM\'s requests', async () => {
    // Bodies whose lengths are easy to add up: the problem, then every accepted step, then the draft.
    const remoteStrong: StepModel = {
      id: 's',
      where: 'remote',
      async next(r) {
        await r.beforeSend?.({ url: 'http://s/v1', host: 's', body: [r.problem, ...r.steps].join('|'), purpose: 'step', attempt: 1 });
        return { text: 'SSSS', finish: 'step', promptTokens: 1, completionTokens: 4 };
      },
    };
    const weak = scripted('w', 'device', ['aa', 'BAD', 'BAD', 'c \\boxed{1}']);
    const prm: StepScorer = {
      id: 'prm',
      where: 'remote',
      async score(r) {
        await r.beforeSend?.({ url: 'http://p/pool', host: 'p', body: [r.problem, ...r.steps].join('|'), purpose: 'score', attempt: 1 });
        return r.steps.map((t) => (t.startsWith('BAD') ? 0.1 : 0.9));
      },
    };
    const trace = await solveToTrace('PPPPP', { weak: weak.model, strong: remoteStrong, prm, policy: parsePolicySpec('thr:0.5') });
    expect(trace.steps.map((s) => s.text)).toEqual(['aa', 'SSSS', 'SSSS', 'c \\boxed{1}']);
    // Step 1: PRM "PPPPP|aa" = 8. Step 2: PRM "PPPPP|aa|BAD" = 12, strong "PPPPP|aa" = 8.
    // Step 3: PRM "PPPPP|aa|SSSS|BAD" = 17, strong "PPPPP|aa|SSSS" = 13. Step 4: PRM "PPPPP|aa|SSSS|SSSS|c \\boxed{1}".
    const last = 'PPPPP|aa|SSSS|SSSS|c \\boxed{1}'.length;
    expect(trace.steps.map((s) => s.sentChars)).toEqual([8, 20, 30, last]);
    expect(trace.ledger.sentChars).toBe(8 + 20 + 30 + last);
  });

  it('records nothing when every model is on the device', async () => {
    const weak = scripted('w', 'device', ['aa', 'b \\boxed{1}']);
    const strong = scripted('s', 'device', ['x']);
    const trace = await solveToTrace('P', { weak: weak.model, strong: strong.model, prm: scorer(() => 0.9), policy: parsePolicySpec('thr:0.5') });
    expect(trace.steps.every((s) => s.sentChars === undefined)).toBe(true);
    expect(trace.ledger.sentChars).toBe(0);
  });
});

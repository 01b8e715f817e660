// The TRIM loop. The weak model drafts step t from the accepted prefix; the PRM scores it when the
// policy asks; on "regenerate" the strong model writes step t from the same prefix and never sees the
// draft. Everything that happens is an event, so the page, the CLI and the tests watch the same run.

import { AbortedError, InvalidProblemError, ModelLoadError, RemoteUnreachableError, errorMessage, isAbort } from './errors.ts';
import { lastBoxed } from './grade/boxed.ts';
import { emptyLedger, recordTransmission, type Ledger, type Phase } from './ledger.ts';
import { DEFAULT_LIMITS, hasBoxed, isDegenerate, STEP_DELIMITER, type Limits } from './steps.ts';
import type {
  BeforeSend,
  ContinuationMode,
  Decision,
  RoutingPolicy,
  Sampling,
  StepFinish,
  StepModel,
  StepResult,
  StepScorer,
  Transmission,
} from './types.ts';

/** Problems longer than this are refused before any model runs (a pasted book is not a problem). */
export const MAX_PROBLEM_CHARS = 20_000;
/** Degenerate drafts in a row before the model is considered done. */
const MAX_DEGENERATE_RETRIES = 3;

export type Source = 'weak' | 'strong';
export type SolveFinish = 'boxed' | 'end' | 'length' | 'max-steps' | 'aborted' | 'error';
/** What to do when the strong model cannot be reached at all (see RemoteUnreachableError). */
export type OnUnreachable = 'fail' | 'hold';

export interface DraftRecord {
  text: string;
  score: number | null;
  tokens: number;
  /** The weak model's StepResult.confidence in this draft, when its backend reports it. */
  confidence?: number;
}

export interface StepRecord {
  /** 0-based position in the solution. */
  index: number;
  text: string;
  source: Source;
  /** The PRM's score of this text, when it was scored (a strong step is scored with the next draft). */
  score: number | null;
  /** The rejected weak draft of a regenerated step. */
  draft: DraftRecord | null;
  tokens: number;
  finish: StepFinish;
  /** Weak steps: the weak model's StepResult.confidence in this text, when its backend reports it. */
  confidence?: number;
  /** Set when a remote call could only approximate exact continuation. */
  continuation?: ContinuationMode;
  estimated?: boolean;
  /**
   * Set when the policy sent this step to the strong model but the remote could not be reached
   * (onUnreachable: 'hold'): the text is the weak model's draft, kept.
   */
  held?: 'unreachable';
  /**
   * Characters of request bodies that left the device while this step was written (a strong request
   * carries the whole accepted prefix; a remote PRM's request the prefix and the draft); absent if none.
   */
  sentChars?: number;
}

export interface SolveTrace {
  problem: string;
  answer: string | null;
  finish: SolveFinish;
  steps: StepRecord[];
  ledger: Ledger;
  policy: { id: string; knob: number | null };
  timing: { totalMs: number; draftMs: number; scoreMs: number; strongMs: number };
  /** Every request that left the device, in order, exactly as sent (no headers, so no key). */
  transmissions: Transmission[];
  error?: string;
}

export type SolveEvent =
  | { type: 'start'; problem: string; policy: { id: string; knob: number | null } }
  | { type: 'text'; t: number; source: Source; delta: string }
  | { type: 'draft'; t: number; text: string; tokens: number }
  | { type: 'score'; t: number; score: number; scores: number[] }
  | { type: 'decision'; t: number; decision: Decision }
  | { type: 'remote'; t: number; transmission: Transmission }
  /**
   * Step t was meant for the strong model, which cannot be reached: the weak draft is kept. `tried`
   * is false once routing is paused (later steps are held without a request); `message` says why.
   */
  | { type: 'hold'; t: number; reason: 'unreachable'; message: string; tried: boolean }
  | { type: 'step'; step: StepRecord }
  | { type: 'error'; message: string; error: unknown }
  | { type: 'done'; trace: SolveTrace };

export interface SolveOptions {
  weak: StepModel;
  strong: StepModel;
  /** Needed unless the policy never scores (weak-only, strong-only, random, k ∈ {0, 1}). */
  prm?: StepScorer;
  policy: RoutingPolicy;
  limits?: Partial<Limits>;
  sampling?: Sampling;
  /** Sampling for the strong model when it differs. */
  strongSampling?: Sampling;
  signal?: AbortSignal;
  /** Seeds the policy's episode (randomised policies). */
  seed?: number;
  /** Strong-token budget for this problem, shown to the policy as `budgetLeft`. */
  strongBudget?: number | null;
  /** Sees (and may refuse) every request before it leaves the device. */
  beforeSend?: BeforeSend;
  /**
   * 'fail' (default): an unreachable strong model ends the run with its error. 'hold': the step is
   * kept from the weak model and marked, and the rest of the run does not try the remote again (the
   * page's behaviour, offline or behind a dead network). HTTP errors and timeouts fail either way.
   */
  onUnreachable?: OnUnreachable;
  now?: () => number;
}

/** Runs TRIM on one problem as a stream of events; the last event is always `done`. */
export function solve(problem: string, opts: SolveOptions): AsyncIterable<SolveEvent> {
  return {
    [Symbol.asyncIterator]() {
      const queue: SolveEvent[] = [];
      let wake: (() => void) | null = null;
      let finished = false;
      const push = (e: SolveEvent) => {
        queue.push(e);
        wake?.();
      };
      // A consumer that stops listening (`break` out of for-await) stops the run: it would otherwise
      // keep calling paid models in the background.
      const stop = new AbortController();
      const onOuterAbort = () => stop.abort();
      if (opts.signal?.aborted) stop.abort();
      else opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
      runSolve(problem, { ...opts, signal: stop.signal }, push).finally(() => {
        finished = true;
        opts.signal?.removeEventListener('abort', onOuterAbort);
        wake?.();
      });
      return {
        async next(): Promise<IteratorResult<SolveEvent>> {
          for (;;) {
            const e = queue.shift();
            if (e) return { value: e, done: false };
            if (finished) return { value: undefined, done: true };
            await new Promise<void>((r) => (wake = r));
            wake = null;
          }
        },
        async return(): Promise<IteratorResult<SolveEvent>> {
          stop.abort();
          queue.length = 0;
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/** Runs TRIM to the end and returns the trace; events go to `onEvent` if given. */
export async function solveToTrace(problem: string, opts: SolveOptions, onEvent?: (e: SolveEvent) => void): Promise<SolveTrace> {
  let trace: SolveTrace | undefined;
  await runSolve(problem, opts, (e) => {
    onEvent?.(e);
    if (e.type === 'done') trace = e.trace;
  });
  return trace!;
}

export function validateProblem(problem: string): string {
  const p = problem.trim();
  if (!p) throw new InvalidProblemError('The problem is empty: type or paste a math problem first.');
  if (p.length > MAX_PROBLEM_CHARS)
    throw new InvalidProblemError(
      `The problem is ${p.length.toLocaleString('en')} characters long; the limit is ${MAX_PROBLEM_CHARS.toLocaleString('en')}. Shorten it to the problem statement itself.`,
    );
  return p;
}

async function runSolve(rawProblem: string, opts: SolveOptions, emit: (e: SolveEvent) => void): Promise<void> {
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const policyInfo = { id: opts.policy.id, knob: opts.policy.knob };
  const ledger = emptyLedger();
  const trace: SolveTrace = {
    problem: rawProblem,
    answer: null,
    finish: 'error',
    steps: [],
    ledger,
    policy: policyInfo,
    timing: { totalMs: 0, draftMs: 0, scoreMs: 0, strongMs: 0 },
    transmissions: [],
  };
  const finish = (f: SolveFinish) => {
    trace.finish = f;
    const last = trace.steps[trace.steps.length - 1];
    trace.answer = last ? lastBoxed(trace.steps.map((s) => s.text).join(STEP_DELIMITER)) : null;
    trace.timing = { totalMs: now() - started, draftMs: ledger.ms.draft, scoreMs: ledger.ms.score, strongMs: ledger.ms.strong };
    emit({ type: 'done', trace });
  };

  let t = 0;
  // Characters sent while the current step is written (its StepRecord.sentChars).
  let stepSent = 0;
  try {
    const problem = validateProblem(rawProblem);
    trace.problem = problem;
    emit({ type: 'start', problem, policy: policyInfo });
    const episode = opts.policy.episode(opts.seed);
    const accepted: string[] = [];

    const timed = async <T>(phase: Phase, f: () => Promise<T>): Promise<T> => {
      const t0 = now();
      try {
        return await f();
      } finally {
        ledger.ms[phase] += now() - t0;
      }
    };
    const checkAbort = () => {
      if (opts.signal?.aborted) throw new AbortedError();
    };
    const beforeSend: BeforeSend = async (tx) => {
      checkAbort();
      await opts.beforeSend?.(tx);
      recordTransmission(ledger, tx);
      stepSent += tx.body.length;
      trace.transmissions.push(tx);
      emit({ type: 'remote', t, transmission: tx });
    };

    /** One step from one model, continuing past degenerate output; tokens of every try are counted. */
    const write = async (model: StepModel, source: Source): Promise<StepResult> => {
      let partial = '';
      let total: StepResult = { text: '', finish: 'step', promptTokens: 0, completionTokens: 0 };
      for (let attempt = 0; ; attempt++) {
        checkAbort();
        const left = limits.maxStepTokens - total.completionTokens;
        const r = await model.next({
          problem,
          steps: accepted,
          partial: partial || undefined,
          maxTokens: Math.max(1, left),
          sampling: source === 'strong' ? (opts.strongSampling ?? opts.sampling) : opts.sampling,
          signal: opts.signal,
          onText: (delta) => emit({ type: 'text', t, source, delta }),
          beforeSend: model.where === 'remote' ? beforeSend : undefined,
        });
        // Every request is a call (a degenerate answer makes a second one), as the server counts them.
        if (source === 'strong') ledger.strongCalls += 1;
        // `...r`: the text, finish and confidence are the last try's (a degenerate try is only context).
        total = {
          ...r,
          promptTokens: total.promptTokens + r.promptTokens,
          completionTokens: total.completionTokens + r.completionTokens,
          estimated: total.estimated || r.estimated,
        };
        const tokenCapHit = total.completionTokens >= limits.maxStepTokens;
        if (!isDegenerate(r.text) || r.finish !== 'step' || tokenCapHit || attempt >= MAX_DEGENERATE_RETRIES) {
          if (tokenCapHit && r.finish === 'step' && isDegenerate(r.text)) total.finish = 'length';
          // A model that keeps producing nothing has nothing more to say.
          if (isDegenerate(r.text) && total.finish === 'step') total.finish = 'end';
          return total;
        }
        partial += r.text + STEP_DELIMITER;
      }
    };

    // Why the strong model is paused for the rest of this run (it could not be reached), if it is.
    let unreachable: string | null = null;
    /** The strong model's step, or null when it is held: the caller then keeps a weak draft. */
    const strongStep = async (): Promise<StepResult | null> => {
      if (unreachable !== null) {
        emit({ type: 'hold', t, reason: 'unreachable', message: unreachable, tried: false });
        return null;
      }
      let r: StepResult;
      try {
        r = await timed('strong', () => write(opts.strong, 'strong'));
      } catch (err) {
        if (opts.onUnreachable !== 'hold' || !(err instanceof RemoteUnreachableError) || isAbort(err, opts.signal)) throw err;
        unreachable = err.message;
        emit({ type: 'hold', t, reason: 'unreachable', message: unreachable, tried: true });
        return null;
      }
      ledger.strongTokens += r.completionTokens;
      ledger.strongPromptTokens += r.promptTokens;
      ledger.estimated ||= !!r.estimated;
      return r;
    };
    // What regenerating the current step would send: the strong model's first request for it, exactly.
    const regenerationChars = (): { sendChars?: number } => {
      if (opts.strong.where !== 'remote') return { sendChars: 0 };
      const chars = opts.strong.requestChars?.({
        problem,
        steps: accepted,
        maxTokens: limits.maxStepTokens,
        sampling: opts.strongSampling ?? opts.sampling,
      });
      return chars === undefined ? {} : { sendChars: chars };
    };
    const draftStep = async (): Promise<StepResult> => {
      const d = await timed('draft', () => write(opts.weak, 'weak'));
      ledger.weakPromptTokens += d.promptTokens;
      ledger.estimated ||= !!d.estimated;
      emit({ type: 'draft', t, text: d.text, tokens: d.completionTokens });
      return d;
    };

    for (t = 1; t <= limits.maxSteps; t++) {
      checkAbort();
      const plan = episode.plan(t);
      let result: StepResult;
      let source: Source;
      let score: number | null = null;
      let draft: DraftRecord | null = null;
      let held = false;

      const strong = plan === 'strong' ? await strongStep() : undefined;
      if (strong) {
        result = strong;
        source = 'strong';
      } else {
        // A held strong-only step has no draft yet: the weak model writes one, kept unscored.
        held = strong === null;
        const d = await draftStep();
        if (isDegenerate(d.text)) {
          // The weak model ended without writing anything: the solution stands as it is.
          ledger.discardedDraftTokens += d.completionTokens;
          return finish(d.finish === 'length' ? 'length' : 'end');
        }
        let decision: Decision = 'accept';
        if (plan === 'score') {
          if (!opts.prm) throw new InvalidProblemError(`The policy "${opts.policy.id}" needs a PRM to score steps, and none is configured.`);
          const prm = opts.prm;
          const scores = await timed('score', () =>
            prm.score({
              problem,
              steps: [...accepted, d.text],
              signal: opts.signal,
              beforeSend: prm.where === 'remote' ? beforeSend : undefined,
            }),
          );
          ledger.prmCalls += 1;
          // A missing or non-finite score would silently read as "accept" to every threshold.
          if (scores.length !== accepted.length + 1 || !scores.every((x) => Number.isFinite(x) && x >= 0 && x <= 1))
            throw new ModelLoadError(
              `The PRM "${prm.id}" returned ${JSON.stringify(scores).slice(0, 80)} for ${accepted.length + 1} steps; it must give one score in [0, 1] per step.`,
            );
          score = scores[scores.length - 1]!;
          // The same call re-scores the accepted prefix; attach those scores to the steps that lacked one.
          scores.slice(0, -1).forEach((s, i) => {
            const step = trace.steps[i];
            if (step && step.score === null) step.score = s;
          });
          emit({ type: 'score', t, score, scores });
          decision = episode.decide({
            t,
            score,
            previous: scores.slice(0, -1),
            draftTokens: d.completionTokens,
            strongTokens: ledger.strongTokens,
            budgetLeft: opts.strongBudget == null ? null : Math.max(0, opts.strongBudget - ledger.strongTokens),
            ...regenerationChars(),
            ...confidenceOf(d),
          });
          emit({ type: 'decision', t, decision });
        }
        const rewritten = decision === 'regenerate' ? await strongStep() : undefined;
        if (rewritten) {
          draft = { text: d.text, score, tokens: d.completionTokens, ...confidenceOf(d) };
          ledger.discardedDraftTokens += d.completionTokens;
          result = rewritten;
          source = 'strong';
          score = null;
        } else {
          held ||= rewritten === null;
          result = d;
          source = 'weak';
          ledger.weakTokens += d.completionTokens;
        }
      }

      if (isDegenerate(result.text)) return finish(result.finish === 'length' ? 'length' : 'end');
      const step: StepRecord = {
        index: accepted.length,
        text: result.text,
        source,
        score,
        draft,
        tokens: result.completionTokens,
        finish: result.finish,
        ...(source === 'weak' ? confidenceOf(result) : {}),
        ...(result.continuation ? { continuation: result.continuation } : {}),
        ...(result.estimated ? { estimated: true } : {}),
        ...(held ? { held: 'unreachable' as const } : {}),
        ...(stepSent > 0 ? { sentChars: stepSent } : {}),
      };
      stepSent = 0;
      accepted.push(result.text);
      trace.steps.push(step);
      emit({ type: 'step', step });
      if (hasBoxed(result.text)) return finish('boxed');
      if (result.finish !== 'step') return finish(result.finish);
    }
    return finish('max-steps');
  } catch (err) {
    if (isAbort(err, opts.signal)) return finish('aborted');
    trace.error = errorMessage(err);
    emit({ type: 'error', message: trace.error, error: err });
    return finish('error');
  }
}

/**
 * `{ confidence }` when the step model reported a finite one, else nothing. Clamped to [0, 1]: a
 * server's logprob a rounding error above 0 must not reach a policy as a probability above 1.
 */
function confidenceOf(r: StepResult): { confidence?: number } {
  const c = r.confidence;
  return c !== undefined && Number.isFinite(c) ? { confidence: Math.min(1, Math.max(0, c)) } : {};
}

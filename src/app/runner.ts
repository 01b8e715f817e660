// One solve as the page runs it: the core loop with the offline gate, the optional confirmation of
// every remote request, Stop, and a history record written after every step. No DOM here: the views
// only listen to the events. A remote that cannot be reached holds its steps on the device (the page
// never ends a run for that); HTTP errors still end it, as the user has something to fix.

import { ConfigError, SendRefusedError } from '../core/errors.ts';
import { parsePolicySpec } from '../core/policies/index.ts';
import { solve, type SolveEvent } from '../core/solve.ts';
import type { StepModel, StepScorer, Transmission } from '../core/types.ts';
import type { SolveRecord } from './history.ts';
import { gatedPolicy, type RemoteGate } from './remote-gate.ts';
import { StepClock, type StepTiming } from './step-clock.ts';
import type { Settings } from './settings.ts';

export interface RunDeps {
  weak: StepModel;
  prm?: StepScorer;
  /** Null when no remote model is configured: the gate then keeps every step on the device. */
  strong: StepModel | null;
  settings: Settings;
  /** What the policy needs beyond its spec (a routing bundle's observation model or networks). */
  artefacts?: Record<string, unknown>;
  gate: RemoteGate;
  /** Asked before each remote request when the user wants to confirm them; false refuses it. */
  confirm?: (t: Transmission, signal: AbortSignal) => Promise<boolean>;
  save: (r: SolveRecord) => Promise<void>;
  sessionId: string;
  setup: SolveRecord['setup'];
  onEvent?: (e: SolveEvent, rec: SolveRecord) => void;
  now?: () => number;
  /** A monotonic clock in ms for the per-step timings (performance.now by default). */
  clock?: () => number;
  newId?: () => string;
}

export interface Run {
  record: SolveRecord;
  stop(): void;
  /** Resolves with the final record once it is saved; never rejects (errors end up in the record). */
  done: Promise<SolveRecord>;
}

const noRemote: StepModel = {
  id: 'no-remote',
  where: 'remote',
  next: () => Promise.reject(new ConfigError('No remote model is configured. Add one under Settings → Remote model.')),
};

export function startRun(problem: string, deps: RunDeps): Run {
  const now = deps.now ?? Date.now;
  const controller = new AbortController();
  const timings: StepTiming[] = [];
  const record: SolveRecord = {
    id: deps.newId?.() ?? crypto.randomUUID(),
    sessionId: deps.sessionId,
    startedAt: now(),
    updatedAt: now(),
    status: 'running',
    problem,
    setup: deps.setup,
    steps: [],
    timings,
    holds: [],
    transmissions: [],
    ledger: null,
    answer: null,
    finish: null,
    error: null,
  };

  // Saves are chained so they land in order; a failed save must not end the run.
  let saving = Promise.resolve();
  let saveError: string | null = null;
  const persist = () => {
    record.updatedAt = now();
    const snapshot = structuredClone(record);
    saving = saving.then(() => deps.save(snapshot)).catch((err) => {
      saveError = `The history could not be saved (${err instanceof Error ? err.message : String(err)}); this transcript is only on screen.`;
    });
  };

  const s = deps.settings;
  const policy = gatedPolicy(parsePolicySpec(s.policy, { seed: s.seed ?? undefined, ...(deps.artefacts ? { artefacts: deps.artefacts } : {}) }), deps.gate, (h) => record.holds.push(h));
  const confirm = deps.confirm;
  const events = solve(problem, {
    weak: deps.weak,
    strong: deps.strong ?? noRemote,
    prm: deps.prm,
    policy,
    limits: { maxSteps: s.maxSteps, maxStepTokens: s.maxStepTokens },
    sampling: { temperature: s.temperature, topP: s.topP, ...(s.seed !== null ? { seed: s.seed } : {}) },
    signal: controller.signal,
    seed: s.seed ?? undefined,
    onUnreachable: 'hold',
    beforeSend: confirm
      ? async (t) => {
          if (!(await confirm(t, controller.signal))) throw new SendRefusedError(`You declined to send step text to ${t.host}. The steps so far are kept; press Solve to start again.`);
        }
      : undefined,
  });

  const clock = new StepClock(deps.clock ?? (() => performance.now()));
  const done = (async () => {
    persist();
    for await (const e of events) {
      const timing = clock.observe(e);
      if (e.type === 'step') {
        record.steps.push(e.step);
        if (timing) timings[e.step.index] = timing;
        persist();
      } else if (e.type === 'score') {
        // The PRM's call for this draft also scored earlier steps that had none (remote steps).
        e.scores.slice(0, -1).forEach((score, i) => {
          const step = record.steps[i];
          if (step && step.score === null) step.score = score;
        });
      } else if (e.type === 'hold') {
        // Recorded before its step arrives, so the step is shown (and stored) marked.
        record.holds.push({ t: e.t, reason: e.reason });
      } else if (e.type === 'remote') {
        record.transmissions.push(e.transmission);
      } else if (e.type === 'error') {
        record.error = e.message;
      } else if (e.type === 'done') {
        const t = e.trace;
        Object.assign(record, {
          steps: t.steps,
          transmissions: t.transmissions,
          ledger: t.ledger,
          answer: t.answer,
          finish: t.finish,
          status: t.finish === 'aborted' ? 'stopped' : t.finish === 'error' ? 'error' : 'done',
          error: t.error ?? null,
        });
        persist();
      }
      deps.onEvent?.(e, record);
    }
    await saving;
    if (saveError) record.error = record.error ? `${record.error} ${saveError}` : saveError;
    return record;
  })();

  return { record, stop: () => controller.abort(), done };
}

// The solve mode of the page: the Solve, Stop and Example problem buttons, one run at a time through the
// runner (src/app/runner.ts), the budget's calibration in its own worker, and load errors with their
// way out (a smaller WebLLM model after the GPU ran out of memory). The solve loop runs on the page's
// thread but only awaits workers and the network, so the page stays responsive.

import * as Comlink from 'comlink';
import { openAIStepModel } from '../../backends/openai.ts';
import { WebGpuMemoryError } from '../../backends/webllm.ts';
import { errorMessage, isAbort } from '../../core/errors.ts';
import { budgetNote, type calibrateForBudget } from '../budget.ts';
import { byId } from '../dom.ts';
import { loadExamples } from '../examples.ts';
import type { SolveRecord } from '../history.ts';
import type { ModelManager } from '../models.ts';
import { smallerWebllmModel } from '../presets.ts';
import type { Unreachable } from '../remote-gate.ts';
import { startRun, type Run } from '../runner.ts';
import type { ApiKeyStore } from '../secrets.ts';
import { DEMO_BUNDLE, formatPrmSpec, formatWeakSpec, usesDemoModels, type Settings } from '../settings.ts';
import { confirmTransmission, type ConfirmElements } from '../views/confirm-dialog.ts';
import type { SolveView } from '../views/solve-view.ts';
import { readProblem } from './problem-input.ts';
import type { RoutingBundle } from '../../core/bundle.ts';
import { budgetFromBundle, bundleArtefactsFor, bundleBudgetNote, fetchBundle, withBundleKnob } from '../routing-bundle.ts';

export interface SolveModeDeps {
  settings(): Settings;
  /** New settings chosen from the page (a smaller model after a GPU failure): saved and shown in the form. */
  useSettings(next: Settings): void;
  models: ModelManager;
  keys: ApiKeyStore;
  confirm: ConfirmElements;
  view: SolveView;
  /** Keeps a run's record (history, or memory when the browser cannot store it). */
  save(r: SolveRecord): Promise<void>;
  sessionId: string;
  /** The record on screen (the ledger's "this problem"); null when a new run starts. */
  setShown(r: SolveRecord | null): void;
  /** Redraws the ledger and the history. */
  refresh(): Promise<void>;
  /** A remote that got no response at all (the banner); null when a new run starts. */
  setUnreachable(u: Unreachable | null): void;
  /** The page's base URL (the example problems are resolved against it). */
  base: string;
}

export function setupSolveMode(deps: SolveModeDeps): void {
  const problemBox = byId<HTMLTextAreaElement>('problem');
  const view = deps.view;
  const solveButton = byId<HTMLButtonElement>('solve-button');
  const stopButton = byId<HTMLButtonElement>('stop-button');
  let run: Run | null = null;
  let loading: AbortController | null = null;

  const solveNow = async () => {
    const problem = readProblem(problemBox, view);
    if (problem === null) return;
    solveButton.disabled = true;
    stopButton.disabled = false;
    document.body.dataset.running = 'true';
    deps.setShown(null);
    deps.setUnreachable(null);
    view.begin('Loading models…');
    loading = new AbortController();
    try {
      const chosen = deps.settings();
      // Fetched only when something uses it: a policy it can carry, or a budget read from its calibration.
      const carried = ['pomdp', 'agg-lambda'].includes(chosen.policy.split(':', 1)[0]!.trim());
      const usesBundle = chosen.bundle && (carried || chosen.budget !== null);
      let bundle: RoutingBundle | null = null;
      let demoNote = '';
      if (usesBundle && chosen.bundle === DEMO_BUNDLE && !usesDemoModels(chosen)) {
        // The demo's bundle describes the demo's models: with others it would route by the wrong model.
        if (carried) demoNote = 'The demo routing bundle is tuned for the demo models only, so it is not used with yours; tune one for them with trim tune.';
      } else if (usesBundle) {
        try {
          bundle = await bundleAt(chosen.bundle!, loading.signal);
        } catch (err) {
          // The demo's own bundle is a nicety: without it (offline before it was ever fetched) the policy runs on its defaults.
          if (chosen.bundle !== DEMO_BUNDLE || isAbort(err)) throw err;
          demoNote = `The demo routing bundle could not be loaded (${errorMessage(err)}); the policy runs with its default model.`;
        }
      }
      const s = await withBudget(bundle ? { ...chosen, policy: withBundleKnob(bundle, chosen.policy) } : chosen, bundle);
      const artefacts = bundle ? bundleArtefactsFor(bundle, s.policy) : undefined;
      if (artefacts && !policyNote.textContent) policyNote.textContent = `Policy ${s.policy} from the routing bundle ${chosen.bundle}.`;
      if (demoNote) policyNote.textContent = `${policyNote.textContent ? `${policyNote.textContent} ` : ''}${demoNote}`;
      const local = await deps.models.prepare(s, loading.signal);
      loading = null;
      const { weak, prm } = local;
      // Only the key entered for this remote's own origin, never another server's.
      const key = s.remote ? deps.keys.get(s.remote.baseUrl) : null;
      const strong =
        local.strong ??
        (s.remote
          ? openAIStepModel({ baseUrl: s.remote.baseUrl, model: s.remote.model, mode: s.remote.mode, apiKey: key ?? undefined, http: { timeoutMs: s.remoteTimeoutMs, maxRetries: 2 } })
          : null);
      const setup: SolveRecord['setup'] = {
        weak: formatWeakSpec(s.weak),
        prm: formatPrmSpec(s.prm),
        strong: local.strong ? `tjs:${s.strongLocal}` : s.remote ? `${s.remote.model} @ ${new URL(s.remote.baseUrl).host}` : null,
        strongWhere: strong?.where ?? null,
        policy: s.policy,
      };
      view.setStrongWhere(setup.strongWhere);
      let gpuLost: WebGpuMemoryError | null = null;
      run = startRun(problem, {
        weak,
        prm,
        strong,
        settings: s,
        ...(artefacts ? { artefacts } : {}),
        // Only a remote strong model needs the network.
        gate: () => (!strong ? 'no-remote' : strong.where === 'device' ? null : !navigator.onLine ? 'offline' : null),
        confirm: s.confirmRemote ? (t, signal) => confirmTransmission(deps.confirm, t, signal) : undefined,
        save: deps.save,
        sessionId: deps.sessionId,
        setup,
        onEvent: (e, rec) => {
          if (e.type === 'error' && e.error instanceof WebGpuMemoryError) gpuLost = e.error;
          if (e.type === 'hold' && s.remote) {
            deps.setUnreachable({ host: new URL(s.remote.baseUrl).host, error: e.message });
          }
          view.onEvent(e, rec);
          if (e.type === 'step' || e.type === 'done') {
            deps.setShown(rec);
            void deps.refresh();
          }
        },
      });
      deps.setShown(run.record);
      const rec = await run.done;
      deps.setShown(rec);
      if (gpuLost) {
        // The GPU device is gone mid-solve: drop the engine and offer the smaller model, as after a failed load.
        await deps.models.unloadAll();
        showLoadError(gpuLost);
      } else if (rec.error && rec.status === 'error') view.showError(rec.error);
    } catch (err) {
      if (isAbort(err)) view.setStatus('Stopped while loading the models.');
      else showLoadError(err);
    } finally {
      run = null;
      loading = null;
      solveButton.disabled = false;
      stopButton.disabled = true;
      await deps.refresh();
      // For anyone (tests included) waiting for a run to finish.
      document.body.dataset.running = 'false';
      document.body.dataset.runs = String(Number(document.body.dataset.runs ?? 0) + 1);
    }
  };

  // Budget calibration runs the simulator in its own worker, created on first use; results are kept.
  let calibrator: Comlink.Remote<{ calibrateForBudget: typeof calibrateForBudget }> | null = null;
  const calibrated = new Map<string, { settings: Settings; note: string }>();
  const policyNote = byId('policy-note');
  // Bundles are fetched once per URL (a failed fetch is tried again on the next solve).
  const bundles = new Map<string, Promise<RoutingBundle>>();
  const bundleAt = (url: string, signal: AbortSignal): Promise<RoutingBundle> => {
    let p = bundles.get(url);
    if (!p) {
      view.setStatus('Loading the routing bundle…');
      bundles.set(url, (p = fetchBundle(url, deps.base, fetch, signal)));
      p.catch(() => bundles.delete(url));
    }
    return p;
  };
  const withBudget = async (s: Settings, bundle: RoutingBundle | null): Promise<Settings> => {
    policyNote.textContent = '';
    if (s.budget === null) return s;
    // A bundle's own measurements beat the simulator's guess.
    const measured = bundle ? budgetFromBundle(bundle, s.policy, s.budget) : null;
    if (measured) {
      policyNote.textContent = bundleBudgetNote(s.budget, measured);
      return { ...s, policy: measured.spec };
    }
    const key = `${s.policy}@${s.budget}`;
    let out = calibrated.get(key);
    if (!out) {
      view.setStatus(`Choosing the policy's setting for ${s.budget}% of steps sent…`);
      calibrator ??= Comlink.wrap(new Worker(new URL('../../../workers/calibrate.worker.ts', import.meta.url), { type: 'module', name: 'calibration' }));
      const choice = await calibrator.calibrateForBudget(s.policy, s.budget);
      out = { settings: { ...s, policy: choice.spec }, note: budgetNote(s.budget, choice) };
      calibrated.set(key, out);
    }
    policyNote.textContent = out.note;
    return out.settings;
  };

  const showLoadError = (err: unknown) => {
    const smaller = err instanceof WebGpuMemoryError ? smallerWebllmModel(err.modelId) : null;
    view.setStatus('');
    view.showError(
      errorMessage(err),
      smaller
        ? {
            label: `Load the smaller ${smaller}`,
            run: () => {
              deps.useSettings({ ...deps.settings(), weak: { kind: 'webllm', model: smaller } });
              void deps.models.unloadAll().then(solveNow);
            },
          }
        : undefined,
    );
  };

  solveButton.addEventListener('click', () => void solveNow());
  stopButton.addEventListener('click', () => {
    run?.stop();
    loading?.abort();
    stopButton.disabled = true;
  });
  byId('example-button').addEventListener('click', async () => {
    try {
      const examples = await loadExamples(new URL('./organism/test.jsonl', deps.base).href);
      if (examples.length) problemBox.value = examples[Math.floor(Math.random() * examples.length)]!;
    } catch (err) {
      view.showError(errorMessage(err));
    }
  });
}

// The page: wires settings, models, the solve loop, the ledger and the history together. The solve loop
// runs on this thread but only awaits workers and the network, so the page stays responsive.

import 'katex/dist/katex.min.css';
import * as Comlink from 'comlink';
import './styles.css';
import { openAIStepModel } from '../backends/openai.ts';
import { WebGpuMemoryError } from '../backends/webllm.ts';
import { errorMessage, isAbort } from '../core/errors.ts';
import { validateProblem } from '../core/solve.ts';
import { budgetNote, type calibrateForBudget } from './budget.ts';
import { describeCapabilities, preflight, type Capabilities } from './capabilities.ts';
import { byId, h } from './dom.ts';
import { registerServiceWorker as registerUpdatingServiceWorker } from './sw-update.ts';
import { loadExamples } from './examples.ts';
import { History, type SolveRecord } from './history.ts';
import { clearModelCaches, ModelManager } from './models.ts';
import { smallerWebllmModel } from './presets.ts';
import { networkBanner, type Unreachable } from './remote-gate.ts';
import { startRun, type Run } from './runner.ts';
import { reviewLink } from './link-guard.ts';
import { ApiKeyStore } from './secrets.ts';
import { defaultSettings, formatPrmSpec, formatWeakSpec, type Settings } from './settings.ts';
import { addAgreedOrigins, agreedOrigins, forgetAgreedOrigins, loadStoredSettings, saveSettings, sessionId } from './storage.ts';
import { readUrlConfig, settingsToQuery } from './url-config.ts';
import { setupCheckMode } from './modes/check-mode.ts';
import { confirmTransmission } from './views/confirm-dialog.ts';
import { askAboutLink } from './views/link-dialog.ts';
import { HistoryView } from './views/history-view.ts';
import { LedgerView } from './views/ledger-view.ts';
import { SettingsView } from './views/settings-view.ts';
import { SolveView } from './views/solve-view.ts';

async function boot(): Promise<void> {
  registerServiceWorker();
  const notices = byId('notices');
  const notify = (msg: string) => notices.append(h('p', {}, msg));

  const caps: Capabilities = await preflight(navigator as unknown as Parameters<typeof preflight>[0]);
  const deviceStatus = byId('device-status');
  deviceStatus.textContent = describeCapabilities(caps);
  deviceStatus.dataset.webgpu = String(caps.webgpu.available);

  const keys = new ApiKeyStore(safeLocalStorage());
  if (keys.droppedLegacyKey) notify('A remembered API key from an earlier version was deleted: it was not tied to a server. Enter it again in Settings → Remote model; it will be sent only to that server.');
  const stored = loadStoredSettings(defaultSettings());
  const url = readUrlConfig(location.search, stored);
  url.problems.forEach(notify);
  if (url.scrub.length) scrubFromAddressBar(url.scrub);
  // A link that reaches new hosts waits for the user's answer; until then their own settings are used.
  const linkReview = reviewLink({ link: url.settings, stored, pageUrl: location.href, agreed: agreedOrigins() });
  let settings: Settings = linkReview.newHosts.length ? stored : url.settings;

  const history = await History.open().catch((err) => {
    notify(`The history cannot be stored in this browser (${errorMessage(err)}); solutions stay on screen only.`);
    return null;
  });
  const session = sessionId();
  const memoryRecords: SolveRecord[] = [];
  // Checks of a student's work count in the session's ledger but are not solves: kept out of the history.
  const checkRecords: SolveRecord[] = [];
  const records = async () => (history ? history.list() : [...memoryRecords].reverse());

  const solveView = new SolveView({
    steps: byId<HTMLOListElement>('steps'),
    answer: byId('answer'),
    answerText: byId('answer-text'),
    status: byId('run-status'),
    error: byId('run-error'),
  });
  const ledgerView = new LedgerView(byId('ledger-body'));
  let shown: SolveRecord | null = null;
  const refresh = async () => {
    const all = await records();
    ledgerView.render(shown, [...checkRecords, ...all.filter((r) => r.sessionId === session)]);
    historyView.render(all);
  };
  const historyView = new HistoryView(byId('history-body'), (r) => {
    shown = r;
    byId<HTMLTextAreaElement>('problem').value = r.problem;
    solveView.showRecord(r);
    void refresh();
  });

  const keyInfo = (baseUrl: string) => ({ has: keys.get(baseUrl) !== null, remembered: keys.remembered(baseUrl) });
  const settingsView = new SettingsView(caps, keyInfo, ({ settings: next, apiKey, remember }) => {
    settings = next;
    // The view refuses a key without a remote; a key is stored for the remote it was entered with.
    const remoteUrl = next.remote?.baseUrl;
    if (remoteUrl && apiKey !== null) keys.set(remoteUrl, apiKey, remember);
    else if (remoteUrl && keys.get(remoteUrl)) keys.set(remoteUrl, keys.get(remoteUrl)!, remember);
    saveSettings(settings);
    replaceQuery(settingsToQuery(settings, undefined, checkQuery()));
    settingsView.fill(settings);
    showAgreed();
    byId('settings-message').textContent = 'Settings applied.';
  });
  settingsView.fill(settings);
  const showAgreed = () => {
    const origins = agreedOrigins();
    byId('agreed-hosts').textContent = origins.length ? `Hosts you agreed to from links: ${origins.map((o) => new URL(o).host).join(', ')}.` : '';
    byId('forget-agreed').hidden = !origins.length;
  };
  showAgreed();
  const models = new ModelManager(caps, document.baseURI, (role, s) => settingsView.showStatus(role, s));

  const networkStatus = byId('network-status');
  // Set when a run's remote request got no response at all; cleared when the next run starts.
  let unreachable: Unreachable | null = null;
  const showNetwork = () => {
    const text = networkBanner(navigator.onLine, unreachable);
    networkStatus.hidden = text === null;
    networkStatus.textContent = text ?? '';
    networkStatus.dataset.reason = unreachable ? 'unreachable' : navigator.onLine ? '' : 'offline';
  };
  addEventListener('online', showNetwork);
  addEventListener('offline', showNetwork);
  showNetwork();

  const problemBox = byId<HTMLTextAreaElement>('problem');
  if (url.problem) problemBox.value = url.problem;
  const checkMode = setupCheckMode({
    settings: () => settings,
    models,
    keys,
    confirm: {
      dialog: byId<HTMLDialogElement>('confirm-dialog'),
      host: byId('confirm-host'),
      url: byId('confirm-url'),
      body: byId('confirm-body'),
      send: byId<HTMLButtonElement>('confirm-send'),
      refuse: byId<HTMLButtonElement>('confirm-refuse'),
    },
    sessionId: session,
    showInLedger: (rec) => {
      if (!checkRecords.includes(rec)) checkRecords.push(rec);
      shown = rec;
      void refresh();
    },
    base: document.baseURI,
  });
  if (url.solution) checkMode.setSolution(url.solution);
  const modeRadios = [...document.querySelectorAll<HTMLInputElement>('#mode-switch input[name="mode"]')];
  const mode = () => (modeRadios.find((r) => r.checked)?.value === 'check' ? 'check' : 'solve');
  const showMode = () => {
    byId('check-panel').hidden = mode() !== 'check';
    byId('solve-panel').hidden = mode() === 'check';
    document.body.dataset.mode = mode();
  };
  modeRadios.forEach((r) => {
    r.checked = r.value === url.mode;
    r.addEventListener('change', showMode);
  });
  showMode();
  const checkQuery = () => (mode() === 'check' ? { solution: checkMode.solution() } : undefined);
  const solveButton = byId<HTMLButtonElement>('solve-button');
  const stopButton = byId<HTMLButtonElement>('stop-button');
  let run: Run | null = null;
  let loading: AbortController | null = null;

  const confirmEls = {
    dialog: byId<HTMLDialogElement>('confirm-dialog'),
    host: byId('confirm-host'),
    url: byId('confirm-url'),
    body: byId('confirm-body'),
    send: byId<HTMLButtonElement>('confirm-send'),
    refuse: byId<HTMLButtonElement>('confirm-refuse'),
  };

  const solveNow = async () => {
    let problem: string;
    try {
      problem = validateProblem(problemBox.value);
    } catch (err) {
      solveView.begin('');
      solveView.showError(errorMessage(err));
      return;
    }
    solveButton.disabled = true;
    stopButton.disabled = false;
    document.body.dataset.running = 'true';
    shown = null;
    unreachable = null;
    showNetwork();
    solveView.begin('Loading models…');
    loading = new AbortController();
    try {
      const s = await withBudget(settings);
      const local = await models.prepare(s, loading.signal);
      loading = null;
      const { weak, prm } = local;
      // Only the key entered for this remote's own origin, never another server's.
      const key = s.remote ? keys.get(s.remote.baseUrl) : null;
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
      solveView.setStrongWhere(setup.strongWhere);
      let gpuLost: WebGpuMemoryError | null = null;
      run = startRun(problem, {
        weak,
        prm,
        strong,
        settings: s,
        // Only a remote strong model needs the network.
        gate: () => (!strong ? 'no-remote' : strong.where === 'device' ? null : !navigator.onLine ? 'offline' : null),
        confirm: s.confirmRemote ? (t, signal) => confirmTransmission(confirmEls, t, signal) : undefined,
        save: async (r) => {
          if (history) await history.save(r);
          else {
            const i = memoryRecords.findIndex((x) => x.id === r.id);
            if (i >= 0) memoryRecords[i] = r;
            else memoryRecords.push(r);
          }
        },
        sessionId: session,
        setup,
        onEvent: (e, rec) => {
          if (e.type === 'error' && e.error instanceof WebGpuMemoryError) gpuLost = e.error;
          if (e.type === 'hold' && s.remote) {
            unreachable = { host: new URL(s.remote.baseUrl).host, error: e.message };
            showNetwork();
          }
          solveView.onEvent(e, rec);
          if (e.type === 'step' || e.type === 'done') {
            shown = rec;
            void refresh();
          }
        },
      });
      shown = run.record;
      const rec = await run.done;
      shown = rec;
      if (gpuLost) {
        // The GPU device is gone mid-solve: drop the engine and offer the smaller model, as after a failed load.
        await models.unloadAll();
        showLoadError(gpuLost);
      } else if (rec.error && rec.status === 'error') solveView.showError(rec.error);
    } catch (err) {
      if (isAbort(err)) solveView.setStatus('Stopped while loading the models.');
      else showLoadError(err);
    } finally {
      run = null;
      loading = null;
      solveButton.disabled = false;
      stopButton.disabled = true;
      await refresh();
      // For anyone (tests included) waiting for a run to finish.
      document.body.dataset.running = 'false';
      document.body.dataset.runs = String(Number(document.body.dataset.runs ?? 0) + 1);
    }
  };

  // Budget calibration runs the simulator in its own worker, created on first use; results are kept.
  let calibrator: Comlink.Remote<{ calibrateForBudget: typeof calibrateForBudget }> | null = null;
  const calibrated = new Map<string, { settings: Settings; note: string }>();
  const policyNote = byId('policy-note');
  const withBudget = async (s: Settings): Promise<Settings> => {
    policyNote.textContent = '';
    if (s.budget === null) return s;
    const key = `${s.policy}@${s.budget}`;
    let out = calibrated.get(key);
    if (!out) {
      solveView.setStatus(`Choosing the policy's setting for ${s.budget}% of steps sent…`);
      calibrator ??= Comlink.wrap(new Worker(new URL('../../workers/calibrate.worker.ts', import.meta.url), { type: 'module', name: 'calibration' }));
      const choice = await calibrator.calibrateForBudget(s.policy, s.budget);
      out = { settings: { ...s, policy: choice.spec }, note: budgetNote(s.budget, choice) };
      calibrated.set(key, out);
    }
    policyNote.textContent = out.note;
    return out.settings;
  };

  const showLoadError = (err: unknown) => {
    const smaller = err instanceof WebGpuMemoryError ? smallerWebllmModel(err.modelId) : null;
    solveView.setStatus('');
    solveView.showError(
      errorMessage(err),
      smaller
        ? {
            label: `Load the smaller ${smaller}`,
            run: () => {
              settings = { ...settings, weak: { kind: 'webllm', model: smaller } };
              saveSettings(settings);
              settingsView.fill(settings);
              void models.unloadAll().then(solveNow);
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
      const examples = await loadExamples(new URL('./organism/test.jsonl', document.baseURI).href);
      if (examples.length) problemBox.value = examples[Math.floor(Math.random() * examples.length)]!;
    } catch (err) {
      solveView.showError(errorMessage(err));
    }
  });
  byId('forget-key').addEventListener('click', () => {
    const target = settingsView.remoteEntered() ?? settings.remote?.baseUrl;
    if (!target) return void (byId('settings-message').textContent = 'Enter the remote server whose key should be forgotten.');
    keys.forget(target);
    settingsView.showKeyStatus();
    byId('settings-message').textContent = `The API key for ${new URL(target).host} was forgotten.`;
  });
  byId('forget-agreed').addEventListener('click', () => {
    forgetAgreedOrigins();
    showAgreed();
    byId('settings-message').textContent = 'Forgotten: a link to those hosts will ask again.';
  });
  byId('load-models').addEventListener('click', () => {
    const ac = new AbortController();
    models.prepare(settings, ac.signal).then(
      () => (byId('settings-message').textContent = 'Models loaded.'),
      (err) => (byId('settings-message').textContent = errorMessage(err)),
    );
  });
  byId('copy-link').addEventListener('click', async () => {
    const link = location.origin + location.pathname + settingsToQuery(settings, problemBox.value, checkQuery());
    await navigator.clipboard?.writeText(link).catch(() => {});
    byId('settings-message').textContent = `Link (no API key in it): ${link}`;
  });
  byId('clear-cache').addEventListener('click', async () => {
    await models.unloadAll();
    const cleared = await clearModelCaches();
    byId('settings-message').textContent = cleared.length ? `Cleared: ${cleared.join(', ')}. Models download again on the next solve.` : 'No cached models were found.';
  });
  byId('clear-history').addEventListener('click', async () => {
    await history?.clear();
    memoryRecords.length = 0;
    shown = null;
    await refresh();
  });

  await refresh();
  if (linkReview.newHosts.length) {
    document.body.dataset.link = 'asking';
    void askAboutLink(
      { dialog: byId<HTMLDialogElement>('link-dialog'), hosts: byId('link-hosts'), accept: byId<HTMLButtonElement>('link-accept'), decline: byId<HTMLButtonElement>('link-decline') },
      linkReview.newHosts,
    ).then((agreed) => {
      if (agreed) {
        addAgreedOrigins(linkReview.newHosts.map((d) => d.origin));
        settings = url.settings;
        notify(`Using the link's settings: ${linkReview.newHosts.map((d) => d.host).join(', ')} added.`);
      } else {
        // Only the problem text is taken from a declined link; the address bar then shows what is in use.
        replaceQuery(settingsToQuery(settings, url.problem ?? undefined, url.mode === 'check' ? { solution: url.solution ?? undefined } : undefined));
        notify(`Kept your settings: nothing is sent to ${linkReview.newHosts.map((d) => d.host).join(', ')}.`);
      }
      settingsView.fill(settings);
      showAgreed();
      document.body.dataset.link = agreed ? 'agreed' : 'declined';
    });
  }
  document.body.dataset.ready = 'true';
}

function replaceQuery(query: string): void {
  window.history.replaceState(null, '', location.pathname + query);
}

/** A secret (or anything unknown) in a link must not stay in the address bar or the browser history. */
function scrubFromAddressBar(names: string[]): void {
  const params = new URLSearchParams(location.search);
  names.forEach((n) => params.delete(n));
  const q = params.toString();
  replaceQuery(q ? `?${q}` : '');
}

function safeLocalStorage(): Storage | null {
  try {
    return localStorage;
  } catch {
    return null;
  }
}

function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const ui = { banner: byId('update-banner'), reload: byId<HTMLButtonElement>('update-reload') };
  registerUpdatingServiceWorker(navigator.serviceWorker, ui).catch((err) => console.warn('Offline support is unavailable:', errorMessage(err)));
}

boot().catch((err) => {
  const el = document.getElementById('notices');
  if (el) el.textContent = `The page failed to start: ${errorMessage(err)}`;
});

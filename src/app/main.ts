// The page: wires settings, models, the two modes (Solve: modes/solve-mode.ts; Check my work:
// modes/check-mode.ts), the ledger and the history together.

import 'katex/dist/katex.min.css';
import './styles.css';
import { errorMessage } from '../core/errors.ts';
import { describeCapabilities, preflight, type Capabilities } from './capabilities.ts';
import { byId, h } from './dom.ts';
import { registerServiceWorker as registerUpdatingServiceWorker } from './sw-update.ts';
import { History, type SolveRecord } from './history.ts';
import { clearModelCaches, ModelManager } from './models.ts';
import { networkBanner, type Unreachable } from './remote-gate.ts';
import { reviewLink } from './link-guard.ts';
import { ApiKeyStore } from './secrets.ts';
import { defaultSettings, type Settings } from './settings.ts';
import { addAgreedOrigins, agreedOrigins, forgetAgreedOrigins, loadStoredSettings, saveSettings, sessionId } from './storage.ts';
import { readUrlConfig, settingsToQuery, type PageMode } from './url-config.ts';
import { setupCheckMode } from './modes/check-mode.ts';
import { setupSolveMode } from './modes/solve-mode.ts';
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
  // Set once the mode switch is wired (below); the history's click handler needs it.
  let setMode: (m: PageMode) => void = () => {};
  const historyView = new HistoryView(byId('history-body'), (r) => {
    shown = r;
    byId<HTMLTextAreaElement>('problem').value = r.problem;
    solveView.showRecord(r);
    // A solve from the history is shown where solves are.
    setMode('solve');
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
  // One dialog shows every request before it leaves, for both modes.
  const confirmEls = {
    dialog: byId<HTMLDialogElement>('confirm-dialog'),
    host: byId('confirm-host'),
    url: byId('confirm-url'),
    body: byId('confirm-body'),
    send: byId<HTMLButtonElement>('confirm-send'),
    refuse: byId<HTMLButtonElement>('confirm-refuse'),
  };
  const checkMode = setupCheckMode({
    settings: () => settings,
    models,
    keys,
    confirm: confirmEls,
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
    byId('solve-heading').textContent = mode() === 'check' ? 'Check my work' : 'Solve';
  };
  setMode = (m) => {
    modeRadios.forEach((r) => (r.checked = r.value === m));
    showMode();
  };
  modeRadios.forEach((r) => r.addEventListener('change', showMode));
  setMode(url.mode);
  const checkQuery = () => (mode() === 'check' ? { solution: checkMode.solution() } : undefined);
  setupSolveMode({
    settings: () => settings,
    useSettings: (next) => {
      settings = next;
      saveSettings(settings);
      settingsView.fill(settings);
    },
    models,
    keys,
    confirm: confirmEls,
    view: solveView,
    save: async (r) => {
      if (history) await history.save(r);
      else {
        const i = memoryRecords.findIndex((x) => x.id === r.id);
        if (i >= 0) memoryRecords[i] = r;
        else memoryRecords.push(r);
      }
    },
    sessionId: session,
    setShown: (r) => (shown = r),
    refresh,
    setUnreachable: (u) => {
      unreachable = u;
      showNetwork();
    },
    base: document.baseURI,
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

// "Check my work": a student's own solution is scored step by step by the PRM on this device (nothing
// leaves it while checking), the first step under the flag threshold is marked, and only when asked is
// that step (with the problem and the steps before it, never a later one) sent to a strong model for a
// hint. A strong model on the device writes a corrected step instead: it cannot follow a tutor's brief.
// The checker is the PRM of the settings, or the strong model on the device read by lm-likelihood (the
// probability of each step's least likely token); "automatic" takes the strong model when its folder
// records a calibrated flag threshold (the organism demo's does: it flags slips far better than the PRM).

import { openAIHintModel } from '../../backends/hint.ts';
import { splitStudentSteps } from '../../core/check.ts';
import { errorMessage, isAbort, RemoteUnreachableError, SendRefusedError } from '../../core/errors.ts';
import { emptyLedger, recordTransmission } from '../../core/ledger.ts';
import { mulberry32 } from '../../core/rng.ts';
import { injectError } from '../../organism/inject.ts';
import { parseProblem } from '../../organism/task.ts';
import { calibratedThreshold, firstChangedStep, formatThreshold, scoredLine, thresholdNote, type Checked, type DefaultThreshold } from '../check-state.ts';
import { byId } from '../dom.ts';
import { loadExamples } from '../examples.ts';
import type { SolveRecord } from '../history.ts';
import type { StepScorer } from '../../core/types.ts';
import type { ModelManager } from '../models.ts';
import type { ApiKeyStore } from '../secrets.ts';
import { formatPrmSpec, formatWeakSpec, type Settings } from '../settings.ts';
import { confirmTransmission, type ConfirmElements } from '../views/confirm-dialog.ts';
import { CheckView } from '../views/check-view.ts';
import { readProblem, refuse } from './problem-input.ts';

export interface CheckModeDeps {
  settings(): Settings;
  models: ModelManager;
  keys: ApiKeyStore;
  confirm: ConfirmElements;
  sessionId: string;
  /** The check's record in the privacy ledger (a check is not a solve: it stays out of the history). */
  showInLedger(rec: SolveRecord): void;
  /** The page's base URL (models and examples are resolved against it). */
  base: string;
}

export interface CheckMode {
  /** Fills the solution box (from a link). */
  setSolution(text: string): void;
  solution(): string;
}

export function setupCheckMode(deps: CheckModeDeps): CheckMode {
  const problemBox = byId<HTMLTextAreaElement>('problem');
  const solutionBox = byId<HTMLTextAreaElement>('solution');
  const checkButton = byId<HTMLButtonElement>('check-button');
  const stopButton = byId<HTMLButtonElement>('check-stop');
  const thresholdBox = byId<HTMLInputElement>('flag-threshold');
  const noteEl = byId('flag-threshold-note');
  const confirmBox = byId<HTMLInputElement>('check-confirm');
  const checkerBox = byId<HTMLSelectElement>('checker');
  const list = byId<HTMLOListElement>('check-steps');
  const view = new CheckView({
    list,
    status: byId('check-status'),
    error: byId('check-error'),
    help: byId('check-help'),
    helpButton: byId<HTMLButtonElement>('help-button'),
    helpText: byId('help-text'),
  });

  let last: (Checked & { problem: string; threshold: number; checker: Checker }) | null = null;
  let record: SolveRecord | null = null;
  let busy: AbortController | null = null;
  /** Calibrated thresholds per model folder, read once from the folder's config.json. */
  const calibrations = new Map<string, Promise<DefaultThreshold>>();

  const folderCalibration = (url: string) => {
    let p = calibrations.get(url);
    if (!p) {
      p = fetch(new URL(`${url.replace(/\/$/, '')}/config.json`, deps.base))
        .then((r) => (r.ok ? r.json() : null))
        .then(calibratedThreshold, () => {
          // Unreadable now (offline, say): 0.5 this time, and asked again next time.
          calibrations.delete(url);
          return calibratedThreshold(null);
        });
      calibrations.set(url, p);
    }
    return p;
  };

  const defaultThreshold = (s: Settings, checker: Checker) =>
    checker.kind === 'strong' ? folderCalibration(checker.url) : s.prm.kind === 'tjs' ? folderCalibration(s.prm.url) : Promise.resolve(calibratedThreshold(null));

  /** Which checker scores the steps: the choice beside the threshold, "automatic" resolved. */
  const resolveChecker = async (s: Settings): Promise<Checker> => {
    const choice = checkerBox.value;
    if (choice === 'prm' || !s.strongLocal) return { kind: 'prm' };
    if (choice === 'strong') return { kind: 'strong', url: s.strongLocal };
    return (await folderCalibration(s.strongLocal)).source === 'calibrated' ? { kind: 'strong', url: s.strongLocal } : { kind: 'prm' };
  };
  const checkerId = (s: Settings, c: Checker) => (c.kind === 'strong' ? `lm-likelihood:tjs:${c.url}` : formatPrmSpec(s.prm));

  // The checker is a choice of this browser, like the threshold.
  checkerBox.value = storedChoice(CHECKER_KEY) ?? 'auto';
  if (!checkerBox.value) checkerBox.value = 'auto';

  // The user's own threshold is a setting of this browser; empty means the PRM's calibrated one.
  thresholdBox.value = storedChoice(THRESHOLD_KEY) ?? '';
  /** The user's threshold, or the checker's calibrated one (shown as the box's placeholder). */
  const threshold = async (s: Settings, checker: Checker): Promise<number> => {
    const d = await defaultThreshold(s, checker);
    thresholdBox.placeholder = formatThreshold(d.threshold);
    noteEl.textContent =
      checker.kind === 'strong'
        ? `Checker: the strong model on this device (how likely it finds each step). ${thresholdNote(d, 'checker')}`
        : `Checker: the PRM. ${thresholdNote(d)}`;
    const v = thresholdBox.value.trim();
    const n = Number(v);
    if (v === '') return d.threshold;
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      noteEl.textContent = `${v} is not a number from 0 to 1; using ${thresholdBox.placeholder}. Empty the box for the PRM's own threshold.`;
      return d.threshold;
    }
    return n;
  };

  const finished = () => {
    busy = null;
    checkButton.disabled = false;
    stopButton.disabled = true;
    document.body.dataset.checking = 'false';
    document.body.dataset.checks = String(Number(document.body.dataset.checks ?? 0) + 1);
  };

  const newRecord = (s: Settings, problem: string, checker: string): SolveRecord => ({
    id: crypto.randomUUID(),
    sessionId: deps.sessionId,
    startedAt: Date.now(),
    updatedAt: Date.now(),
    status: 'done',
    problem,
    setup: { weak: formatWeakSpec(s.weak), prm: checker, strong: null, strongWhere: null, policy: 'check my work' },
    steps: [],
    holds: [],
    transmissions: [],
    ledger: emptyLedger(),
    answer: null,
    finish: null,
    error: null,
  });

  const check = async () => {
    const problem = readProblem(problemBox, view);
    if (problem === null) return;
    const steps = splitStudentSteps(solutionBox.value);
    if (!steps.length) return refuse(view, 'Your solution is empty: write or paste your steps, one per paragraph (or one per line).');
    if (steps.length > MAX_STEPS) {
      refuse(view, `Your solution has ${steps.length} steps; a check takes at most ${MAX_STEPS}. Check it in parts (the problem, then the first ${MAX_STEPS} steps).`);
      return;
    }
    const s = deps.settings();
    if (checkerBox.value === 'strong' && !s.strongLocal) {
      refuse(view, 'The strong-model checker needs a strong model on this device: set one under Settings → Remote model, or choose the PRM as the checker.');
      return;
    }
    const checker = await resolveChecker(s);
    if (checker.kind === 'prm' && s.prm.kind === 'none') {
      refuse(view, 'Checking needs a process reward model on this device: choose one in Settings → Process reward model (the demo PRM, a transformers.js folder, or self-check).');
      return;
    }
    checkButton.disabled = true;
    stopButton.disabled = false;
    document.body.dataset.checking = 'true';
    busy = new AbortController();
    view.begin(checker.kind === 'strong' ? 'Loading the strong model…' : 'Loading the PRM…');
    try {
      const prm: StepScorer | undefined =
        checker.kind === 'strong' ? await deps.models.prepareLmChecker(s, busy.signal) : await deps.models.preparePrm(s, busy.signal);
      if (!prm) throw new Error('The PRM did not load; check Settings → Process reward model.');
      const t = await threshold(s, checker);
      view.scoreName = checker.kind === 'strong' ? 'Likelihood' : 'PRM';
      const key = JSON.stringify([problem, checkerId(s, checker)]);
      const from = firstChangedStep(last, key, steps);
      if (!record || last?.key !== key) record = newRecord(s, problem, checkerId(s, checker));
      const scores: (number | undefined)[] = [...(last?.scores.slice(0, from) ?? []), ...steps.slice(from).map(() => undefined)];
      view.showSteps(steps, scores, t);
      view.setStatus(`Scoring ${steps.length - from} of ${steps.length} steps on this device…`);
      const t0 = performance.now();
      // One step per call: the PRM's cache holds the steps before it, so each call runs one step, and
      // each score shows as soon as it is known.
      for (let i = from; i < steps.length; i++) {
        const got = await prm.score({ problem, steps: steps.slice(0, i + 1), signal: busy.signal });
        scores[i] = got[i];
        record.ledger!.prmCalls++;
        view.showSteps(steps, scores, t);
      }
      const ms = performance.now() - t0;
      last = { key, steps, scores: scores as number[], problem, threshold: t, checker };
      record.updatedAt = Date.now();
      deps.showInLedger(record);
      const flagged = view.showSteps(steps, scores, t);
      Object.assign(list.dataset, { scored: String(steps.length - from), total: String(steps.length), ms: String(Math.round(ms)) });
      const k = formatThreshold(t);
      const verdict = flagged === null ? `No step is below ${k}: nothing to flag.` : `Step ${flagged + 1} is the first below ${k}: look there first.`;
      view.setStatus(`${scoredLine(steps.length - from, steps.length, ms)} ${verdict}`);
      if (flagged !== null) view.offerHelp(s.strongLocal ? 'Show a corrected step' : 'Get a hint for this step');
    } catch (err) {
      view.setStatus('');
      if (isAbort(err)) view.setStatus('Stopped.');
      else view.showError(errorMessage(err));
    } finally {
      finished();
    }
  };

  const help = async () => {
    if (!last || !record) return;
    const flagged = last.scores.findIndex((x) => x < last!.threshold);
    if (flagged < 0) return;
    const { problem, steps } = last;
    const rec = record;
    const s = deps.settings();
    const button = byId<HTMLButtonElement>('help-button');
    button.disabled = true;
    checkButton.disabled = true;
    stopButton.disabled = false;
    busy = new AbortController();
    const signal = busy.signal;
    try {
      if (s.strongLocal) {
        view.showHelpMessage('The strong model on this device is writing the step…');
        const { strong } = await deps.models.prepare(s, signal);
        if (!strong) throw new Error('The strong model on this device did not load; check Settings → Remote model.');
        // It writes step t from the steps before it only: it never sees the student's version.
        const r = await strong.next({ problem, steps: steps.slice(0, flagged), maxTokens: s.maxStepTokens, sampling: { temperature: 0 }, signal });
        view.showHelp('corrected', r.text, `A corrected step ${flagged + 1}, written on this device by the strong model from your steps before it:`);
        return;
      }
      if (!s.remote) {
        view.showHelpMessage('No strong model to ask: add a remote model under Settings → Remote model (or a strong model on this device).');
        return;
      }
      const remote = s.remote;
      const host = new URL(remote.baseUrl).host;
      if (!navigator.onLine) {
        view.showHelpMessage(`You are offline (the hint needs ${host}), so the hint is held. Your steps and scores are kept: ask again when you are back online.`);
        return;
      }
      view.showHelpMessage(`Asking ${host} for a hint about step ${flagged + 1}…`);
      const model = openAIHintModel({
        baseUrl: remote.baseUrl,
        model: remote.model,
        mode: remote.mode,
        apiKey: deps.keys.get(remote.baseUrl) ?? undefined,
        http: { timeoutMs: s.remoteTimeoutMs, maxRetries: 2 },
      });
      const hint = await model.hint({
        problem,
        steps,
        flagged,
        signal,
        beforeSend: async (t) => {
          // The settings' own "Ask me" holds here too: this box can only add asking. A retry sends the
          // same body to the same host the user agreed to: it is recorded, not asked about again.
          if (t.attempt === 1 && (confirmBox.checked || s.confirmRemote) && !(await confirmTransmission(deps.confirm, t, signal)))
            throw new SendRefusedError(`You declined to send your steps to ${t.host}; nothing was sent. Your steps and scores are kept.`);
          rec.transmissions.push(t);
          recordTransmission(rec.ledger!, t);
          rec.setup = { ...rec.setup, strong: `${remote.model} @ ${host}`, strongWhere: 'remote' };
          rec.updatedAt = Date.now();
          deps.showInLedger(rec);
        },
      });
      view.showHelp('hint', hint || '(the model sent an empty hint)', `A hint about step ${flagged + 1} from ${host}:`);
    } catch (err) {
      if (err instanceof RemoteUnreachableError)
        view.showHelpMessage(`The remote model cannot be reached (${errorMessage(err)}), so the hint is held. Your steps and scores are kept: ask again when it can be reached.`);
      else if (isAbort(err)) view.showHelpMessage('Stopped.');
      else view.showHelpMessage(errorMessage(err));
    } finally {
      busy = null;
      button.disabled = false;
      checkButton.disabled = false;
      stopButton.disabled = true;
      document.body.dataset.helps = String(Number(document.body.dataset.helps ?? 0) + 1);
    }
  };

  checkButton.addEventListener('click', () => void check());
  stopButton.addEventListener('click', () => {
    busy?.abort();
    stopButton.disabled = true;
  });
  byId('help-button').addEventListener('click', () => void help());
  // A new threshold re-reads the verdicts; no step needs scoring again.
  thresholdBox.addEventListener('change', async () => {
    storeChoice(THRESHOLD_KEY, thresholdBox.value.trim());
    if (!last || busy) return;
    const t = await threshold(deps.settings(), last.checker);
    last.threshold = t;
    const flagged = view.showSteps(last.steps, last.scores, t);
    if (flagged === null) view.hideHelp();
    else view.offerHelp(deps.settings().strongLocal ? 'Show a corrected step' : 'Get a hint for this step');
  });
  byId('check-example-button').addEventListener('click', async () => {
    try {
      const problems = await loadExamples(new URL('./organism/test.jsonl', deps.base).href);
      if (!problems.length) return;
      const rng = mulberry32(Math.floor(Math.random() * 2 ** 31));
      // A student-style slip (organism/inject.ts), the steps after it carried on from the wrong value.
      const problem = problems[Math.floor(rng() * problems.length)]!.trim();
      const ex = injectError(parseProblem(problem), rng);
      problemBox.value = problem;
      solutionBox.value = ex.steps.join('\n');
      view.begin('');
      view.clearSteps();
    } catch (err) {
      view.showError(errorMessage(err));
    }
  });
  // Another checker is another scale: the next check scores again, and the placeholder follows now.
  checkerBox.addEventListener('change', () => {
    storeChoice(CHECKER_KEY, checkerBox.value === 'auto' ? '' : checkerBox.value);
    const s = deps.settings();
    void resolveChecker(s)
      .then((c) => threshold(s, c))
      .catch(() => {});
  });
  void resolveChecker(deps.settings())
    .then((c) => threshold(deps.settings(), c))
    .catch(() => {});

  return {
    setSolution: (text) => void (solutionBox.value = text),
    solution: () => solutionBox.value,
  };
}

const THRESHOLD_KEY = 'trim.flagThreshold';
const CHECKER_KEY = 'trim.checker';

/** What scores the steps: the settings' PRM, or the strong model on this device by lm-likelihood. */
type Checker = { kind: 'prm' } | { kind: 'strong'; url: string };

/** As many steps as a solve may have (the settings' maximum): a PRM's context is sized for that. */
const MAX_STEPS = 100;

function storedChoice(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storeChoice(key: string, v: string): void {
  try {
    if (v === '') localStorage.removeItem(key);
    else localStorage.setItem(key, v);
  } catch {
    // Storage refused (private mode): the choice still applies to this page.
  }
}

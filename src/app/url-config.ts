// Settings from the page's query string, so a set-up can be shared as a link and driven by tests.
// A secret is never taken from a URL: links end up in histories, logs and screenshots.

import { errorMessage } from '../core/errors.ts';
import {
  checkPolicy,
  checkRemoteBase,
  defaultSettings,
  DEVICE_CHOICES,
  formatPrmSpec,
  formatWeakSpec,
  parseMode,
  parsePrmSpec,
  parseStrongSpec,
  parseWeakSpec,
  type DeviceChoice,
  type Settings,
} from './settings.ts';

export interface UrlConfig {
  settings: Settings;
  /** The `problem` parameter, if any. */
  problem: string | null;
  /** Parameters that could not be used, each with what to do about it. */
  problems: string[];
  /** Names of parameters that looked like secrets and were ignored (and should be removed from the address bar). */
  secrets: string[];
}

const SECRET_NAME = /key|token|secret|password|passwd|auth|bearer|credential/i;

function intIn(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${value}: expected a whole number from ${min} to ${max}.`);
  return n;
}

function numIn(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`${name}=${value}: expected a number from ${min} to ${max}.`);
  return n;
}

type Apply = (s: Settings, value: string, all: URLSearchParams) => void;

// One entry per parameter: adding a parameter is adding a line.
const PARAMS: Record<string, Apply> = {
  weak: (s, v) => (s.weak = parseWeakSpec(v)),
  prm: (s, v) => (s.prm = parsePrmSpec(v)),
  remote: (s, v, all) => {
    if (v.trim() === '') return void (s.remote = null);
    const model = all.get('remoteModel')?.trim();
    if (!model) throw new Error('remote is set but remoteModel is missing: add &remoteModel=NAME (the model name the server expects).');
    s.remote = { baseUrl: checkRemoteBase(v), model, mode: parseMode(all.get('remoteMode')?.trim() || 'continue') };
  },
  // Read together with `remote`; on their own they only need to be valid.
  strong: (s, v) => (s.strongLocal = v.trim() === '' ? null : parseStrongSpec(v)),
  remoteModel: () => {},
  remoteMode: (_s, v) => void parseMode(v.trim()),
  policy: (s, v) => (s.policy = checkPolicy(v)),
  device: (s, v) => {
    if (!(DEVICE_CHOICES as readonly string[]).includes(v)) throw new Error(`device=${v}: use ${DEVICE_CHOICES.join(', ')}.`);
    s.device = v as DeviceChoice;
  },
  confirm: (s, v) => (s.confirmRemote = v === '1' || v === 'true'),
  maxSteps: (s, v) => (s.maxSteps = intIn('maxSteps', v, 1, 100)),
  maxStepTokens: (s, v) => (s.maxStepTokens = intIn('maxStepTokens', v, 1, 8192)),
  temperature: (s, v) => (s.temperature = numIn('temperature', v, 0, 2)),
  topP: (s, v) => (s.topP = numIn('topP', v, 0, 1)),
  seed: (s, v) => (s.seed = intIn('seed', v, 0, 2 ** 31 - 1)),
  timeout: (s, v) => (s.remoteTimeoutMs = intIn('timeout', v, 1, 3600) * 1000),
  budget: (s, v) => (s.budget = v.trim() === '' ? null : numIn('budget', v, 0, 100)),
  problem: () => {},
};

/** Applies the query string on top of `base`; bad parameters are reported and skipped, never fatal. */
export function readUrlConfig(search: string, base: Settings): UrlConfig {
  const params = new URLSearchParams(search);
  const settings: Settings = structuredClone(base);
  const problems: string[] = [];
  const secrets: string[] = [];
  for (const name of new Set(params.keys())) {
    const apply = PARAMS[name];
    if (!apply) {
      if (SECRET_NAME.test(name)) secrets.push(name);
      else problems.push(`Unknown parameter "${name}" was ignored. Known: ${Object.keys(PARAMS).join(', ')}.`);
      continue;
    }
    try {
      apply(settings, params.get(name) ?? '', params);
    } catch (err) {
      problems.push(errorMessage(err));
    }
  }
  if (secrets.length)
    problems.push(`Ignored ${secrets.map((s) => `"${s}"`).join(', ')}: secrets are never read from a link. Enter the API key in Settings → Remote model.`);
  const problem = params.get('problem');
  return { settings, problem: problem && problem.trim() ? problem : null, problems, secrets };
}

/** The query string that reproduces `settings` (for "copy link"); it never contains the API key. */
export function settingsToQuery(s: Settings, problem?: string): string {
  const p = new URLSearchParams();
  p.set('weak', formatWeakSpec(s.weak));
  p.set('prm', formatPrmSpec(s.prm));
  if (s.remote) {
    p.set('remote', s.remote.baseUrl);
    p.set('remoteModel', s.remote.model);
    p.set('remoteMode', s.remote.mode);
  }
  // Written even when empty: the default has one, and "none" must survive a link or a reload.
  p.set('strong', s.strongLocal ? `tjs:${s.strongLocal}` : '');
  p.set('policy', s.policy);
  const d = defaultSettings();
  if (s.device !== d.device) p.set('device', s.device);
  if (s.confirmRemote) p.set('confirm', '1');
  if (s.maxSteps !== d.maxSteps) p.set('maxSteps', String(s.maxSteps));
  if (s.maxStepTokens !== d.maxStepTokens) p.set('maxStepTokens', String(s.maxStepTokens));
  if (s.temperature !== d.temperature) p.set('temperature', String(s.temperature));
  if (s.topP !== d.topP) p.set('topP', String(s.topP));
  if (s.seed !== null) p.set('seed', String(s.seed));
  if (s.remoteTimeoutMs !== d.remoteTimeoutMs) p.set('timeout', String(Math.round(s.remoteTimeoutMs / 1000)));
  if (s.budget !== null) p.set('budget', String(s.budget));
  if (problem?.trim()) p.set('problem', problem);
  return '?' + p.toString();
}

// Settings from the page's query string, so a set-up can be shared as a link and driven by tests.
// A secret is never taken from a URL: links end up in histories, logs and screenshots. A link may
// tighten what the user set, never loosen it: it can turn confirmation on but not off, and where it
// would send data to a new host, link-guard.ts asks first.

import { errorMessage } from '../core/errors.ts';
import {
  checkBundleUrl,
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
  /** `mode=check` opens "Check my work"; anything else (or nothing) the solver. */
  mode: PageMode;
  /** The `solution` parameter (a student's own steps for check mode), if any. */
  solution: string | null;
  /** Parameters that could not be used, each with what to do about it. */
  problems: string[];
  /** Names of parameters that looked like secrets (by name or by value) and were ignored. */
  secrets: string[];
  /** Names to remove from the address bar: the secrets and every unknown parameter. */
  scrub: string[];
}

export type PageMode = 'solve' | 'check';

/** Texts the user wrote (problem, solution): a key mentioned in passing is not a key. */
const TEXT_PARAMS = new Set(['problem', 'solution']);

const SECRET_NAME = /key|token|secret|password|passwd|auth|bearer|credential/i;

// Whole values shaped like the credentials people paste: provider key prefixes, bearer/basic headers,
// JWTs, cloud access keys. Long enough that ordinary words ("sk-learning") and math do not match.
const CREDENTIAL_SHAPES: readonly RegExp[] = [
  /^(?:Bearer|Basic|Token)\s+\S{8,}$/i,
  /^(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}$/,
  /^(?:hf|gsk|r8|ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{16,}$/,
  /^(?:xai|pplx|nvapi|glpat)-[A-Za-z0-9_-]{16,}$/,
  /^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$/,
  /^AKIA[0-9A-Z]{16}$/,
  /^AIza[0-9A-Za-z_-]{30,}$/,
];

/** True when the whole value (trimmed) looks like an API key or token. */
export function isCredential(value: string): boolean {
  const v = value.trim();
  return CREDENTIAL_SHAPES.some((re) => re.test(v));
}

/**
 * True when a setting's value carries a credential anywhere: the whole value, one of its parts
 * (a URL's path or query), a URL's user name or password, or a query parameter named like a secret.
 */
export function carriesCredential(value: string): boolean {
  if (isCredential(value) || value.split(/[\s"'&?=#:/@,;]+/).some(isCredential)) return true;
  try {
    const u = new URL(value.trim());
    return !!(u.username || u.password) || [...u.searchParams.keys()].some((k) => SECRET_NAME.test(k));
  } catch {
    return false;
  }
}

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
    // A link that names a remote means to use it: without strong=, the remote writes the strong steps
    // (otherwise the offline demo's strong model on the device would silently win).
    if (!all.has('strong')) s.strongLocal = null;
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
  // Tighten only: a link that could switch confirmation off could send work out unseen.
  confirm: (s, v) => {
    if (v === '1' || v === 'true') s.confirmRemote = true;
    else if (s.confirmRemote) throw new Error(`confirm=${v} was ignored: a link can turn "Ask me before each request" on, never off. Untick it in Settings if you want to.`);
  },
  maxSteps: (s, v) => (s.maxSteps = intIn('maxSteps', v, 1, 100)),
  maxStepTokens: (s, v) => (s.maxStepTokens = intIn('maxStepTokens', v, 1, 8192)),
  temperature: (s, v) => (s.temperature = numIn('temperature', v, 0, 2)),
  topP: (s, v) => (s.topP = numIn('topP', v, 0, 1)),
  seed: (s, v) => (s.seed = intIn('seed', v, 0, 2 ** 31 - 1)),
  timeout: (s, v) => (s.remoteTimeoutMs = intIn('timeout', v, 1, 3600) * 1000),
  budget: (s, v) => (s.budget = v.trim() === '' ? null : numIn('budget', v, 0, 100)),
  bundle: (s, v) => (s.bundle = v.trim() === '' ? null : checkBundleUrl(v)),
  problem: () => {},
  // Page state, not settings: read by readUrlConfig; a link never sends either anywhere.
  solution: () => {},
  mode: (_s, v) => {
    if (v !== 'solve' && v !== 'check') throw new Error(`mode=${v}: use mode=solve or mode=check.`);
  },
};

/** Applies the query string on top of `base`; bad parameters are reported and skipped, never fatal. */
export function readUrlConfig(search: string, base: Settings): UrlConfig {
  const params = new URLSearchParams(search);
  const settings: Settings = structuredClone(base);
  const problems: string[] = [];
  const secrets: string[] = [];
  const unknown: string[] = [];
  for (const name of new Set(params.keys())) {
    const apply = PARAMS[name];
    const values = params.getAll(name);
    // A problem or solution may mention "sk-" in passing: only a whole value shaped like a key counts there.
    const credential = TEXT_PARAMS.has(name) ? values.some(isCredential) : values.some(carriesCredential);
    if (credential || (!apply && SECRET_NAME.test(name))) {
      secrets.push(name);
      continue;
    }
    if (!apply) {
      unknown.push(name);
      problems.push(`Unknown parameter "${name}" was ignored and removed from the address bar. Known: ${Object.keys(PARAMS).join(', ')}.`);
      continue;
    }
    try {
      apply(settings, params.get(name) ?? '', params);
    } catch (err) {
      problems.push(errorMessage(err));
    }
  }
  // The value is never repeated: the notice itself may end up in a screenshot.
  if (secrets.length)
    problems.push(
      `Ignored and removed from the address bar: ${secrets.map((s) => `"${s}"`).join(', ')} (a secret, or a value that looks like an API key or token). ` +
        'Secrets are never read from a link; enter the API key in Settings → Remote model.',
    );
  const text = (name: string) => {
    const v = secrets.includes(name) ? null : params.get(name);
    return v && v.trim() ? v : null;
  };
  const mode: PageMode = params.get('mode') === 'check' ? 'check' : 'solve';
  return { settings, problem: text('problem'), mode, solution: text('solution'), problems, secrets, scrub: [...secrets, ...unknown] };
}

/** The query string that reproduces `settings` (for "copy link"); it never contains the API key. */
export function settingsToQuery(s: Settings, problem?: string, check?: { solution?: string }): string {
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
  // Written empty when the default has one, so "no bundle" survives a link.
  if (s.bundle !== d.bundle) p.set('bundle', s.bundle ?? '');
  if (problem?.trim()) p.set('problem', problem);
  if (check) p.set('mode', 'check');
  if (check?.solution?.trim()) p.set('solution', check.solution);
  return '?' + p.toString();
}

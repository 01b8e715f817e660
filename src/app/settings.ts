// What the page runs with: which small model, which PRM, which remote, which policy. One plain object,
// written as text specs ("webllm:ID", "tjs:URL#head") so the URL, the settings form and the history all
// speak the same language.

import { isPrmHead, PRM_HEADS, type PrmHead } from '../backends/prm-layout.ts';
import { ConfigError } from '../core/errors.ts';
import { parsePolicySpec } from '../core/policies/index.ts';
import { DEFAULT_LIMITS } from '../core/steps.ts';
import type { ContinuationMode } from '../core/types.ts';

export type DeviceChoice = 'auto' | 'webgpu' | 'wasm';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['auto', 'webgpu', 'wasm'];

export type WeakSpec = { kind: 'webllm'; model: string } | { kind: 'tjs'; url: string };


export type PrmSpec = { kind: 'tjs'; url: string; head: PrmHead } | { kind: 'self' } | { kind: 'none' };

export const CONTINUATION_MODES: readonly ContinuationMode[] = ['raw', 'continue', 'prefix', 'instruct'];

export interface RemoteSpec {
  /** Server base, e.g. https://api.example.com (the client appends /v1/...). */
  baseUrl: string;
  model: string;
  mode: ContinuationMode;
}

export interface Settings {
  weak: WeakSpec;
  prm: PrmSpec;
  remote: RemoteSpec | null;
  /** A transformers.js folder for the strong model on this device; when set it replaces the remote model. */
  strongLocal: string | null;
  /** Policy spec as the registry parses it: "thr:0.5", "weak-only"… */
  policy: string;
  /** Where transformers.js models run. */
  device: DeviceChoice;
  /** Ask before every request that leaves the device. */
  confirmRemote: boolean;
  maxSteps: number;
  maxStepTokens: number;
  temperature: number;
  topP: number;
  /** Seeds sampling and randomised policies; null: a fresh seed per solve. */
  seed: number | null;
  /** Per-request timeout of remote calls. */
  remoteTimeoutMs: number;
  /** Share of steps (percent) the remote model may write; when set, the policy's knob is picked for it. */
  budget: number | null;
  /**
   * A routing bundle (`trim tune`'s JSON) by URL: its tuned pomdp / agg-lambda policies, and the
   * calibration a budget is read from. Null: the policies' defaults.
   */
  bundle: string | null;
}

/**
 * The offline demo: the organism models trained for this project (public/models/organism, a few MB),
 * served beside the page. Weak model, PRM and strong model all run on the device, so it works offline.
 */
export const DEMO_WEAK: WeakSpec = { kind: 'tjs', url: './models/organism/weak' };
export const DEMO_PRM: PrmSpec = { kind: 'tjs', url: './models/organism/prm', head: 'value' };
export const DEMO_STRONG = './models/organism/strong';
/** The demo models' routing bundle: `trim tune` on the organism's validation problems (README, "trim tune"). */
export const DEMO_BUNDLE = './models/organism/routing.json';

/** Whether the settings run the demo's own models, the only ones its routing bundle was tuned for. */
export function usesDemoModels(s: Settings): boolean {
  return formatWeakSpec(s.weak) === formatWeakSpec(DEMO_WEAK) && formatPrmSpec(s.prm) === formatPrmSpec(DEMO_PRM) && s.strongLocal === DEMO_STRONG;
}

export function defaultSettings(): Settings {
  return {
    weak: DEMO_WEAK,
    prm: DEMO_PRM,
    remote: null,
    strongLocal: DEMO_STRONG,
    // The demo's tuned TRIM-POMDP beat TRIM-Thr on the problems it was tuned on (README, "trim tune");
    // without a knob it runs at the bundle's best one.
    policy: 'pomdp',
    device: 'auto',
    confirmRemote: false,
    maxSteps: DEFAULT_LIMITS.maxSteps,
    maxStepTokens: 512,
    temperature: 0.7,
    topP: 0.8,
    seed: null,
    remoteTimeoutMs: 60_000,
    budget: null,
    bundle: DEMO_BUNDLE,
  };
}

const WEBLLM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** http(s) URL or a path relative to the page; never one that carries credentials. */
export function checkModelUrl(url: string, what: string): string {
  const u = url.trim();
  if (!u) throw new ConfigError(`${what}: the model URL is empty. Give a folder URL such as ./models/my-model or https://host/models/my-model.`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(u) && !/^https?:\/\//i.test(u))
    throw new ConfigError(`${what}: "${u}" is not an http(s) URL or a relative path.`);
  if (/^https?:\/\/[^/]*@/i.test(u)) throw new ConfigError(`${what}: the URL carries a user name or password; put credentials in the settings, never in a URL.`);
  return u.replace(/\/+$/, '');
}

/** A routing bundle's URL: http(s) or relative to the page, never carrying credentials. */
export function checkBundleUrl(url: string): string {
  const u = url.trim();
  if (!u) throw new ConfigError('Routing bundle: the URL is empty. Give the URL of a bundle written by "trim tune", e.g. ./models/organism/routing.json.');
  if (/^[a-z][a-z0-9+.-]*:/i.test(u) && !/^https?:\/\//i.test(u)) throw new ConfigError(`Routing bundle: "${u}" is not an http(s) URL or a relative path.`);
  if (/^https?:\/\/[^/]*@/i.test(u)) throw new ConfigError('Routing bundle: the URL carries a user name or password; a bundle is public, fetch it without credentials.');
  return u;
}

export function parseWeakSpec(spec: string): WeakSpec {
  const s = spec.trim();
  const i = s.indexOf(':');
  const kind = i < 0 ? s : s.slice(0, i);
  const rest = i < 0 ? '' : s.slice(i + 1);
  if (kind === 'webllm') {
    if (!WEBLLM_ID.test(rest)) throw new ConfigError(`Small model "${s}": "${rest}" is not a WebLLM model id (e.g. webllm:Qwen2.5-Math-1.5B-Instruct-q4f16_1-MLC).`);
    return { kind: 'webllm', model: rest };
  }
  if (kind === 'tjs') return { kind: 'tjs', url: checkModelUrl(rest, 'Small model') };
  throw new ConfigError(`Small model "${s}": use webllm:MODEL_ID or tjs:URL.`);
}

/** A strong model on the device: only transformers.js folders ("tjs:URL"). */
export function parseStrongSpec(spec: string): string {
  const s = spec.trim();
  if (!s.startsWith('tjs:')) throw new ConfigError(`Strong model "${s}": a strong model on this device is a transformers.js folder, tjs:URL. For a server, use the remote model settings.`);
  return checkModelUrl(s.slice(4), 'Strong model');
}

export function formatWeakSpec(w: WeakSpec): string {
  return w.kind === 'webllm' ? `webllm:${w.model}` : `tjs:${w.url}`;
}

export function parsePrmSpec(spec: string): PrmSpec {
  const s = spec.trim();
  if (s === 'self') return { kind: 'self' };
  if (s === 'none') return { kind: 'none' };
  if (s.startsWith('tjs:')) {
    const hash = s.lastIndexOf('#');
    const url = hash < 0 ? s.slice(4) : s.slice(4, hash);
    const head = hash < 0 ? 'value' : s.slice(hash + 1);
    if (!isPrmHead(head)) throw new ConfigError(`PRM "${s}": unknown head "${head}". Use one of ${PRM_HEADS.join(', ')} (e.g. tjs:./models/prm#two-class).`);
    return { kind: 'tjs', url: checkModelUrl(url, 'PRM'), head };
  }
  throw new ConfigError(`PRM "${s}": use tjs:URL#head, self (the small model checks its own steps) or none.`);
}

export function formatPrmSpec(p: PrmSpec): string {
  return p.kind === 'tjs' ? `tjs:${p.url}#${p.head}` : p.kind;
}

/** A remote base URL: absolute http(s), no credentials, no query (keys in URLs leak into logs). */
export function checkRemoteBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new ConfigError(`Remote "${url}" is not a URL. Give the server base, e.g. https://api.example.com or http://127.0.0.1:8000.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`Remote "${url}": only http and https servers are supported.`);
  if (u.username || u.password) throw new ConfigError('The remote URL carries a user name or password. Remove it and enter the API key in the settings instead.');
  if (u.search || u.hash) throw new ConfigError('The remote URL has a query or fragment. Give only the server base; the API key goes in the settings.');
  return u.href.replace(/\/+$/, '');
}

export function parseMode(mode: string): ContinuationMode {
  if ((CONTINUATION_MODES as readonly string[]).includes(mode)) return mode as ContinuationMode;
  throw new ConfigError(`Unknown continuation mode "${mode}". Use one of ${CONTINUATION_MODES.join(', ')}.`);
}

export function checkPolicy(spec: string): string {
  const name = spec.split(':', 1)[0]!.trim();
  // TRIM-Agg needs its networks, which come with a bundle: here only its name and knob can be checked.
  if (name === 'agg' || name === 'agg-lambda') parsePolicySpec(spec.replace(/^\s*agg(-lambda)?/, 'pomdp'));
  else parsePolicySpec(spec);
  return spec.trim();
}


// The model, PRM, policy and sampling flags of `trim solve`, shared by every command that runs TRIM.
// A role's model comes from one "source" among several (remote servers now; local model folders are
// another source, added to the lists below without touching the commands).

import { ConfigError } from '../core/errors.ts';
import { createPolicy, policyEntry, policyNames } from '../core/policies/index.ts';
import { DEFAULT_LIMITS, type Limits } from '../core/steps.ts';
import type { ContinuationMode, RoutingPolicy, Sampling, StepModel, StepScorer } from '../core/types.ts';
import { continuationModes } from '../backends/continuation.ts';
import { serverBase } from '../backends/endpoint.ts';
import { openAIStepModel } from '../backends/openai.ts';
import { vllmPrmScorer } from '../backends/vllm-prm.ts';
import { parseOptions, UsageError } from './command.ts';
import { keyFromEnv } from './key-env.ts';
import { checkLocalFlagsHaveFolders, localLmChecker, localModelFlagOptions, localModelsUsage, localScorer, localStepModel } from './local-models.ts';
import { bundleDefaultKnob, checkBundleHolds, loadPolicyArtefacts, policyArtefactOptions, policyArtefactsUsage } from './policy-artefacts.ts';

export const modelFlagOptions = {
  'weak-url': { type: 'string' },
  'weak-model': { type: 'string' },
  'weak-mode': { type: 'string' },
  'weak-key-env': { type: 'string' },
  'strong-url': { type: 'string' },
  'strong-model': { type: 'string' },
  'strong-mode': { type: 'string' },
  'strong-key-env': { type: 'string' },
  'prm-url': { type: 'string' },
  'prm-model': { type: 'string' },
  ...localModelFlagOptions,
  policy: { type: 'string' },
  threshold: { type: 'string' },
  rate: { type: 'string' },
  lambda: { type: 'string' },
  ...policyArtefactOptions,
  'max-steps': { type: 'string' },
  'max-step-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const DEFAULT_SAMPLING = { temperature: 0.7, topP: 0.8 } as const;
export const DEFAULT_MODE: ContinuationMode = 'continue';

export const modelFlagsUsage = `
Models (each role: a server base URL; the client appends /v1/... and /pooling):
  --weak-url URL --weak-model NAME        the small model that drafts every step
  [--weak-mode MODE] [--weak-key-env VAR]
  --strong-url URL --strong-model NAME    the large model that rewrites rejected steps
  [--strong-mode MODE] [--strong-key-env VAR]
  --prm-url URL --prm-model NAME          vLLM step-pooling PRM (POST {URL}/pooling); needed by
                                          policies that score drafts (thr with 0<K<1, query)
  MODE is how a server continues the accepted steps: ${continuationModes().join(' | ')}.
    continue  chat completions with continue_final_message (vLLM, SGLang, TGI, llama.cpp) [default]
    raw       /v1/completions with the chat template applied here (Qwen2.5, or Llama 3 by model name)
    prefix    last assistant message with prefix: true (DeepSeek beta, Mistral)
    instruct  plain chat asked for the next step only: approximate, for APIs without prefill
  VAR names an environment variable that holds the API key; the key is sent only as the
  Authorization header to that role's URL and never printed.
  A weak server on this machine (localhost, 127.x, [::1]) counts as on the device: its requests are
  not counted as sent off the device (sentChars); strong and PRM requests always are.
${localModelsUsage.trimEnd()}

Routing:
  --policy ${policyNames().join('|')}
  [--threshold K]   threshold in [0, 1] for thr (regenerate when the draft's score < K) and query
  [--rate R]        share of steps sent to the strong model, for random
  [--lambda L]      reward given up per strong token, for pomdp (default 8e-4) and agg-lambda (the λ
                    of a trained checkpoint in --weights)
${policyArtefactsUsage.trimEnd()}

Limits and sampling:
  [--max-steps ${DEFAULT_LIMITS.maxSteps}] [--max-step-tokens ${DEFAULT_LIMITS.maxStepTokens}] [--temperature ${DEFAULT_SAMPLING.temperature}] [--top-p ${DEFAULT_SAMPLING.topP}] [--seed N]
`;

export type FlagValues = Record<string, string | boolean | undefined>;

export interface RunSetup {
  weak: StepModel;
  strong: StepModel;
  prm?: StepScorer;
  policy: RoutingPolicy;
  /** Files the policy needed (agg weights, pomdp observations), loaded once: pass them to createPolicy. */
  artefacts: Record<string, unknown>;
  limits: Limits;
  sampling: Sampling;
  seed?: number;
}

type Role = 'weak' | 'strong';

/** One way to provide a role's step model from flags. */
export interface StepModelSource {
  /** The flag that selects this source, e.g. "url" for --weak-url. */
  readonly flag: string;
  build(role: Role, v: FlagValues, env: NodeJS.ProcessEnv): StepModel;
}

/** One way to provide the PRM from flags. */
export interface ScorerSource {
  readonly flag: string;
  build(v: FlagValues, env: NodeJS.ProcessEnv): StepScorer;
}

const remoteStepModel: StepModelSource = {
  flag: 'url',
  build(role, v, env) {
    const url = str(v, `${role}-url`)!;
    const model = required(v, `${role}-model`, `the model name the server at --${role}-url serves`);
    const mode = str(v, `${role}-mode`) ?? DEFAULT_MODE;
    if (!(continuationModes() as string[]).includes(mode))
      throw new UsageError(`--${role}-mode must be one of ${continuationModes().join(', ')}; got "${mode}".`);
    const keyEnv = str(v, `${role}-key-env`);
    const host = serverBase(url, `--${role}-url`).host;
    return openAIStepModel({
      baseUrl: url,
      model,
      mode: mode as ContinuationMode,
      template: templateFor(model),
      ...(keyEnv ? { apiKey: keyFromEnv(env, keyEnv, `--${role}-key-env`, `${role.toUpperCase()}_API_KEY`), apiKeySource: `$${keyEnv}` } : {}),
      // The weak model is the "local" one: a server on this machine keeps its bytes on the device.
      where: role === 'weak' && isLoopback(host) ? 'device' : 'remote',
      // The drafting model's own confidence in a draft (StepResult.confidence) is a policy observation.
      logprobs: role === 'weak',
      id: `${role}:${model}`,
    });
  },
};

const remoteScorer: ScorerSource = {
  flag: 'url',
  build(v) {
    return vllmPrmScorer({
      baseUrl: str(v, 'prm-url')!,
      model: required(v, 'prm-model', 'the PRM name the server at --prm-url serves'),
      id: `prm:${str(v, 'prm-model')}`,
    });
  },
};

/** Where each role's model can come from; the first source whose flag is given is used. */
export const stepModelSources: StepModelSource[] = [remoteStepModel, localStepModel];
export const scorerSources: ScorerSource[] = [remoteScorer, localScorer, localLmChecker];

/** Builds models, PRM, policy, limits and sampling from parsed flag values; bad values are UsageErrors. */
export function buildRun(v: FlagValues, env: NodeJS.ProcessEnv = process.env): RunSetup {
  try {
    checkLocalFlagsHaveFolders(v);
    const artefacts = loadPolicyArtefacts(v);
    const policy = buildPolicy(v, artefacts);
    const weak = stepModelFor('weak', v, env);
    const strong = stepModelFor('strong', v, env);
    const prm = scorerFor(v, env);
    if (!prm && needsScorer(v, artefacts))
      throw new UsageError(`--policy ${str(v, 'policy')} scores drafts with a PRM: give --prm-url URL and --prm-model NAME, or --prm-path DIR.`);
    const seed = integer(v, 'seed', 0, 2 ** 32 - 1);
    return {
      weak,
      strong,
      ...(prm ? { prm } : {}),
      policy,
      artefacts,
      limits: {
        maxSteps: integer(v, 'max-steps', 1, 10_000) ?? DEFAULT_LIMITS.maxSteps,
        maxStepTokens: integer(v, 'max-step-tokens', 1, 1_000_000) ?? DEFAULT_LIMITS.maxStepTokens,
      },
      sampling: {
        temperature: number(v, 'temperature', 0, 2) ?? DEFAULT_SAMPLING.temperature,
        topP: number(v, 'top-p', 0, 1) ?? DEFAULT_SAMPLING.topP,
        ...(seed !== undefined ? { seed } : {}),
      },
      ...(seed !== undefined ? { seed } : {}),
    };
  } catch (err) {
    // A URL or knob the backends refuse is still a bad argument.
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** The PRM alone, for commands that score without solving (trim check, first-error eval); undefined when no PRM flag is given. */
export function buildScorer(v: FlagValues, env: NodeJS.ProcessEnv = process.env): StepScorer | undefined {
  try {
    checkLocalFlagsHaveFolders(v);
    return scorerFor(v, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** parseArgs with the model flags plus a command's own; unknown or malformed flags become UsageErrors. */
export function parseFlags<O extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>>(argv: string[], own: O) {
  return { values: parseOptions(argv, { ...modelFlagOptions, ...own }) };
}

function stepModelFor(role: Role, v: FlagValues, env: NodeJS.ProcessEnv): StepModel {
  const given = stepModelSources.filter((s) => str(v, `${role}-${s.flag}`) !== undefined);
  const flags = stepModelSources.map((s) => `--${role}-${s.flag}`).join(' or ');
  if (given.length === 0) throw new UsageError(`The ${role} model is missing: give ${flags} (a --${role}-url also needs --${role}-model NAME).`);
  if (given.length > 1) throw new UsageError(`Give only one of ${flags}.`);
  return given[0]!.build(role, v, env);
}

function scorerFor(v: FlagValues, env: NodeJS.ProcessEnv): StepScorer | undefined {
  const given = scorerSources.filter((s) => str(v, `prm-${s.flag}`) !== undefined);
  if (given.length > 1) throw new UsageError(`Give only one of ${scorerSources.map((s) => `--prm-${s.flag}`).join(' or ')}.`);
  if (given.length === 0 && str(v, 'prm-model') !== undefined) throw new UsageError('--prm-model needs --prm-url URL.');
  return given[0]?.build(v, env);
}

/** Policies whose knob is set by a flag of the same name (the registry says which knob a policy has). */
const KNOB_FLAGS = ['threshold', 'rate', 'lambda'] as const;

function buildPolicy(v: FlagValues, artefacts: Record<string, unknown>): RoutingPolicy {
  const name = required(v, 'policy', policyNames().join('|'));
  const entry = policyEntry(name);
  let knob: number | undefined;
  for (const flag of KNOB_FLAGS) {
    if (str(v, flag) === undefined) continue;
    if (entry.knob?.name !== flag)
      throw new UsageError(`--${flag} does not apply to --policy ${name}${entry.knob ? ` (its knob is --${entry.knob.name})` : ' (it has no knob)'}.`);
    knob = number(v, flag, 0, 1);
  }
  checkBundleHolds(artefacts, name);
  knob ??= bundleDefaultKnob(artefacts, name);
  const seed = integer(v, 'seed', 0, 2 ** 32 - 1);
  return createPolicy(name, { ...(knob !== undefined ? { knob } : {}), ...(seed !== undefined ? { seed } : {}), artefacts });
}

/** Whether the policy asks for a PRM score at the first step (probed on a fresh, separate instance). */
function needsScorer(v: FlagValues, artefacts: Record<string, unknown>): boolean {
  return buildPolicy(v, artefacts).episode(0).plan(1) === 'score';
}

/** The chat template for raw mode, by model family; Qwen2.5's unless the name says Llama 3. */
export function templateFor(model: string): string {
  return /llama-?3/i.test(model) ? 'llama3' : 'qwen2.5';
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function str(v: FlagValues, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

function required(v: FlagValues, name: string, what: string): string {
  const x = str(v, name);
  if (x === undefined || x.trim() === '') throw new UsageError(`--${name} is required (${what}).`);
  return x;
}

function number(v: FlagValues, name: string, min: number, max: number): number | undefined {
  const x = str(v, name);
  if (x === undefined) return undefined;
  const n = Number(x);
  if (x.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}]; got "${x}".`);
  return n;
}

function integer(v: FlagValues, name: string, min: number, max: number): number | undefined {
  const n = number(v, name, min, max);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number; got "${str(v, name)}".`);
  return n;
}

// The policy registry: a policy is a name, a factory and a knob. Adding one is adding a file and a line.

import { ConfigError } from '../errors.ts';
import type { RoutingPolicy } from '../types.ts';
import { aggFromArtefacts, aggLambdaFromArtefacts } from './aggregate.ts';
import { strongOnlyPolicy, weakOnlyPolicy } from './baselines.ts';
import { DEFAULT_LAMBDA, pomdpFromArtefacts } from './pomdp.ts';
import { queryPolicy } from './query.ts';
import { randomPolicy } from './random.ts';
import { thresholdPolicy } from './threshold.ts';

export interface PolicyOptions {
  /** The policy's knob; when absent the entry's default applies. */
  knob?: number;
  seed?: number;
  /** Policy-specific artefacts (learned weights, observation models…), already loaded. */
  artefacts?: Record<string, unknown>;
}

export interface PolicyEntry {
  readonly name: string;
  readonly description: string;
  /** What the knob means, or null when the policy has none. */
  readonly knob: { name: string; default: number } | null;
  create(opts: PolicyOptions): RoutingPolicy;
}

const registry = new Map<string, PolicyEntry>();

export function registerPolicy(e: PolicyEntry): void {
  registry.set(e.name, e);
}

export function policyEntry(name: string): PolicyEntry {
  const e = registry.get(name);
  if (!e) throw new ConfigError(`Unknown policy "${name}". Known: ${policyNames().join(', ')}.`);
  return e;
}

export function policyNames(): string[] {
  return [...registry.keys()];
}

export function createPolicy(name: string, opts: PolicyOptions = {}): RoutingPolicy {
  return policyEntry(name).create(opts);
}

/** Parses "thr:0.5", "query:0.3", "weak-only" into a policy. */
export function parsePolicySpec(spec: string, opts: Omit<PolicyOptions, 'knob'> = {}): RoutingPolicy {
  const [name = '', value] = spec.split(':', 2);
  let knob: number | undefined;
  if (value !== undefined) {
    knob = Number(value);
    if (value.trim() === '' || !Number.isFinite(knob)) throw new ConfigError(`Bad knob in policy "${spec}": "${value}" is not a number.`);
  }
  return createPolicy(name.trim(), { ...opts, knob });
}

registerPolicy({
  name: 'thr',
  description: 'TRIM-Thr: regenerate a step when its PRM score is below the threshold.',
  knob: { name: 'threshold', default: 0.5 },
  create: (o) => thresholdPolicy(o.knob ?? 0.5),
});
registerPolicy({
  name: 'weak-only',
  description: 'The small model writes every step.',
  knob: null,
  create: () => weakOnlyPolicy(),
});
registerPolicy({
  name: 'strong-only',
  description: 'The remote model writes every step.',
  knob: null,
  create: () => strongOnlyPolicy(),
});
registerPolicy({
  name: 'query',
  description: 'Query-level routing: the first draft\'s score decides who writes the whole problem.',
  knob: { name: 'threshold', default: 0.5 },
  create: (o) => queryPolicy(o.knob ?? 0.5),
});
registerPolicy({
  name: 'random',
  description: 'Sends each step to the remote model at a fixed rate, ignoring scores.',
  knob: { name: 'rate', default: 0.2 },
  create: (o) => randomPolicy(o.knob ?? 0.2, o.seed),
});
registerPolicy({
  name: 'agg',
  description: 'TRIM-Agg: a PPO-trained network on score aggregates regenerates when its P(accept) is below the threshold (0.5 = argmax). Needs --weights.',
  knob: { name: 'threshold', default: 0.5 },
  create: (o) => aggFromArtefacts(o.knob ?? 0.5, o.artefacts),
});
registerPolicy({
  name: 'agg-lambda',
  description: 'TRIM-Agg, one PPO-trained network per λ (the paper\'s curve): the knob λ picks the network trained at that λ, which decides by its argmax. Needs --weights (a set from trim train-agg --lambda L1,L2,…).',
  knob: { name: 'lambda', default: DEFAULT_LAMBDA },
  create: (o) => aggLambdaFromArtefacts(o.knob ?? DEFAULT_LAMBDA, o.artefacts),
});
registerPolicy({
  name: 'pomdp',
  description: 'TRIM-POMDP: belief over (all correct, lost, fixable) from PRM scores; λ = reward given up per strong token.',
  knob: { name: 'lambda', default: DEFAULT_LAMBDA },
  create: (o) => pomdpFromArtefacts(o.knob ?? DEFAULT_LAMBDA, o.artefacts),
});

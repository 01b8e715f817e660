// The files learned and belief-based policies need (agg: trained weights; pomdp: an observation model),
// read once from flags and handed to the policy registry as PolicyOptions.artefacts. Policies never
// touch the file system, so the same policies run in the page with artefacts fetched by URL.

import { readFileSync } from 'node:fs';
import { weightSetFromJson } from '../core/agg/weights.ts';
import { BUNDLE_POLICIES, bundleArtefacts, bundleFromJson, bundlePolicies, type BundlePolicy, type RoutingBundle } from '../core/bundle.ts';
import { errorMessage, TrimError } from '../core/errors.ts';
import { BELIEF_MODES } from '../core/pomdp/belief.ts';
import { observationModelFromJson } from '../core/pomdp/observations.ts';
import { UsageError } from './command.ts';

export const policyArtefactOptions = {
  weights: { type: 'string' },
  observations: { type: 'string' },
  belief: { type: 'string' },
  gate: { type: 'string' },
  bundle: { type: 'string' },
} as const;

export const policyArtefactsUsage = `
Learned and belief-based policies:
  --weights FILE        trained TRIM-Agg weights (JSON written by "trim train-agg"), for --policy agg
                        (one λ) or --policy agg-lambda (a set trained with --lambda L1,L2,…)
  --observations FILE   TRIM-POMDP observation model (JSON written by "trim fit-observations"), for
                        --policy pomdp; without it the documented default model is used
  --belief MODE         TRIM-POMDP belief: filter (Bayes filter across steps, default) or reference
                        (current observation only, uniform prior, closeness gate)
  --gate G              TRIM-POMDP closeness gate: accept when the two actions' values are within G of
                        the terminal reward (default 0.01 with --belief reference, 0 with filter)
  --bundle FILE         a routing bundle written by "trim tune": its pomdp and agg-lambda policies
                        (instead of --observations / --weights), its knob grid (what trim eval and trim
                        simulate sweep without --sweep) and its best knob (the default λ; the
                        middle of the grid for the other policy)
`;

type Values = Record<string, string | boolean | string[] | undefined>;

/** Reads and parses a JSON file; a missing file or bad JSON is a UsageError naming the flag. */
export function readJsonFile(path: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read ${flag} ${path}: ${errorMessage(err)}.`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag} ${path} is not valid JSON (${errorMessage(err)}).`);
  }
}

/** The artefacts named by --weights / --observations / --belief, loaded and validated. */
export function loadPolicyArtefacts(v: Values): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  try {
    const bundlePath = str('bundle');
    if (bundlePath !== undefined) {
      if (str('weights') !== undefined || str('observations') !== undefined)
        throw new UsageError('--bundle carries the policies\' weights and observation model: drop --weights and --observations, or drop --bundle.');
      const bundle = bundleFromJson(readJsonFile(bundlePath, '--bundle'), `--bundle ${bundlePath}`);
      for (const p of bundlePolicies(bundle)) Object.assign(out, bundleArtefacts(bundle, p));
      out.bundle = bundle;
    }
    const w = str('weights');
    if (w !== undefined) out.weights = weightSetFromJson(readJsonFile(w, '--weights'), `--weights ${w}`);
    const o = str('observations');
    if (o !== undefined) out.observations = observationModelFromJson(readJsonFile(o, '--observations'), `--observations ${o}`);
  } catch (err) {
    if (err instanceof TrimError && !(err instanceof UsageError)) throw new UsageError(err.message);
    throw err;
  }
  const b = str('belief');
  if (b !== undefined) {
    if (!(BELIEF_MODES as readonly string[]).includes(b)) throw new UsageError(`--belief must be one of ${BELIEF_MODES.join(', ')}; got "${b}".`);
    out.beliefMode = b;
  }
  const g = str('gate');
  if (g !== undefined) {
    const gate = Number(g);
    if (g.trim() === '' || !(gate >= 0) || !Number.isFinite(gate)) throw new UsageError(`--gate must be a number ≥ 0; got "${g}".`);
    out.gate = gate;
  }
  return out;
}

/** The bundle --bundle loaded, if any. */
export function bundleOf(artefacts: Record<string, unknown>): RoutingBundle | undefined {
  return artefacts.bundle as RoutingBundle | undefined;
}

/**
 * Refuses a bundle policy the --bundle does not hold, saying why when `trim tune` left it out (it lost
 * clearly to TRIM-Thr on the tuning problems: provenance.leftOut) instead of asking for --weights.
 */
export function checkBundleHolds(artefacts: Record<string, unknown>, policy: string): void {
  const bundle = bundleOf(artefacts);
  if (!bundle || !(BUNDLE_POLICIES as readonly string[]).includes(policy) || bundlePolicies(bundle).includes(policy as BundlePolicy)) return;
  const leftOut = (bundle.provenance as { leftOut?: { policy?: unknown; reason?: unknown }[] }).leftOut;
  const why = Array.isArray(leftOut) ? leftOut.find((l) => l && l.policy === policy) : undefined;
  throw new UsageError(
    `The bundle has no ${policy} policy${why && typeof why.reason === 'string' ? `: trim tune left it out because ${why.reason}` : ''}; it holds ${bundlePolicies(bundle).join(', ')}. Use one of those, or TRIM-Thr (--policy thr).`,
  );
}

/**
 * The knob a bundle suggests for a policy when none is given: its best point when that is this policy,
 * else the middle of the policy's grid (a knob the bundle has a network and a measurement for).
 */
export function bundleDefaultKnob(artefacts: Record<string, unknown>, policy: string): number | undefined {
  const bundle = bundleOf(artefacts);
  if (!bundle) return undefined;
  if (bundle.best && bundle.best.policy === policy && bundle.best.knob !== null) return bundle.best.knob;
  const grid = (bundle.policies as Record<string, { grid: number[] } | undefined>)[policy]?.grid;
  return grid ? [...grid].sort((a, b) => a - b)[Math.floor(grid.length / 2)] : undefined;
}

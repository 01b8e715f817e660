// A routing bundle: everything a tuned router needs, in one versioned JSON file that `trim tune` writes
// and the CLI (`--bundle FILE`) and the page (`bundle=URL`) read. A bundle is user input (it may come
// from a link), so reading it checks every field and says what is wrong and what to do.
//
// Layout (version 1; version 2 is the same with a "confidence" channel in the pomdp's observations,
// src/core/pomdp/README.md "The drafter's confidence"):
//   {"format": "trim-routing-bundle", "version": 1,
//    "policies": {
//      "pomdp": {"observations": <trim-pomdp-observations JSON>, "transitions": {"pw": p, "ps": p},
//                "hazard": [h1, …]?, "futureTokens": n?, "belief": "filter"|"reference", "gate": g?,
//                "cost": "tokens"|"sent"? (what λ prices; tokens when absent), "futureCost": [c1, …]? (sent:
//                expected characters a regeneration at step t sends),
//                "grid": [λ, …], …},
//      "agg-lambda": {"weights": <trim-agg-weight-set JSON>, "grid": [λ, …]}},
//    "calibration": {"<policy>": [{"knob", "cost", "accuracy", "sentShare", "stepShare"}, …]},
//    "best": {"policy", "knob", "beatsThr", "thr": {"cpt95", "apgr"}, "cpt95", "apgr"},
//    "provenance": {"data": {"path", "sha256", "problems"}, "models": {…}, "seed", "settings", "date",
//                   "labels": {…}, "strongTokensSpent": n}}
// Both policies are optional (a bundle holds at least one). Extra fields under a policy are kept as
// they are, so a newer fit can add what its policy needs without breaking older readers.
// calibration: knob → (cost ÷ strong-only, accuracy, characters sent ÷ strong-only's, share of steps the
// strong model wrote), measured by running the policy on the tuning problems; "thr" is there too, as
// the reference the tuned policies are compared with.

import { checkpointAt, weightSetFromJson, weightSetToJson, type AggWeightSet } from './agg/weights.ts';
import { TrimError } from './errors.ts';
import { BELIEF_MODES, type BeliefMode } from './pomdp/belief.ts';
import { observationModelFromJson, observationModelToJson, type ObservationModel } from './pomdp/observations.ts';

export const BUNDLE_FORMAT = 'trim-routing-bundle';
export const BUNDLE_VERSION = 1;
/**
 * Version 2: the pomdp's observation model carries the drafting model's confidence channel. Written only
 * then, so a bundle without it stays readable by a trim that knows version 1 alone, and one with it is
 * refused by that trim rather than routed on the score alone.
 */
export const BUNDLE_VERSION_CONFIDENCE = 2;
/** The policies a bundle can carry. */
export const BUNDLE_POLICIES = ['pomdp', 'agg-lambda'] as const;
export type BundlePolicy = (typeof BUNDLE_POLICIES)[number];

/** A bundle that cannot be used. */
export class BundleError extends TrimError {}

export interface CalibrationPoint {
  knob: number;
  /** Mean strong tokens (or characters sent, for a bundle tuned with cost "sent") ÷ strong-only's. */
  cost: number;
  accuracy: number;
  /** Characters sent off the device ÷ strong-only's; null when not measured. */
  sentShare: number | null;
  /** Share of steps the strong model wrote. */
  stepShare: number;
}

export interface PomdpBundle {
  observations: ObservationModel;
  pw: number;
  ps: number;
  hazard?: number[];
  futureTokens?: number;
  /** What the policy was tuned to price: strong tokens (absent) or characters sent off the device. */
  cost?: 'tokens' | 'sent';
  /** Cost "sent": expected characters of a regeneration at step t, by t. */
  futureCost?: number[];
  belief: BeliefMode;
  gate?: number;
  grid: number[];
  /** Fields this version does not interpret, kept for round trips. */
  extra: Record<string, unknown>;
}

export interface AggBundle {
  weights: AggWeightSet;
  grid: number[];
  extra: Record<string, unknown>;
}

export interface BestChoice {
  policy: string;
  knob: number | null;
  beatsThr: boolean;
  thr: { cpt95: number | null; apgr: number | null };
  cpt95: number | null;
  apgr: number | null;
}

export interface RoutingBundle {
  policies: { pomdp?: PomdpBundle; 'agg-lambda'?: AggBundle };
  calibration: Record<string, CalibrationPoint[]>;
  best: BestChoice | null;
  provenance: Record<string, unknown>;
}

type Fail = (why: string) => never;

function failer(where: string): Fail {
  return (why) => {
    throw new BundleError(`${where} is not a usable routing bundle: ${why}. Write one with "trim tune" (README, "trim tune").`);
  };
}

const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);

function probability(x: unknown, name: string, fail: Fail, open = false): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1 || (open && (x === 0 || x === 1))) fail(`${name} must be a probability${open ? ' strictly between 0 and 1' : ''}`);
  return x as number;
}

function grid(x: unknown, name: string, fail: Fail): number[] {
  if (!Array.isArray(x) || x.length === 0 || x.length > 200) fail(`${name} must be a non-empty list of at most 200 knob values`);
  const out = (x as unknown[]).map((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${name}[${i}] must be a number ≥ 0`);
    return v as number;
  });
  if (new Set(out).size !== out.length) fail(`${name} repeats a value`);
  return out;
}

function rest(o: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !known.includes(k)));
}

const POMDP_KEYS = ['observations', 'transitions', 'hazard', 'futureTokens', 'cost', 'futureCost', 'belief', 'gate', 'grid'] as const;

function pomdpFromJson(j: unknown, fail: Fail, where: string): PomdpBundle {
  if (!isObject(j)) fail('policies.pomdp must be an object');
  const o = j as Record<string, unknown>;
  let observations: ObservationModel;
  try {
    observations = observationModelFromJson(o.observations, `${where}, policies.pomdp.observations,`);
  } catch (err) {
    throw new BundleError((err as Error).message);
  }
  if (!isObject(o.transitions)) fail('policies.pomdp.transitions must be {"pw": p, "ps": p}');
  const t = o.transitions as Record<string, unknown>;
  const pw = probability(t.pw, 'policies.pomdp.transitions.pw', fail, true);
  const ps = probability(t.ps, 'policies.pomdp.transitions.ps', fail);
  if (ps === 0) fail('policies.pomdp.transitions.ps must be above 0');
  let hazard: number[] | undefined;
  if (o.hazard !== undefined) {
    if (!Array.isArray(o.hazard) || o.hazard.length === 0 || o.hazard.length > 1000) fail('policies.pomdp.hazard must be a non-empty list of probabilities');
    hazard = (o.hazard as unknown[]).map((h, i) => probability(h, `policies.pomdp.hazard[${i}]`, fail));
  }
  let futureTokens: number | undefined;
  if (o.futureTokens !== undefined) {
    if (typeof o.futureTokens !== 'number' || !(o.futureTokens >= 0) || !Number.isFinite(o.futureTokens)) fail('policies.pomdp.futureTokens must be a number ≥ 0');
    futureTokens = o.futureTokens as number;
  }
  const cost = o.cost ?? 'tokens';
  if (cost !== 'tokens' && cost !== 'sent') fail('policies.pomdp.cost must be "tokens" or "sent"');
  let futureCost: number[] | undefined;
  if (o.futureCost !== undefined || cost === 'sent') {
    if (!Array.isArray(o.futureCost) || o.futureCost.length === 0 || o.futureCost.length > 1000 || !o.futureCost.every((c) => typeof c === 'number' && c >= 0 && Number.isFinite(c)))
      fail('policies.pomdp.futureCost must be a non-empty list of numbers ≥ 0 (characters a regeneration sends, by step); a bundle tuned with cost "sent" needs it');
    futureCost = o.futureCost as number[];
  }
  const belief = o.belief ?? 'filter';
  if (typeof belief !== 'string' || !(BELIEF_MODES as readonly string[]).includes(belief)) fail(`policies.pomdp.belief must be one of ${BELIEF_MODES.join(', ')}`);
  let gate: number | undefined;
  if (o.gate !== undefined) {
    if (typeof o.gate !== 'number' || !(o.gate >= 0) || !Number.isFinite(o.gate)) fail('policies.pomdp.gate must be a number ≥ 0');
    gate = o.gate as number;
  }
  return {
    observations,
    pw,
    ps,
    ...(hazard ? { hazard } : {}),
    ...(futureTokens !== undefined ? { futureTokens } : {}),
    ...(o.cost !== undefined ? { cost: cost as 'tokens' | 'sent' } : {}),
    ...(futureCost ? { futureCost } : {}),
    belief: belief as BeliefMode,
    ...(gate !== undefined ? { gate } : {}),
    grid: grid(o.grid, 'policies.pomdp.grid', fail),
    extra: rest(o, POMDP_KEYS),
  };
}

function aggFromJson(j: unknown, fail: Fail, where: string): AggBundle {
  if (!isObject(j)) fail('policies.agg-lambda must be an object');
  const o = j as Record<string, unknown>;
  let weights: AggWeightSet;
  try {
    weights = weightSetFromJson(o.weights, `${where}, policies.agg-lambda.weights,`);
  } catch (err) {
    throw new BundleError((err as Error).message);
  }
  const g = grid(o.grid, 'policies.agg-lambda.grid', fail);
  for (const lambda of g) {
    try {
      checkpointAt(weights, lambda);
    } catch {
      fail(`policies.agg-lambda.grid holds λ = ${lambda}, but no network in its weights was trained at that λ`);
    }
  }
  return { weights, grid: g, extra: rest(o, ['weights', 'grid']) };
}

function calibrationFromJson(j: unknown, fail: Fail): Record<string, CalibrationPoint[]> {
  if (j === undefined) return {};
  if (!isObject(j)) fail('"calibration" must be an object of policy → points');
  const out: Record<string, CalibrationPoint[]> = {};
  for (const [policy, points] of Object.entries(j as Record<string, unknown>)) {
    if (!Array.isArray(points)) fail(`calibration.${policy} must be a list of points`);
    out[policy] = (points as unknown[]).map((p, i) => {
      const name = `calibration.${policy}[${i}]`;
      if (!isObject(p)) fail(`${name} must be an object`);
      const q = p as Record<string, unknown>;
      const num = (k: string, max = Infinity) => {
        const v = q[k];
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) fail(`${name}.${k} must be a number in [0, ${max}]`);
        return v as number;
      };
      const sentShare = q.sentShare === null || q.sentShare === undefined ? null : num('sentShare');
      return { knob: num('knob'), cost: num('cost'), accuracy: num('accuracy', 1), sentShare, stepShare: num('stepShare', 1) };
    });
  }
  return out;
}

function bestFromJson(j: unknown, fail: Fail): BestChoice | null {
  if (j === undefined || j === null) return null;
  if (!isObject(j)) fail('"best" must be an object');
  const o = j as Record<string, unknown>;
  const orNull = (v: unknown, name: string): number | null => {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${name} must be a number or null`);
    return v as number;
  };
  if (typeof o.policy !== 'string' || !o.policy) fail('best.policy must be a policy name');
  if (typeof o.beatsThr !== 'boolean') fail('best.beatsThr must be true or false');
  const thr = isObject(o.thr) ? o.thr : {};
  return {
    policy: o.policy as string,
    knob: orNull(o.knob, 'best.knob'),
    beatsThr: o.beatsThr as boolean,
    thr: { cpt95: orNull(thr.cpt95, 'best.thr.cpt95'), apgr: orNull(thr.apgr, 'best.thr.apgr') },
    cpt95: orNull(o.cpt95, 'best.cpt95'),
    apgr: orNull(o.apgr, 'best.apgr'),
  };
}

/** Validates parsed JSON into a bundle; `where` names the file or URL in error messages. */
export function bundleFromJson(j: unknown, where = 'The bundle'): RoutingBundle {
  const fail = failer(where);
  if (!isObject(j)) fail('it is not a JSON object');
  const o = j as Record<string, unknown>;
  if (o.format !== BUNDLE_FORMAT) fail(`"format" must be "${BUNDLE_FORMAT}"`);
  if (o.version !== BUNDLE_VERSION && o.version !== BUNDLE_VERSION_CONFIDENCE)
    fail(
      `version ${JSON.stringify(o.version)} is not supported (this version of trim reads versions ${BUNDLE_VERSION} and ${BUNDLE_VERSION_CONFIDENCE}; tune it again or update trim)`,
    );
  if (!isObject(o.policies)) fail('"policies" must be an object');
  const p = o.policies as Record<string, unknown>;
  const unknown = Object.keys(p).filter((k) => !(BUNDLE_POLICIES as readonly string[]).includes(k));
  if (unknown.length) fail(`policies.${unknown[0]} is not a policy a bundle can carry (${BUNDLE_POLICIES.join(', ')})`);
  const policies: RoutingBundle['policies'] = {};
  if (p.pomdp !== undefined) policies.pomdp = pomdpFromJson(p.pomdp, fail, where);
  const hasChannel = !!policies.pomdp?.observations.confidence;
  if (o.version === BUNDLE_VERSION && hasChannel) fail('its pomdp observations carry a confidence channel, which needs version 2');
  if (o.version === BUNDLE_VERSION_CONFIDENCE && !hasChannel)
    fail("version 2 means its pomdp observations carry the drafting model's confidence channel, and they do not");
  if (p['agg-lambda'] !== undefined) policies['agg-lambda'] = aggFromJson(p['agg-lambda'], fail, where);
  if (!policies.pomdp && !policies['agg-lambda']) fail(`"policies" holds none of ${BUNDLE_POLICIES.join(', ')}`);
  if (o.provenance !== undefined && !isObject(o.provenance)) fail('"provenance" must be an object');
  return {
    policies,
    calibration: calibrationFromJson(o.calibration, fail),
    best: bestFromJson(o.best, fail),
    provenance: (o.provenance as Record<string, unknown> | undefined) ?? {},
  };
}

/** The JSON a bundle file holds. */
export function bundleToJson(b: RoutingBundle): unknown {
  const policies: Record<string, unknown> = {};
  const pomdp = b.policies.pomdp;
  if (pomdp)
    policies.pomdp = {
      ...pomdp.extra,
      observations: observationModelToJson(pomdp.observations),
      transitions: { pw: pomdp.pw, ps: pomdp.ps },
      ...(pomdp.hazard ? { hazard: pomdp.hazard } : {}),
      ...(pomdp.futureTokens !== undefined ? { futureTokens: pomdp.futureTokens } : {}),
      ...(pomdp.cost !== undefined ? { cost: pomdp.cost } : {}),
      ...(pomdp.futureCost ? { futureCost: pomdp.futureCost } : {}),
      belief: pomdp.belief,
      ...(pomdp.gate !== undefined ? { gate: pomdp.gate } : {}),
      grid: pomdp.grid,
    };
  const agg = b.policies['agg-lambda'];
  if (agg) policies['agg-lambda'] = { ...agg.extra, weights: roundNumbers(weightSetToJson(agg.weights)), grid: agg.grid };
  return {
    format: BUNDLE_FORMAT,
    version: pomdp?.observations.confidence ? BUNDLE_VERSION_CONFIDENCE : BUNDLE_VERSION,
    policies,
    calibration: b.calibration,
    best: b.best,
    provenance: b.provenance,
  };
}

/**
 * Network weights to 7 significant digits: half the bytes of full doubles for a file the page downloads,
 * and far below what moves a decision (the networks were trained in float64 with noisier updates).
 */
function roundNumbers(j: unknown): unknown {
  if (typeof j === 'number') return Number.isInteger(j) ? j : Number(j.toPrecision(7));
  if (Array.isArray(j)) return j.map(roundNumbers);
  if (j && typeof j === 'object') return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, roundNumbers(v)]));
  return j;
}

/** The policies a bundle carries, in BUNDLE_POLICIES order. */
export function bundlePolicies(b: RoutingBundle): BundlePolicy[] {
  return BUNDLE_POLICIES.filter((p) => b.policies[p] !== undefined);
}

/** The knob grid a bundle holds for a policy, or an error naming the policies it has. */
export function bundleGrid(b: RoutingBundle, policy: string): number[] {
  const entry = (b.policies as Record<string, { grid: number[] } | undefined>)[policy];
  if (!entry) throw new BundleError(`The bundle has no ${policy} policy; it holds ${bundlePolicies(b).join(', ')}. Pick one of those, or tune again.`);
  return entry.grid;
}

/**
 * The artefacts (PolicyOptions.artefacts) that run a bundle's policy: for pomdp its observation model
 * (with the bundle's hazard), transitions, belief and gate; for agg-lambda its weight set.
 */
export function bundleArtefacts(b: RoutingBundle, policy: string): Record<string, unknown> {
  if (policy === 'pomdp' && b.policies.pomdp) {
    const p = b.policies.pomdp;
    return {
      observations: p.hazard ? { ...p.observations, hazard: p.hazard } : p.observations,
      pw: p.pw,
      ps: p.ps,
      ...(p.futureTokens !== undefined ? { futureTokens: p.futureTokens } : {}),
      ...(p.cost !== undefined ? { cost: p.cost } : {}),
      ...(p.futureCost ? { futureCost: p.futureCost } : {}),
      beliefMode: p.belief,
      ...(p.gate !== undefined ? { gate: p.gate } : {}),
    };
  }
  if (policy === 'agg-lambda' && b.policies['agg-lambda']) return { weights: b.policies['agg-lambda'].weights };
  bundleGrid(b, policy);
  throw new BundleError(`A bundle carries ${BUNDLE_POLICIES.join(' and ')} only; --policy ${policy} takes no bundle.`);
}

/**
 * The knob that spends at most `share` of steps on the strong model, from the bundle's calibration: the
 * most accurate measured point within it (ties: the cheaper one), or the cheapest point when none is.
 */
export function knobForStepShare(b: RoutingBundle, policy: string, share: number): { knob: number; point: CalibrationPoint; reached: boolean } {
  const points = b.calibration[policy];
  if (!points || points.length === 0)
    throw new BundleError(`The bundle has no calibration for ${policy}, so a budget cannot pick its knob. Tune again, or set the knob instead of a budget.`);
  const within = points.filter((p) => p.stepShare <= share + 1e-12);
  if (within.length === 0) {
    const cheapest = points.reduce((a, p) => (p.stepShare < a.stepShare ? p : a));
    return { knob: cheapest.knob, point: cheapest, reached: false };
  }
  const pick = within.reduce((a, p) => (p.accuracy > a.accuracy || (p.accuracy === a.accuracy && p.stepShare < a.stepShare) ? p : a));
  return { knob: pick.knob, point: pick, reached: true };
}

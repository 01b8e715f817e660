// The observation model of TRIM-POMDP: P(o | state) for o = (min of the previous steps' scores, the
// current step's score), a density on [0, 1]² binned into bins × bins cells, one per hidden state:
//   S0 — every step so far is correct;  S1 — an earlier accepted step was wrong;  S2 — only this step is wrong.
// It is fitted from step-labelled solutions (ProcessBench: `label` = index of the first wrong step, −1
// if none) and a PRM's scores for their steps: the prefix through step t is S0 before the first error,
// S2 at it and S1 after it. The min of no previous scores is 1.
// A model may instead observe the current score alone (`observes: 'score'`, a density on [0, 1] in
// `bins` cells): for the Bayes filter, which already carries the earlier scores in its belief, the
// minimum counts them again, and after a strong step it holds that step's score, which says little
// about the state when the strong model is rarely wrong (src/core/pomdp/README.md, "The plateau").
// Or the current score given the last accepted step's score (`observes: 'score-given-previous'`):
// P(score | last previous score, state), each row of the table normalised, so the previous score is
// context, not evidence counted again. A value-style PRM scores every step after a step it doubts
// low, right ones included; the row says how low is normal there. The solver plans with the marginal
// P(score | state) (`probs`), the belief updates with the conditional table (`given`).

import { TrimError } from '../errors.ts';
import { checkScore } from '../observation-check.ts';
import { kdeBinMasses, kdeBinMasses1, scottBandwidth } from './kde.ts';

export const POMDP_STATES = ['S0', 'S1', 'S2'] as const;
export type PomdpState = 0 | 1 | 2;

/** An observation model or its input that cannot be used (wrong shape, out-of-range score…). */
export class ObservationModelError extends TrimError {}

export const OBSERVATIONS_FORMAT = 'trim-pomdp-observations';

/** What an observation is: (min of the previous scores, current score), or the current score alone. */
export type ObservationKind = 'min-and-score' | 'score' | 'score-given-previous';
export const OBSERVATION_KINDS: readonly ObservationKind[] = ['min-and-score', 'score', 'score-given-previous'];

export interface ObservationModel {
  bins: number;
  /** Absent: 'min-and-score' (bins × bins cells); 'score': bins cells over the current score. */
  observes?: ObservationKind;
  /**
   * P(cell | state), row-major (min-previous bin is the row), each summing to 1; for 'score' and
   * 'score-given-previous', bins cells over the current score.
   */
  probs: readonly [Float64Array, Float64Array, Float64Array];
  /** 'score-given-previous': P(score bin | last previous bin, state), bins × bins, each row summing to 1. */
  given?: readonly [Float64Array, Float64Array, Float64Array];
  /** Prefixes per state the model was fitted on. */
  counts: readonly [number, number, number];
  /** Kernel bandwidths per state: [along min-previous, along current score]. */
  bandwidths: readonly [readonly [number, number], readonly [number, number], readonly [number, number]];
  /** P(the solution ends after step t | it reached step t), t = 1..hazard.length, when fitted. */
  hazard?: readonly number[];
  /** Where the model came from, for people reading the file. */
  source: string;
  /**
   * A second observation, the drafting model's own confidence in its draft (Observation.confidence),
   * conditionally independent of the score given the state (naive Bayes). Absent: the model observes
   * the score alone, and a draft's confidence is ignored.
   */
  confidence?: ConfidenceChannel;
}

/** P(confidence bin | state): `bins` equal cells of [0, 1] per state, each summing to 1. */
export interface ConfidenceChannel {
  bins: number;
  probs: readonly [Float64Array, Float64Array, Float64Array];
  /** Drafts per state it was fitted on. */
  counts: readonly [number, number, number];
  /** Kernel bandwidth per state. */
  bandwidths: readonly [number, number, number];
}

export interface ObservationSample {
  minPrevious: number;
  /** The last accepted step's score (1 at the first step); needed by 'score-given-previous'. */
  lastPrevious?: number;
  score: number;
  /** The drafting model's confidence in the draft, when it reported one (the confidence channel). */
  confidence?: number;
  state: PomdpState;
}

export interface LabelledSolution {
  id: string;
  steps: readonly unknown[];
  /** Index of the first wrong step, or −1 when every step is correct. */
  label: number;
}

/** The cell of an observation; scores are clamped into [0, 1] (a score of exactly 1 is in the last cell). */
export function observationCell(bins: number, minPrevious: number, score: number): number {
  const cell = (v: number) => Math.min(bins - 1, Math.max(0, Math.floor(v * bins)));
  return cell(minPrevious) * bins + cell(score);
}

/** The cell of an observation under a model, whichever kind it observes. */
export function modelCell(m: Pick<ObservationModel, 'bins' | 'observes'>, minPrevious: number, score: number): number {
  return m.observes === 'score' || m.observes === 'score-given-previous' ? observationCell(m.bins, 0, score) : observationCell(m.bins, minPrevious, score);
}

/** The table the belief updates with: the conditional one when the model has it. */
export const beliefProbs = (m: ObservationModel): ObservationModel['probs'] => m.given ?? m.probs;

/** The cell of beliefProbs(m) for a draft's score after the accepted steps' scores `previous`. */
export function beliefCell(m: ObservationModel, previous: readonly number[], score: number): number {
  if (m.given) return observationCell(m.bins, previous.length ? previous[previous.length - 1]! : 1, score);
  let min = 1;
  for (const p of previous) min = Math.min(min, p);
  return modelCell(m, min, score);
}

/**
 * The confidence channel's cell for a draft, or null when the model has no channel or the draft no
 * confidence: the belief then updates on the score alone, exactly as without the channel.
 */
export function confidenceCell(m: Pick<ObservationModel, 'confidence'>, confidence: number | undefined): number | null {
  if (!m.confidence || confidence === undefined) return null;
  return Math.min(m.confidence.bins - 1, Math.max(0, Math.floor(confidence * m.confidence.bins)));
}

/** Cells of a model of this kind (of `probs`). */
export const cellCount = (bins: number, observes: ObservationKind | undefined): number =>
  observes === 'score' || observes === 'score-given-previous' ? bins : bins * bins;

/** The (o, state) pairs of every prefix of a labelled solution. */
export function prefixSamples(sol: LabelledSolution, scores: readonly number[]): ObservationSample[] {
  if (!Number.isInteger(sol.label) || sol.label < -1 || sol.label >= sol.steps.length)
    throw new ObservationModelError(`Solution "${sol.id}": label ${JSON.stringify(sol.label)} is not −1 or a step index below ${sol.steps.length}.`);
  if (scores.length !== sol.steps.length)
    throw new ObservationModelError(
      `Solution "${sol.id}" has ${sol.steps.length} steps but ${scores.length} scores; score every step of the labelled solution.`,
    );
  const out: ObservationSample[] = [];
  let min = 1;
  scores.forEach((raw, i) => {
    const score = checkScore(raw, `Solution "${sol.id}", step ${i + 1}`);
    const state: PomdpState = sol.label < 0 || i < sol.label ? 0 : i === sol.label ? 2 : 1;
    out.push({ minPrevious: min, lastPrevious: i === 0 ? 1 : scores[i - 1]!, score, state });
    min = Math.min(min, score);
  });
  return out;
}

export interface FitOptions {
  bins?: number;
  /** Fixed bandwidth for both axes of every state; Scott's rule per axis and state when absent. */
  bandwidth?: number;
  /**
   * Weight of a uniform floor mixed into every state's density. No cell gets probability 0, so a score
   * never seen in fitting (or a hostile one) moves the belief instead of zeroing it.
   */
  floor?: number;
  hazard?: readonly number[];
  source?: string;
  /** What the model observes (default 'min-and-score'). */
  observes?: ObservationKind;
  /** Also fit the confidence channel, on the samples that carry a confidence (every state needs some). */
  confidence?: boolean;
}

/** Fits P(o | state) by a reflected Gaussian KDE per state, binned. Every state needs samples. */
export function fitObservationModel(samples: readonly ObservationSample[], opts: FitOptions = {}): ObservationModel {
  const bins = opts.bins ?? 20;
  if (!Number.isInteger(bins) || bins < 2 || bins > 200) throw new ObservationModelError(`bins must be an integer in [2, 200], got ${bins}.`);
  const floor = opts.floor ?? 1e-3;
  const observes = opts.observes ?? 'min-and-score';
  const probs: Float64Array[] = [];
  const given: Float64Array[] = [];
  const counts: number[] = [];
  const bandwidths: [number, number][] = [];
  const conditional = observes === 'score-given-previous';
  for (let s = 0; s < 3; s++) {
    const mine = samples.filter((x) => x.state === s);
    if (mine.length === 0)
      throw new ObservationModelError(
        `No prefixes in state ${POMDP_STATES[s]} (${['all steps correct', 'after an earlier error', 'first wrong step'][s]}): fit on solutions with and without errors.`,
      );
    if (conditional && mine.some((x) => x.lastPrevious === undefined))
      throw new ObservationModelError('A score-given-previous model needs each sample\'s last previous score (lastPrevious).');
    const rowOf = (x: ObservationSample) => (conditional ? x.lastPrevious! : x.minPrevious);
    const points = new Float64Array(2 * mine.length);
    mine.forEach((x, i) => {
      points[2 * i] = rowOf(x);
      points[2 * i + 1] = x.score;
    });
    const hx = opts.bandwidth ?? scottBandwidth(mine.map(rowOf));
    const hy = opts.bandwidth ?? scottBandwidth(mine.map((x) => x.score));
    const mass = observes === 'min-and-score' ? kdeBinMasses({ points, hx, hy }, bins) : kdeBinMasses1(mine.map((x) => x.score), hy, bins);
    probs.push(normalise(mass, floor));
    if (conditional) {
      const joint = kdeBinMasses({ points, hx, hy }, bins);
      const table = new Float64Array(bins * bins);
      for (let r = 0; r < bins; r++) table.set(normalise(joint.subarray(r * bins, (r + 1) * bins), floor), r * bins);
      given.push(table);
    }
    counts.push(mine.length);
    bandwidths.push([hx, hy]);
  }
  return {
    bins,
    ...(observes !== 'min-and-score' ? { observes } : {}),
    probs: probs as unknown as ObservationModel['probs'],
    ...(conditional ? { given: given as unknown as ObservationModel['probs'] } : {}),
    counts: counts as unknown as ObservationModel['counts'],
    bandwidths: bandwidths as unknown as ObservationModel['bandwidths'],
    ...(opts.hazard ? { hazard: [...opts.hazard] } : {}),
    source: opts.source ?? 'fitted',
    ...(opts.confidence ? { confidence: fitConfidenceChannel(samples, bins, floor) } : {}),
  };
}

/** P(confidence bin | state) by the same reflected 1-D KDE as the score, on the samples that carry one. */
export function fitConfidenceChannel(samples: readonly ObservationSample[], bins: number, floor: number): ConfidenceChannel {
  const probs: Float64Array[] = [];
  const counts: number[] = [];
  const bandwidths: number[] = [];
  for (let s = 0; s < 3; s++) {
    const values = samples.filter((x) => x.state === s && x.confidence !== undefined).map((x) => x.confidence!);
    if (values.length === 0)
      throw new ObservationModelError(
        `No draft in state ${POMDP_STATES[s]} carries the drafting model's confidence: the confidence channel needs traces from a weak model that reports it (or fit without the channel).`,
      );
    values.forEach((v) => checkConfidence(v, 'A fitting sample'));
    const h = scottBandwidth(values);
    probs.push(normalise(kdeBinMasses1(values, h, bins), floor));
    counts.push(values.length);
    bandwidths.push(h);
  }
  return {
    bins,
    probs: probs as unknown as ConfidenceChannel['probs'],
    counts: counts as unknown as ConfidenceChannel['counts'],
    bandwidths: bandwidths as unknown as ConfidenceChannel['bandwidths'],
  };
}

/** A confidence must be a probability; anything else is refused with where it came from. */
export function checkConfidence(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
    throw new ObservationModelError(`${where}: the drafting model's confidence must be a number in [0, 1], got ${JSON.stringify(v)}.`);
  return v;
}

function normalise(mass: Float64Array, floor: number): Float64Array {
  let total = 0;
  for (const m of mass) total += m;
  // A row no sample comes near (a conditional table's) is uniform rather than 0/0.
  if (!(total > 0)) return new Float64Array(mass.length).fill(1 / mass.length);
  const out = new Float64Array(mass.length);
  for (let i = 0; i < mass.length; i++) out[i] = (1 - floor) * (mass[i]! / total) + floor / mass.length;
  return out;
}

/** The JSON a file holds: plain arrays, rounded to 6 significant digits (the fit is not more precise). */
export function observationModelToJson(m: ObservationModel): unknown {
  const state = (s: number) => ({
    count: m.counts[s],
    bandwidth: m.bandwidths[s],
    probs: Array.from(m.probs[s]!, (v) => Number(v.toPrecision(6))),
    ...(m.given ? { given: Array.from(m.given[s]!, (v) => Number(v.toPrecision(6))) } : {}),
  });
  const c = m.confidence;
  const channel = (s: number) => ({ count: c!.counts[s], bandwidth: c!.bandwidths[s], probs: Array.from(c!.probs[s]!, (v) => Number(v.toPrecision(6))) });
  return {
    format: OBSERVATIONS_FORMAT,
    // Version 2 only when the file carries the confidence channel: a reader that knows version 1 alone
    // then refuses it instead of silently routing on the score alone.
    version: c ? 2 : 1,
    source: m.source,
    bins: m.bins,
    ...(m.observes && m.observes !== 'min-and-score' ? { observes: m.observes } : {}),
    states: { S0: state(0), S1: state(1), S2: state(2) },
    ...(m.hazard ? { hazard: m.hazard.map((v) => Number(v.toPrecision(6))) } : {}),
    ...(c ? { confidence: { bins: c.bins, states: { S0: channel(0), S1: channel(1), S2: channel(2) } } } : {}),
  };
}

/** Validates parsed JSON into a model; every problem is reported with what to do. */
export function observationModelFromJson(j: unknown, where = 'observation model'): ObservationModel {
  const fail = (why: string): never => {
    throw new ObservationModelError(`${where} is not a TRIM-POMDP observation model: ${why}. Create one with "trim fit-observations".`);
  };
  if (!j || typeof j !== 'object') fail('it is not a JSON object');
  const o = j as Record<string, unknown>;
  if (o.format !== OBSERVATIONS_FORMAT) fail(`"format" must be "${OBSERVATIONS_FORMAT}"`);
  if (o.version !== 1 && o.version !== 2) fail(`version ${JSON.stringify(o.version)} is not supported (expected 1, or 2 with a confidence channel)`);
  if (o.version === 2 && o.confidence === undefined) fail('version 2 must hold "confidence" (the drafting model\'s confidence channel)');
  if (o.version === 1 && o.confidence !== undefined) fail('"confidence" needs version 2');
  const bins = o.bins;
  if (typeof bins !== 'number' || !Number.isInteger(bins) || bins < 2 || bins > 200) fail('"bins" must be an integer in [2, 200]');
  const b = bins as number;
  const observes = o.observes ?? 'min-and-score';
  if (!OBSERVATION_KINDS.includes(observes as ObservationKind)) fail(`"observes" must be one of ${OBSERVATION_KINDS.join(', ')}`);
  const cells = cellCount(b, observes as ObservationKind);
  const states = o.states as Record<string, unknown> | undefined;
  if (!states || typeof states !== 'object') fail('"states" is missing');
  const probs: Float64Array[] = [];
  const given: Float64Array[] = [];
  const counts: number[] = [];
  const bandwidths: [number, number][] = [];
  for (const name of POMDP_STATES) {
    const s = states![name] as Record<string, unknown> | undefined;
    if (!s || typeof s !== 'object') fail(`state ${name} is missing`);
    const p = s!.probs;
    if (!Array.isArray(p) || p.length !== cells) fail(`${name}.probs must hold ${cells} numbers`);
    const arr = new Float64Array(cells);
    let total = 0;
    (p as unknown[]).forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${name}.probs[${i}] is not a probability`);
      arr[i] = v as number;
      total += v as number;
    });
    if (!(Math.abs(total - 1) < 1e-3)) fail(`${name}.probs sum to ${total}, not 1`);
    for (let i = 0; i < arr.length; i++) arr[i] = arr[i]! / total;
    probs.push(arr);
    if (observes === 'score-given-previous') {
      const g = s!.given;
      if (!Array.isArray(g) || g.length !== b * b) fail(`${name}.given must hold ${b * b} numbers (P(score | last previous score), one row per previous bin)`);
      const table = Float64Array.from(g as unknown[], (v, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${name}.given[${i}] is not a probability`);
        return v as number;
      });
      for (let r = 0; r < b; r++) {
        const row = table.subarray(r * b, (r + 1) * b);
        const sum = row.reduce((x, y) => x + y, 0);
        if (!(Math.abs(sum - 1) < 1e-3)) fail(`${name}.given row ${r} sums to ${sum}, not 1`);
        for (let i = 0; i < b; i++) row[i] = row[i]! / sum;
      }
      given.push(table);
    }
    const c = s!.count;
    counts.push(typeof c === 'number' && c >= 0 ? c : 0);
    const bw = s!.bandwidth;
    bandwidths.push(Array.isArray(bw) && bw.length === 2 && bw.every((x) => typeof x === 'number') ? [bw[0] as number, bw[1] as number] : [NaN, NaN]);
  }
  let hazard: number[] | undefined;
  if (o.hazard !== undefined) {
    if (!Array.isArray(o.hazard) || o.hazard.length === 0 || o.hazard.length > 1000) fail('"hazard" must be a non-empty array');
    hazard = (o.hazard as unknown[]).map((v, i) => {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(`hazard[${i}] is not a probability`);
      return v as number;
    });
  }
  const confidence = o.confidence === undefined ? undefined : confidenceFromJson(o.confidence, fail);
  return {
    bins: b,
    ...(observes !== 'min-and-score' ? { observes: observes as ObservationKind } : {}),
    probs: probs as unknown as ObservationModel['probs'],
    ...(given.length ? { given: given as unknown as ObservationModel['probs'] } : {}),
    counts: counts as unknown as ObservationModel['counts'],
    bandwidths: bandwidths as unknown as ObservationModel['bandwidths'],
    ...(hazard ? { hazard } : {}),
    source: typeof o.source === 'string' ? o.source : 'unknown',
    ...(confidence ? { confidence } : {}),
  };
}

function confidenceFromJson(j: unknown, fail: (why: string) => never): ConfidenceChannel {
  if (!j || typeof j !== 'object') fail('"confidence" must be an object {bins, states}');
  const o = j as Record<string, unknown>;
  const bins = o.bins;
  if (typeof bins !== 'number' || !Number.isInteger(bins) || bins < 2 || bins > 200) fail('"confidence.bins" must be an integer in [2, 200]');
  const states = o.states as Record<string, unknown> | undefined;
  if (!states || typeof states !== 'object') fail('"confidence.states" is missing');
  const probs: Float64Array[] = [];
  const counts: number[] = [];
  const bandwidths: number[] = [];
  for (const name of POMDP_STATES) {
    const s = states![name] as Record<string, unknown> | undefined;
    if (!s || typeof s !== 'object') fail(`confidence state ${name} is missing`);
    const p = s!.probs;
    if (!Array.isArray(p) || p.length !== bins) fail(`confidence.${name}.probs must hold ${bins} numbers`);
    const arr = Float64Array.from(p as unknown[], (v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`confidence.${name}.probs[${i}] is not a probability`);
      return v as number;
    });
    const total = arr.reduce((a, x) => a + x, 0);
    if (!(Math.abs(total - 1) < 1e-3)) fail(`confidence.${name}.probs sum to ${total}, not 1`);
    for (let i = 0; i < arr.length; i++) arr[i] = arr[i]! / total;
    probs.push(arr);
    const c = s!.count;
    counts.push(typeof c === 'number' && c >= 0 ? c : 0);
    bandwidths.push(typeof s!.bandwidth === 'number' ? (s!.bandwidth as number) : NaN);
  }
  return {
    bins: bins as number,
    probs: probs as unknown as ConfidenceChannel['probs'],
    counts: counts as unknown as ConfidenceChannel['counts'],
    bandwidths: bandwidths as unknown as ConfidenceChannel['bandwidths'],
  };
}

// ProcessBench's metrics (Zheng et al. 2024, "ProcessBench: Identifying Process Errors in Mathematical
// Reasoning"). Each record is a solution labelled with the 0-based index of its first wrong step, or -1
// when every step is correct; a PRM predicts the first step whose score is below a threshold, or -1.
//   errorAcc   share of erroneous records (label ≥ 0) whose prediction equals the label
//   correctAcc share of all-correct records (label -1) predicted -1
//   f1         harmonic mean of the two
// A side with no records has no accuracy: it is null (not 0, not NaN), and so is f1, so a summary can
// say which side was missing instead of reporting a number that was never measured.

import { TrimError } from './errors.ts';
import { firstError } from './check.ts';

export class FirstErrorMetricError extends TrimError {}

export interface LabelledPrediction {
  /** First wrong step (0-based), or -1 when every step is correct. */
  label: number;
  /** The predicted first wrong step, or -1. */
  predicted: number;
}

export interface ScoredRecord {
  label: number;
  /** The PRM's score of each step. */
  scores: readonly number[];
}

export interface FirstErrorMetrics {
  n: number;
  /** Records with an error (label ≥ 0). */
  nError: number;
  /** Records whose steps are all correct (label -1). */
  nCorrect: number;
  /** null when nError is 0. */
  errorAcc: number | null;
  /** null when nCorrect is 0. */
  correctAcc: number | null;
  /** null when either side is null; 0 when either accuracy is 0. */
  f1: number | null;
}

/** ProcessBench's prediction: the first step scored below the threshold, or -1. */
export function predictFirstError(scores: readonly number[], threshold: number): number {
  return firstError(scores, threshold) ?? -1;
}

export function harmonicMean(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : (2 * a * b) / (a + b);
}

export function firstErrorMetrics(records: readonly LabelledPrediction[]): FirstErrorMetrics {
  let nError = 0;
  let nCorrect = 0;
  let hitError = 0;
  let hitCorrect = 0;
  for (const r of records) {
    if (!Number.isInteger(r.label) || r.label < -1) throw new FirstErrorMetricError(`A label must be -1 or a step index ≥ 0; got ${r.label}.`);
    if (r.label >= 0) {
      nError++;
      if (r.predicted === r.label) hitError++;
    } else {
      nCorrect++;
      if (r.predicted === -1) hitCorrect++;
    }
  }
  const errorAcc = nError ? hitError / nError : null;
  const correctAcc = nCorrect ? hitCorrect / nCorrect : null;
  const f1 = errorAcc === null || correctAcc === null ? null : harmonicMean(errorAcc, correctAcc);
  return { n: records.length, nError, nCorrect, errorAcc, correctAcc, f1 };
}

export interface ThresholdCalibration {
  threshold: number;
  /** The metrics at that threshold on the calibration records. */
  metrics: FirstErrorMetrics;
  /** How many thresholds were tried. */
  candidates: number;
}

/**
 * Candidate thresholds: 0 (flags nothing, as no score is below it), the midpoint between each pair of
 * neighbouring distinct scores, and 1 (flags every score below 1). Between two neighbouring scores every
 * threshold predicts the same, so these cover every distinct outcome within [0, 1].
 */
export function candidateThresholds(records: readonly ScoredRecord[]): number[] {
  const distinct = [...new Set(records.flatMap((r) => r.scores))].sort((a, b) => a - b);
  const mids: number[] = [];
  for (let i = 1; i < distinct.length; i++) mids.push((distinct[i - 1]! + distinct[i]!) / 2);
  return [...new Set([0, ...mids, 1])].sort((a, b) => a - b);
}

/**
 * The threshold that maximises F1 on labelled, scored records (ProcessBench picks its threshold on the
 * GSM8K subset this way). Ties (F1 equal within 1e-12) go to the lowest threshold: of equally good
 * thresholds it flags the fewest steps, so a student is sent looking for a mistake least often.
 * Records of both kinds are needed, or F1 is undefined.
 */
export function calibrateThreshold(records: readonly ScoredRecord[]): ThresholdCalibration {
  for (const r of records)
    if (r.scores.some((s) => !Number.isFinite(s))) throw new FirstErrorMetricError('A score to calibrate on is not a finite number.');
  const probe = firstErrorMetrics(records.map((r) => ({ label: r.label, predicted: -1 })));
  if (probe.nError === 0 || probe.nCorrect === 0)
    throw new FirstErrorMetricError(
      `Calibration needs records with an error and records without one; these ${probe.n} records have ${probe.nError} with an error and ${probe.nCorrect} without.`,
    );
  const candidates = candidateThresholds(records);
  let best: ThresholdCalibration | null = null;
  for (const threshold of candidates) {
    const metrics = firstErrorMetrics(records.map((r) => ({ label: r.label, predicted: predictFirstError(r.scores, threshold) })));
    if (best === null || metrics.f1! > best.metrics.f1! + 1e-12) best = { threshold, metrics, candidates: candidates.length };
  }
  return best!;
}

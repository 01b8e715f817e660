// The simulator's parameters on the command line: defaults, a JSON file of overrides, or a fit to real
// `trim eval` traces. Shared by simulate, calibrate --simulate and train-agg --simulate.

import { readFileSync } from 'node:fs';
import { errorMessage, TrimError } from '../core/errors.ts';
import { fidelityGate, type FidelityTrace } from '../core/sim/fidelity.ts';
import { fitSimParams } from '../core/sim/fit.ts';
import { resolveSimParams, type SimParams } from '../core/sim/params.ts';
import { parseResults } from '../eval/results-log.ts';
import { UsageError } from './command.ts';
import { readJsonFile } from './policy-artefacts.ts';

export const simParamsOptions = {
  params: { type: 'string' },
  fit: { type: 'string' },
} as const;

export const simParamsUsage = `
Simulator parameters (defaults documented in src/core/sim/README.md):
  --params FILE         JSON object overriding any of them, e.g. {"weakAccuracy": 0.8,
                        "scores": {"ok": {"mu": 3}}}
  --fit RESULTS.jsonl   fit lengths, tokens, p_w, p_s, score distributions and the lucky rate to the
                        traces of a "trim eval" run (with --params as the starting point); what could
                        and could not be identified is printed
`;

type Values = Record<string, string | boolean | string[] | undefined>;

export function simParamsFrom(v: Values): SimParams {
  let params: SimParams;
  try {
    params = resolveSimParams(typeof v.params === 'string' ? readJsonFile(v.params, '--params') : {});
  } catch (err) {
    if (err instanceof TrimError && !(err instanceof UsageError)) throw new UsageError(`--params ${v.params}: ${err.message}`);
    throw err;
  }
  if (typeof v.fit !== 'string') return params;
  let text: string;
  try {
    text = readFileSync(v.fit, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read --fit ${v.fit}: ${errorMessage(err)}.`);
  }
  const rows = parseResults(text, v.fit);
  const report = fitSimParams(rows, params);
  process.stderr.write(`Simulator fitted to ${report.rows} traces of ${v.fit} (log-likelihood ${report.logLikelihood.toFixed(1)}):\n`);
  for (const [k, why] of Object.entries(report.fitted)) process.stderr.write(`  fitted ${k}: ${why}\n`);
  for (const [k, why] of Object.entries(report.kept)) process.stderr.write(`  kept   ${k}: ${why}\n`);
  const fitted = resolveSimParams(report.params);
  process.stderr.write(fidelityReport(rows, fitted));
  return fitted;
}

/** The fidelity gate's verdict on a fit, as printed after it (TRIM-Thr replayed at the traces' knobs). */
function fidelityReport(rows: readonly FidelityTrace[], params: SimParams): string {
  if (!rows.some((r) => r.policy === 'thr')) return 'Fidelity gate: the traces hold no TRIM-Thr run to compare the fitted simulator with (run trim eval --policy thr --sweep …).\n';
  const g = fidelityGate(rows, params);
  const verdict = g.pass
    ? `passes: every point within ${(g.tolerance * 100).toFixed(1)} points (worst ${(g.worstGap * 100).toFixed(1)})`
    : `FAILS: ${g.worst!.policy}${g.worst!.knob === null ? '' : ` at ${g.worst!.knob}`} is ${(g.worstGap * 100).toFixed(1)} points off (tolerance ${(g.tolerance * 100).toFixed(1)}); ` +
      'policies trained or solved in this simulator may not carry over to the real models: prefer the real traces';
  return `Fidelity gate (TRIM-Thr replayed in the fitted simulator beside the real traces): ${verdict}\n${g.table}`;
}

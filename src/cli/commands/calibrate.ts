// `trim calibrate`: the knob that spends a target budget on a reference set (RouteLLM-style), so users
// choose "30% of strong-only cost" or "10% of steps sent" instead of a raw threshold or λ.

import { readFileSync } from 'node:fs';
import { calibrateKnob, spendByKnob, type BudgetMetric, type Calibration } from '../../core/calibrate.ts';
import { errorMessage, TrimError } from '../../core/errors.ts';
import { createPolicy, policyEntry } from '../../core/policies/index.ts';
import { calibrateInSimulator, KNOB_RANGES } from '../../core/sim/calibrate-sim.ts';
import { parseResults } from '../../eval/results-log.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { loadPolicyArtefacts, policyArtefactOptions, policyArtefactsUsage } from '../policy-artefacts.ts';
import { simParamsFrom, simParamsOptions, simParamsUsage } from '../sim-params.ts';

const POLICIES = ['thr', 'pomdp', 'agg'] as const;

const usage = `
Usage: trim calibrate --policy thr|pomdp|agg --target-cost C (--results FILE | --simulate)
  [--by cost|steps] [--json] [--weights FILE] [--observations FILE] [--belief MODE]
  [--problems N] [--seed N] [--params FILE | --fit RESULTS.jsonl]

Picks the knob (thr: threshold, pomdp: λ, agg: threshold) that spends a target budget on a reference
set, and prints it.

  --target-cost C   the budget: with --by cost (default), the strong model's tokens as a fraction of
                    strong-only's (0.3 = 30%); with --by steps, the fraction of steps the strong model
                    writes ("budget: 10% of steps sent" is --by steps --target-cost 0.1)
  --results FILE    reference set: a results.jsonl of "trim eval" (or "trim simulate") holding a sweep
                    of the policy (and, for --by cost, the strong-only baseline); the knob is read off
                    the measured spend curve by linear interpolation
  --simulate        reference set: simulated problems; the knob is found by bisection
  --problems N      simulated problems (default 4000)
  --json            print {"policy", "knob", "spend", "target", "metric", "reached", "points"}
${policyArtefactsUsage}${simParamsUsage}`;

export const command: Command = {
  summary: 'Pick the knob that spends a target share of the strong model (cost or steps) on a reference set',
  usage,
  async run(argv) {
    const values = parseOptions(argv, {
      policy: { type: 'string' },
      'target-cost': { type: 'string' },
      results: { type: 'string' },
      simulate: { type: 'boolean' },
      by: { type: 'string' },
      json: { type: 'boolean' },
      problems: { type: 'string' },
      seed: { type: 'string' },
      ...policyArtefactOptions,
      ...simParamsOptions,
    });
    const policy = values.policy as (typeof POLICIES)[number] | undefined;
    if (!policy || !POLICIES.includes(policy)) throw new UsageError(`--policy must be one of ${POLICIES.join(', ')}.`);
    const target = Number(values['target-cost']);
    if (values['target-cost'] === undefined || !(target >= 0 && target <= 1))
      throw new UsageError(`--target-cost must be a fraction in [0, 1] (0.3 = 30%); got "${values['target-cost'] ?? ''}".`);
    const metric = (values.by ?? 'cost') as BudgetMetric;
    if (metric !== 'cost' && metric !== 'steps') throw new UsageError(`--by must be cost or steps; got "${values.by}".`);
    if (!!values.results === !!values.simulate) throw new UsageError('Give exactly one reference set: --results FILE or --simulate.');

    let result: Calibration;
    try {
      if (values.results) {
        let text: string;
        try {
          text = readFileSync(values.results, 'utf8');
        } catch (err) {
          throw new UsageError(`Cannot read --results ${values.results}: ${errorMessage(err)}.`);
        }
        result = calibrateKnob(spendByKnob(parseResults(text, values.results), policy, metric), target, metric);
      } else {
        const problems = values.problems === undefined ? 4000 : Number(values.problems);
        const seed = values.seed === undefined ? 0 : Number(values.seed);
        if (!Number.isInteger(problems) || problems < 10) throw new UsageError(`--problems must be a whole number ≥ 10; got "${values.problems}".`);
        if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a whole number ≥ 0; got "${values.seed}".`);
        const artefacts = loadPolicyArtefacts(values);
        result = calibrateInSimulator((knob) => createPolicy(policy, { knob, seed, artefacts }), KNOB_RANGES[policy]!, target, metric, {
          params: simParamsFrom(values),
          problems,
          seed,
        });
      }
    } catch (err) {
      if (err instanceof TrimError && !(err instanceof UsageError)) throw new UsageError(err.message);
      throw err;
    }

    const knobName = policyEntry(policy).knob?.name ?? 'knob';
    if (values.json) process.stdout.write(JSON.stringify({ policy, knobName, ...result }) + '\n');
    else {
      const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
      const what = metric === 'cost' ? 'of strong-only cost' : 'of steps sent to the strong model';
      process.stdout.write(
        `${policy}: ${knobName} = ${fmt(result.knob)} spends ${pct(result.spend)} ${what} (target ${pct(target)}).\n` +
          (result.reached ? '' : `The target is outside what the ${policy} knob can reach on this reference set; this is the nearest end.\n`) +
          `Use: --policy ${policy} --${knobName} ${fmt(result.knob)} (trim solve, trim eval), or --knob ${fmt(result.knob)} (trim route)\n`,
      );
    }
    return 0;
  },
};

const fmt = (v: number) => (Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(3) : Number(v.toPrecision(4)).toString());

// `trim simulate`: runs real policies on the simulated solver (src/core/sim) and reports exactly what
// `trim eval` reports — results.jsonl rows, summary.json, the table and curve.svg — in seconds.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrimError } from '../../core/errors.ts';
import { createPolicy, policyEntry, policyNames } from '../../core/policies/index.ts';
import { resolveSimParams, type SimParams } from '../../core/sim/params.ts';
import { runWorld, type SimRow } from '../../core/sim/run.ts';
import { createWorld } from '../../core/sim/world.ts';
import type { RoutingPolicy } from '../../core/types.ts';
import { renderCurveSvg } from '../../eval/curve-svg.ts';
import { buildSummary, formatTable, STRONG_ONLY, WEAK_ONLY } from '../../eval/summary.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { bundleOf, loadPolicyArtefacts, policyArtefactOptions, policyArtefactsUsage } from '../policy-artefacts.ts';
import { simParamsFrom, simParamsOptions, simParamsUsage } from '../sim-params.ts';

const usage = `
Usage: trim simulate --policy P[=v1,v2,…] [--policy …] [--sweep v1,v2,…] [--baselines]
  --problems N --out DIR [--seed N] [--params FILE | --fit RESULTS.jsonl]
  [--weights FILE] [--observations FILE] [--belief filter|reference] [--bundle FILE]

Runs routing policies on a simulated stepwise solver (weak and strong models, a PRM, token counts;
see src/core/sim/README.md) and writes what "trim eval" writes, with the same table.

  --policy P[=v,…]   a policy (${policyNames().join(', ')}); repeat for several. Values after "=" are
                     that policy's sweep; otherwise --sweep applies, or a --bundle's grid for its
                     policies, or the policy's default knob.
  --sweep v1,v2,…    knob values for policies given without their own
  --baselines        also run weak-only and strong-only (needed for cost, PGR, CPT, APGR, ΔIBC)
  --problems N       simulated problems (default 2000); every operating point runs the same ones
  --seed N           seed of the simulated problems (default 0)
  --out DIR          writes DIR/results.jsonl, DIR/summary.json, DIR/curve.svg, DIR/params.json
  --cost tokens|sent the summary's cost axis: strong tokens (default) or characters sent off the device
                     (the simulator's "sent" parameters: problem and prefix with every strong request)
${simParamsUsage}${policyArtefactsUsage}
Example:
  trim simulate --policy thr=0.3,0.5,0.7,0.8,0.9 --policy pomdp=0.0002,0.0008,0.003 \\
    --policy query=0.3,0.5,0.7,0.9 --baselines --problems 5000 --out runs/sim
  TRIM-Agg's curve, one trained policy per λ (a set from trim train-agg --lambda 0.0002,0.0005,0.002):
  trim simulate --policy agg-lambda=0.0002,0.0005,0.002 --weights agg-set.json --baselines --out runs/agg
`;

interface Point {
  policy: string;
  knob: number | null;
}

export const command: Command = {
  summary: 'Run policies on the simulated solver: same results, table and summary.json as trim eval',
  usage,
  async run(argv) {
    const values = parse(argv);
    const out = values.out;
    if (typeof out !== 'string' || !out.trim()) throw new UsageError('--out DIR is required.');
    const problems = whole(values.problems, '--problems', 1, 10_000_000) ?? 2000;
    const seed = whole(values.seed, '--seed', 0, 2 ** 32 - 1) ?? 0;
    const specs = values.policy ?? [];
    if (specs.length === 0 && !values.baselines) throw new UsageError(`--policy is required (one of ${policyNames().join(', ')}), or --baselines alone.`);
    const params: SimParams = simParamsFrom(values);
    const artefacts = loadPolicyArtefacts(values);
    const bundleGrids = (bundleOf(artefacts)?.policies ?? {}) as Record<string, { grid: number[] } | undefined>;
    const points = operatingPoints(specs, values.sweep, values.baselines === true, (name) => bundleGrids[name]?.grid);
    const policies = points.map((p) => build(p, artefacts, seed));

    const t0 = performance.now();
    const world = createWorld(params, problems, seed);
    const rows: SimRow[] = [];
    for (const policy of policies) rows.push(...runWorld(world, policy));
    const seconds = (performance.now() - t0) / 1000;

    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(join(out, 'params.json'), JSON.stringify({ problems, seed, params }, null, 2) + '\n');
    const cost = values.cost ?? 'tokens';
    if (cost !== 'tokens' && cost !== 'sent') throw new UsageError(`--cost must be tokens or sent; got "${cost}".`);
    const summary = buildSummary(rows, { cost });
    writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(join(out, 'curve.svg'), renderCurveSvg(summary));
    process.stdout.write(formatTable(summary));
    process.stderr.write(
      `trim simulate: ${problems} problems × ${points.length} operating points in ${seconds.toFixed(2)} s ` +
        `(${Math.round((problems * points.length) / Math.max(seconds, 1e-9)).toLocaleString('en')} problem runs/s); wrote ${join(out, 'summary.json')}\n`,
    );
    return 0;
  },
};

function parse(argv: string[]) {
  return parseOptions(argv, {
    policy: { type: 'string', multiple: true },
    sweep: { type: 'string' },
    baselines: { type: 'boolean' },
    problems: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    cost: { type: 'string' },
    ...simParamsOptions,
    ...policyArtefactOptions,
  });
}

export function parseKnobList(text: string, flag: string): number[] {
  return text.split(',').map((s) => {
    const v = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${flag} takes comma-separated numbers such as 0.2,0.5,0.8; "${s}" is not one.`);
    return v;
  });
}

function operatingPoints(specs: string[], sweep: string | undefined, baselines: boolean, bundleGrid: (policy: string) => number[] | undefined): Point[] {
  const points: Point[] = [];
  const add = (p: Point) => {
    if (!points.some((q) => q.policy === p.policy && q.knob === p.knob)) points.push(p);
  };
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = (eq < 0 ? spec : spec.slice(0, eq)).trim();
    const entry = policyEntry(name);
    const own = eq < 0 ? undefined : spec.slice(eq + 1);
    const knobs = own !== undefined ? parseKnobList(own, `--policy ${name}=`) : sweep !== undefined ? parseKnobList(sweep, '--sweep') : (bundleGrid(name) ?? null);
    if (knobs && !entry.knob) throw new UsageError(`--policy ${name} has no knob to sweep.`);
    if (knobs) knobs.forEach((k) => add({ policy: name, knob: k }));
    else add({ policy: name, knob: entry.knob ? entry.knob.default : null });
  }
  if (baselines) for (const b of [WEAK_ONLY, STRONG_ONLY]) add({ policy: b, knob: null });
  return points;
}

function build(p: Point, artefacts: Record<string, unknown>, seed: number): RoutingPolicy {
  try {
    return createPolicy(p.policy, { ...(p.knob !== null ? { knob: p.knob } : {}), seed, artefacts });
  } catch (err) {
    if (err instanceof TrimError) throw new UsageError(`--policy ${p.policy}${p.knob !== null ? ` at ${p.knob}` : ''}: ${(err as Error).message}`);
    throw err;
  }
}

function whole(v: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number in [${min}, ${max}]; got "${v}".`);
  return n;
}

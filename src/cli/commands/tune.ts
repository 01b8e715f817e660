// `trim tune`: from "I have models and problems with answers" to a routing bundle. It solves the tuning
// problems (weak-only with the PRM scoring every draft, strong-only, TRIM-Thr at a few thresholds),
// labels the steps (checker, given labels, or Monte-Carlo rollouts: src/tune/labels.ts), fits
// TRIM-POMDP on the labelled traces, trains TRIM-Agg on real solves, measures every policy's knob →
// (cost, accuracy) on the tuning problems and writes one bundle (src/core/bundle.ts). Every solve is a
// line of WORK/results.jsonl (trim eval's log), rollout labels and Agg networks are saved as they
// finish, so a killed tune continues with --resume where it stopped.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainAgg, DEFAULT_PPO, type EpisodeOutcome, type TrainingEnv } from '../../core/agg/ppo.ts';
import { weightSetFromJson, weightSetToJson, type AggWeights } from '../../core/agg/weights.ts';
import { bundleArtefacts, bundleToJson, type RoutingBundle } from '../../core/bundle.ts';
import { errorMessage, TrimError } from '../../core/errors.ts';
import { createPolicy } from '../../core/policies/index.ts';
import { fitPomdpFromTraces, type LabelledTrace } from '../../core/pomdp/fit.ts';
import { deriveSeed, mulberry32 } from '../../core/rng.ts';
import { fidelityGate } from '../../core/sim/fidelity.ts';
import { fitSimParams } from '../../core/sim/fit.ts';
import { DEFAULT_SIM_PARAMS, resolveSimParams, type SimParams } from '../../core/sim/params.ts';
import { simTrainingEnv } from '../../core/sim/training-env.ts';
import type { RoutingPolicy } from '../../core/types.ts';
import { formatNames, loadDataset, type Dataset, type EvalProblem } from '../../eval/datasets.ts';
import { gradeSolution } from '../../eval/grading.ts';
import { Progress } from '../../eval/progress.ts';
import { ResultsLog } from '../../eval/results-log.ts';
import { relativePath, settleManifest, writeAtomic } from '../../eval/run-manifest.ts';
import { problemSeed, runJobs, type EvalJob, type OperatingPoint } from '../../eval/runner.ts';
import { renderCurveSvg } from '../../eval/curve-svg.ts';
import { buildSummary, formatTable, STRONG_ONLY, WEAK_ONLY, type ResultRow } from '../../eval/summary.ts';
import { calibrate, chooseBest, COST_KINDS, type Calibration, type CostKind } from '../../tune/calibration.ts';
import { isOrganismData, organismRowLabels, rolloutRowLabels } from '../../tune/labels.ts';
import { DecisionRecorder, labelledTrace, labelsFromFirstError, scoreEverythingPolicy, type RowLabels, type TunedRow } from '../../tune/traces.ts';
import { UsageError, type Command } from '../command.ts';
import { datasetFlagOptions, requiredString, wholeNumber } from '../flag-checks.ts';
import { buildRun, DEFAULT_MODE, modelFlagsUsage, parseFlags, type FlagValues, type RunSetup } from '../model-flags.ts';

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_THR = [0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
const LABEL_SOURCES = ['auto', 'checker', 'rollouts', 'file'] as const;
type LabelSource = (typeof LABEL_SOURCES)[number];

const usage = `
Usage: trim tune --data FILE [--format auto|${formatNames().join('|')}] [--offset N] [--limit N]
  [model and PRM flags of trim eval] --out BUNDLE.json [--cost tokens|sent] [--seed N] [--concurrency ${DEFAULT_CONCURRENCY}]
  [--resume] [--work DIR] [--labels FILE] [--label-source auto|checker|rollouts|file] [--rollouts 1]
  [--thr-grid v,…] [--lambda-grid v,…] [--agg-lambdas v,…|none] [--agg-iterations 6] [--agg-episodes 64] [--keep-all]

Tunes TRIM-POMDP and TRIM-Agg for your models on problems with gold final answers and writes a
routing bundle for --bundle (trim solve, eval, simulate, route) and the page's bundle= link:

  1. solves every problem weak-only (the PRM scoring every draft), strong-only, and with TRIM-Thr at
     --thr-grid (default ${DEFAULT_THR.join(',')}), recording each decision and step text;
  2. labels the steps: the organism's checker when every problem is an organism problem; the
     ProcessBench-style --labels FILE ({"problem", "steps", "label"}: first wrong step, -1 for none)
     scored by your PRM; otherwise Monte-Carlo rollouts with the strong model (Math-Shepherd: a prefix is
     right when the strong model continuing from it reaches the gold answer in any of --rollouts tries;
     the first wrong step of a wrong weak solution is found by binary search). The strong tokens this
     costs are reported and recorded in the bundle;
  3. fits TRIM-POMDP (observation model, p_w, p_s, hazard) on the labelled traces and picks its λ grid
     from the strong-only token count (or --lambda-grid);
  4. trains TRIM-Agg (one network per λ of --agg-lambdas; default: four λ of the POMDP grid) with PPO on
     real solves of the tuning problems (a fifth held out to keep the best checkpoint); "none" skips it;
  5. runs each tuned policy at every knob of its grid on the tuning problems and records knob →
     (cost, accuracy, sentShare, stepShare), and which policy beats TRIM-Thr there. A tuned policy that
     clearly loses to TRIM-Thr there (never reaches PGR 95% where Thr does, or only at more than 10
     points of cost above Thr's) is left out of the bundle, unless --keep-all; the best one always stays.

  --cost tokens|sent  what a routed step costs: strong tokens (default) or characters sent off the
                      device (needs a remote strong model). With sent, TRIM-POMDP's λ prices characters:
                      a step's regeneration costs the characters its request sends (the problem and the
                      accepted prefix, so late steps cost more), and the bundle records cost "sent";
                      the best policy and knob are picked by characters; TRIM-Agg still prices tokens
  --work DIR          where the solves, labels and networks are kept (default BUNDLE.json.work)
  --resume            continue a tune that was stopped or killed, from WORK
${modelFlagsUsage}`;

const own = {
  ...datasetFlagOptions,
  out: { type: 'string' },
  work: { type: 'string' },
  resume: { type: 'boolean' },
  cost: { type: 'string' },
  concurrency: { type: 'string' },
  labels: { type: 'string' },
  'label-source': { type: 'string' },
  rollouts: { type: 'string' },
  'thr-grid': { type: 'string' },
  'lambda-grid': { type: 'string' },
  'agg-lambdas': { type: 'string' },
  'agg-iterations': { type: 'string' },
  'agg-episodes': { type: 'string' },
  'keep-all': { type: 'boolean' },
} as const;

const log = (s: string) => process.stderr.write(`trim tune: ${s}\n`);

export const command: Command = {
  summary: 'Tune TRIM-POMDP and TRIM-Agg for your models on problems with answers; writes a routing bundle',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, own);
    const v = values as FlagValues;
    const dataPath = requiredString(v, 'data', 'the tuning problems, with gold final answers');
    const out = requiredString(v, 'out', 'the bundle file to write');
    const work = typeof v.work === 'string' ? v.work : `${out}.work`;
    const resume = v.resume === true;
    const cost = (v.cost ?? 'tokens') as CostKind;
    if (!COST_KINDS.includes(cost)) throw new UsageError(`--cost must be ${COST_KINDS.join(' or ')}; got "${v.cost}".`);
    const concurrency = wholeNumber(v, 'concurrency', 1, 1024) ?? DEFAULT_CONCURRENCY;
    const rollouts = wholeNumber(v, 'rollouts', 1, 64) ?? 1;
    const thrGrid = knobList(v, 'thr-grid', 0, 1) ?? DEFAULT_THR;
    const lambdaGridFlag = knobList(v, 'lambda-grid', 0, 1);
    const aggFlag = v['agg-lambdas'];
    const aggIterations = wholeNumber(v, 'agg-iterations', 1, 10_000) ?? 6;
    const aggEpisodes = wholeNumber(v, 'agg-episodes', 2, 1_000_000) ?? 64;
    const labelSource = (v['label-source'] ?? (typeof v.labels === 'string' ? 'file' : 'auto')) as LabelSource;
    if (!LABEL_SOURCES.includes(labelSource)) throw new UsageError(`--label-source must be one of ${LABEL_SOURCES.join(', ')}; got "${labelSource}".`);
    if (labelSource === 'file' && typeof v.labels !== 'string') throw new UsageError('--label-source file needs --labels FILE.');

    // The shared flags insist on a routing policy; tune runs its own, so any scoring one stands in
    // (it also makes them insist on the PRM every tuned policy needs).
    const setup = buildRun({ ...v, policy: 'thr', threshold: '0.5', rate: undefined, lambda: undefined });
    const format = typeof v.format === 'string' ? v.format : 'auto';
    const data = loadDataset(dataPath, {
      format,
      offset: wholeNumber(v, 'offset', 0) ?? 0,
      ...(wholeNumber(v, 'limit', 1) !== undefined ? { limit: wholeNumber(v, 'limit', 1)! } : {}),
      ...(typeof v['problem-field'] === 'string' ? { problemField: v['problem-field'] } : {}),
      ...(typeof v['answer-field'] === 'string' ? { answerField: v['answer-field'] } : {}),
    });
    if (data.problems.length < 5) throw new UsageError(`--data ${dataPath} selects ${data.problems.length} gradable problems; tuning needs at least 5.`);
    const source: Exclude<LabelSource, 'auto'> = labelSource === 'auto' ? (isOrganismData(data.problems) ? 'checker' : 'rollouts') : labelSource;
    if (source === 'checker' && !isOrganismData(data.problems))
      throw new UsageError('--label-source checker needs organism problems (the only task with a checker); use rollouts or --labels FILE.');

    mkdirSync(work, { recursive: true });
    const { log: results, rows: earlier, truncatedBytes } = ResultsLog.open(work, resume);
    try {
      const manifest = settleManifest(work, identity(v, setup, data, { cost, thrGrid, source, rollouts }), typeof v.seed === 'string' ? Number(v.seed) : 0, resume, earlier.length > 0, ['data']);
      if (manifest.warning) log(manifest.warning);
      if (truncatedBytes) log(`discarded an unfinished last line (${truncatedBytes} bytes) of ${join(work, 'results.jsonl')}; that run will be redone.`);
      const seed = manifest.seed;
      const rows: TunedRow[] = [...earlier];
      const recorder = new DecisionRecorder();
      const byId = new Map(data.problems.map((p) => [p.id, p]));
      log(`${data.problems.length} tuning problems from ${data.file} (${data.format}), seed ${seed}, labels from ${source === 'checker' ? 'the organism checker' : source === 'file' ? `--labels ${v.labels}` : `Monte-Carlo rollouts with the strong model (${rollouts} per prefix)`}`);

      // One solving phase: the points' runs not yet in the log, through trim eval's runner.
      const solvePhase = async (name: string, points: OperatingPoint[], policyFor: (p: OperatingPoint) => RoutingPolicy): Promise<boolean> => {
        const keys = new Set(points.map((p) => JSON.stringify([p.policy, p.knob])));
        const done = rows.filter((r) => byId.has(r.id) && keys.has(JSON.stringify([r.policy, r.knob])));
        const jobs: EvalJob[] = [];
        for (const problem of data.problems) for (const point of points) if (!results.has({ id: problem.id, ...point })) jobs.push({ problem, point });
        log(`${name}: ${data.problems.length} problems × ${points.length} operating points${done.length ? ` (${done.length} runs already done)` : ''}`);
        if (!jobs.length) return true;
        const progress = new Progress({ total: data.problems.length * points.length, resumed: done, sink: process.stderr });
        const failures: string[] = [];
        const key = (p: OperatingPoint, s: number) => JSON.stringify([p.policy, p.knob, s]);
        let outcome;
        try {
          outcome = await runJobs(jobs, {
            weak: setup.weak,
            strong: setup.strong,
            ...(setup.prm ? { prm: setup.prm } : {}),
            policyFor: (point, s) => recorder.wrap(policyFor(point), key(point, s)),
            extendRow: (job, trace) => ({ ...recorder.fields(key(job.point, problemSeed(seed, job.problem.id)), trace) }),
            grade: gradeSolution,
            limits: setup.limits,
            sampling: setup.sampling,
            seed,
            concurrency,
            onResult: (row) => {
              results.append(row);
              rows.push(row);
              progress.result(row);
            },
            onFailure: (job, message) => {
              failures.push(`${job.problem.id} (${job.point.policy} ${job.point.knob ?? ''}): ${message}`);
              progress.failure();
            },
          });
        } finally {
          progress.finish();
        }
        if (outcome.failed) {
          log(`${outcome.failed} runs failed, e.g. ${failures[0]}. Fix the cause and rerun with --resume to retry them.`);
          return false;
        }
        return true;
      };

      // 1. Traces: weak-only with every draft scored (the same text as weak-only: drafts are all kept),
      // strong-only, and Thr at each threshold.
      const tracePoints: OperatingPoint[] = [{ policy: WEAK_ONLY, knob: null }, { policy: STRONG_ONLY, knob: null }, ...thrGrid.map((k) => ({ policy: 'thr', knob: k }))];
      if (!(await solvePhase('solving', tracePoints, (p) => (p.policy === WEAK_ONLY ? scoreEverythingPolicy() : createPolicy(p.policy, p.knob === null ? {} : { knob: p.knob })))))
        return 1;

      if (cost === 'sent') {
        const strongRuns = rows.filter((r) => r.policy === STRONG_ONLY && byId.has(r.id));
        const sent = strongRuns.reduce((t, r) => t + (typeof r.sentChars === 'number' ? r.sentChars : NaN), 0);
        if (!(sent > 0))
          throw new UsageError(
            '--cost sent prices the characters each run sends off the device, but strong-only sent none here (every model is on the device): there is nothing to trade. Tune with --cost tokens, or with a remote strong model.',
          );
      }

      // 2. Labels.
      // Only the trace points: a resumed tune's calibration runs must not change the fit they measure.
      const labelled = await labelTraces(source, traceRows(rows, byId), byId, { work, setup, seed, rollouts, labelsPath: v.labels as string | undefined, concurrency });
      const strongOnly = rows.filter((r) => r.policy === STRONG_ONLY);
      const strongTokensPerProblem = strongOnly.reduce((s, r) => s + r.strongTokens, 0) / Math.max(1, strongOnly.length);

      // 3. TRIM-POMDP on the labelled traces.
      let fitted;
      try {
        fitted = fitPomdpFromTraces(labelled.traces, { cost, source: `trim tune on ${relativePath(data.file)} (${labelled.traces.length} labelled traces, labels: ${source})` });
      } catch (err) {
        if (err instanceof TrimError) throw new UsageError(`Cannot fit TRIM-POMDP on the tuning traces: ${err.message}`);
        throw err;
      }
      const m = fitted.model;
      log(
        `fitted TRIM-POMDP on ${fitted.stats.drafts} labelled drafts (${fitted.stats.draftsByState.join(' / ')} in S0 / S1 / S2): p_w ${m.pw.toFixed(3)}, p_s ${m.ps.toFixed(3)}, ` +
          `${m.futureTokens.toFixed(1)} tokens per strong step` +
          (m.futureCost ? `; λ prices characters sent: a regeneration sends ${m.futureCost[0]!.toFixed(0)} characters at step 1, ${m.futureCost[Math.min(9, m.futureCost.length - 1)]!.toFixed(0)} at step ${Math.min(10, m.futureCost.length)}` : ''),
      );
      // The channel is fitted only when every draft carries a confidence: say which way it went, so a weak
      // server that drops logprobs on some steps does not silently give a PRM-only router.
      log(confidenceChannelLine(labelled.traces, fitted.observations.confidence !== undefined));
      // λ is reward per unit of cost: per strong token, or per character sent under --cost sent.
      const strongSentPerProblem = strongOnly.reduce((s, r) => s + (r.sentChars ?? 0), 0) / Math.max(1, strongOnly.length);
      const lambdaGrid = lambdaGridFlag ?? defaultLambdaGrid(cost === 'sent' ? strongSentPerProblem : strongTokensPerProblem);
      const bundle: RoutingBundle = {
        policies: {
          pomdp: {
            observations: fitted.observations,
            pw: m.pw,
            ps: m.ps,
            hazard: [...m.hazard],
            futureTokens: m.futureTokens,
            ...(m.cost === 'sent' ? { cost: 'sent' as const, futureCost: [...m.futureCost!] } : {}),
            belief: 'filter',
            grid: lambdaGrid,
            extra: { fit: fitted.stats },
          },
        },
        calibration: {},
        best: null,
        provenance: {},
      };

      // 4. The fidelity gate decides whether TRIM-Agg may train in a simulator fitted to these traces.
      const gate = runFidelityGate(traceRows(rows, byId));
      log(gate.note);
      if (gate.table) process.stderr.write(gate.table);

      // 5. TRIM-Agg, one network per λ, trained on real solves of the tuning problems.
      // TRIM-Agg prices what the tune prices: its λ grid is the POMDP's (per character under --cost sent).
      const aggLambdas = aggFlag === 'none' ? [] : (knobList(v, 'agg-lambdas', 0, 1) ?? pickAggLambdas(lambdaGrid));
      let aggTokens = 0;
      if (aggLambdas.length) {
        const trained = await trainAggNetworks(aggLambdas, { work, setup, data: data.problems, seed, concurrency, iterations: aggIterations, episodes: aggEpisodes, cost, sim: gate.params });
        aggTokens = trained.strongTokens;
        bundle.policies['agg-lambda'] = {
          weights: { checkpoints: trained.weights },
          grid: trained.weights.map((w) => w.lambda),
          extra: {
            training: gate.params ? 'PPO in the simulator fitted to the tuning traces (the fidelity gate passed)' : 'online PPO on real solves of the tuning problems',
            cost,
          },
        };
      }

      // 6. Calibration: every tuned policy at every knob of its grid, on the tuning problems.
      const calPoints: OperatingPoint[] = [];
      const artefacts: Record<string, Record<string, unknown>> = {};
      for (const policy of ['pomdp', 'agg-lambda'] as const) {
        const entry = bundle.policies[policy];
        if (!entry) continue;
        artefacts[policy] = bundleArtefacts(bundle, policy);
        for (const knob of entry.grid) calPoints.push({ policy, knob });
      }
      const runPolicy = (p: OperatingPoint) => createPolicy(p.policy, { knob: p.knob!, artefacts: artefacts[p.policy]! });
      if (!(await solvePhase('calibrating', calPoints, runPolicy))) return 1;

      // TRIM-POMDP's grid is refined where its measured curve crosses PGR 95%: an evaluation sweeps the
      // bundle's grid, and CPT(95%) interpolated across one wide step of a convex curve overstates the cost.
      // (Agg's grid is its trained networks and cannot be refined without training more.)
      let measured = rows.filter((r) => byId.has(r.id));
      let cal = calibrate(measured, cost);
      const pomdpEntry = bundle.policies.pomdp;
      // From the base grid's points only, so a resumed tune (whose rows hold the refined points) refines the same way.
      const base = new Set(pomdpEntry?.grid ?? []);
      const extra = lambdaGridFlag || !pomdpEntry ? [] : refineNear95((cal.points.pomdp ?? []).filter((p) => base.has(p.knob)), cal.weakAccuracy, cal.strongAccuracy);
      if (pomdpEntry && extra.length) {
        pomdpEntry.grid = [...pomdpEntry.grid, ...extra].sort((a, b) => a - b);
        log(`refining TRIM-POMDP's grid where it crosses PGR 95% on the tuning problems: λ ${extra.join(', ')}`);
        if (!(await solvePhase('calibrating the refined grid', extra.map((knob) => ({ policy: 'pomdp', knob })), runPolicy))) return 1;
        measured = rows.filter((r) => byId.has(r.id));
        cal = calibrate(measured, cost);
      }
      if (cost === 'sent' && Object.values(cal.points).some((ps) => ps.some((p) => p.sentShare === null)))
        throw new UsageError(
          '--cost sent prices the characters each run sends off the device, but strong-only sent none here (every model is on the device) or the results do not record them: there is nothing to trade. Tune with --cost tokens, or with a remote strong model.',
        );
      bundle.calibration = cal.points;
      // A tuned policy that clearly loses to TRIM-Thr on the tuning problems is not shipped (its
      // calibration stays, as the evidence); the bundle keeps at least its best policy.
      const leftOut = v['keep-all'] === true ? [] : leaveOutLosers(cal, Object.keys(artefacts));
      for (const l of leftOut) {
        delete bundle.policies[l.policy as keyof RoutingBundle['policies']];
        log(`left ${l.policy} out of the bundle: ${l.reason}`);
      }
      bundle.best = chooseBest(cal, Object.keys(artefacts).filter((p) => !leftOut.some((l) => l.policy === p)));
      const solveTokens = measured.reduce((s, r) => s + r.strongTokens, 0);
      const spent = solveTokens + labelled.strongTokens + aggTokens;
      bundle.provenance = {
        data: { path: relativePath(data.file), sha256: sha256(data.file), problems: data.problems.length, format: data.format },
        models: { weak: setup.weak.id, strong: setup.strong.id, prm: setup.prm?.id ?? null },
        seed,
        settings: {
          cost,
          thrGrid,
          rollouts,
          agg: aggLambdas.length ? { lambdas: aggLambdas, iterations: aggIterations, episodes: aggEpisodes } : null,
          limits: setup.limits,
          sampling: { temperature: setup.sampling.temperature ?? null, topP: setup.sampling.topP ?? null },
        },
        ...(leftOut.length ? { leftOut } : {}),
        labels: { source, traces: labelled.traces.length, unlabelled: labelled.unlabelled, rollouts: labelled.rollouts, strongTokens: labelled.strongTokens },
        fidelityGate: { verdict: gate.verdict, note: gate.note, ...(gate.worstGap !== undefined ? { worstGap: gate.worstGap, tolerance: gate.tolerance } : {}) },
        strongTokensSpent: { total: spent, solving: solveTokens, labelling: labelled.strongTokens, aggTraining: aggTokens, perProblem: spent / data.problems.length },
        date: new Date().toISOString(),
      };
      writeAtomic(out, JSON.stringify(bundleToJson(bundle)) + '\n');

      // The table and the curve on the axis the tune priced: strong tokens, or characters sent.
      const summary = buildSummary(measured, { cost });
      process.stdout.write(formatTable(summary));
      writeAtomic(join(work, 'curve.svg'), renderCurveSvg(summary));
      log(`the curve of every policy on the tuning problems: ${join(work, 'curve.svg')}`);
      const b = bundle.best;
      const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
      if (b)
        process.stdout.write(
          `\nBest tuned policy on the tuning problems: ${b.policy} at ${b.knob} (CPT(95%) ${pct(b.cpt95)}, APGR ${pct(b.apgr)}; TRIM-Thr: CPT(95%) ${pct(b.thr.cpt95)}, APGR ${pct(b.thr.apgr)}): ` +
            `${b.beatsThr ? 'beats' : 'does not beat'} TRIM-Thr there.\n`,
        );
      process.stdout.write(
        `Tuning spent ${spent} strong tokens (${(spent / data.problems.length).toFixed(1)} per problem): ${solveTokens} solving and measuring, ${labelled.strongTokens} labelling (${labelled.rollouts} rollouts), ${aggTokens} training TRIM-Agg.\n`,
      );
      log(`wrote ${out}`);
      return 0;
    } finally {
      results.close();
    }
  },
};

interface LabelContext {
  work: string;
  setup: RunSetup;
  seed: number;
  rollouts: number;
  labelsPath: string | undefined;
  concurrency: number;
}

interface Labelled {
  traces: LabelledTrace[];
  unlabelled: number;
  rollouts: number;
  strongTokens: number;
}

async function labelTraces(source: 'checker' | 'rollouts' | 'file', rows: readonly TunedRow[], byId: Map<string, EvalProblem>, c: LabelContext): Promise<Labelled> {
  const mine = rows.filter((r) => byId.has(r.id) && r.texts !== undefined);
  if (source === 'checker') {
    const traces = mine.map((r) => labelledTrace(r, organismRowLabels(byId.get(r.id)!.problem, r)));
    log(`labelled ${traces.length} solves with the organism checker`);
    return { traces, unlabelled: 0, rollouts: 0, strongTokens: 0 };
  }
  if (source === 'file') return scoreGivenLabels(c);

  // Rollouts: the weak-only solves (every draft kept and scored), labelled one by one into WORK/labels.jsonl.
  const path = join(c.work, 'labels.jsonl');
  const done = new Map<string, { labels: RowLabels | null; strongTokens: number; rollouts: number }>();
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) if (line.trim()) {
      const r = JSON.parse(line) as { id: string; labels: RowLabels | null; strongTokens: number; rollouts: number };
      done.set(r.id, r);
    }
    const complete = text.lastIndexOf('\n') + 1;
    if (complete < text.length) writeFileSync(path, text.slice(0, complete));
  }
  const weak = mine.filter((r) => r.policy === WEAK_ONLY);
  const todo = weak.filter((r) => !done.has(r.id));
  log(`labelling ${weak.length} weak solutions by rollouts${done.size ? ` (${done.size} already done)` : ''}`);
  let next = 0;
  let finished = done.size;
  const worker = async () => {
    while (next < todo.length) {
      const row = todo[next++]!;
      const problem = byId.get(row.id)!;
      const r = await rolloutRowLabels(problem.problem, row, deriveSeed(c.seed, `rollout-${row.id}`), {
        strong: c.setup.strong,
        limits: c.setup.limits,
        sampling: c.setup.sampling,
        rollouts: c.rollouts,
        grade: (solution) => gradeSolution(solution, problem).correct,
      });
      appendFileSync(path, JSON.stringify({ id: row.id, ...r }) + '\n');
      done.set(row.id, r);
      if (++finished % 10 === 0 || finished === weak.length) log(`labelled ${finished}/${weak.length}`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(c.concurrency, todo.length)) }, worker));
  const traces: LabelledTrace[] = [];
  let unlabelled = 0;
  let strongTokens = 0;
  let rollouts = 0;
  for (const row of weak) {
    const d = done.get(row.id)!;
    strongTokens += d.strongTokens;
    rollouts += d.rollouts;
    if (d.labels) traces.push(labelledTrace(row, d.labels));
    else unlabelled++;
  }
  // The strong model's own solves say how often its steps are right: a right answer counts its steps right.
  for (const row of mine.filter((r) => r.policy === STRONG_ONLY && r.correct)) traces.push(labelledTrace(row, { steps: row.steps.map(() => 'correct'), drafts: {} }));
  log(`rollout labels: ${traces.length} traces, ${unlabelled} weak solutions left unlabelled (the strong model could not solve them from scratch), ${rollouts} rollouts, ${strongTokens} strong tokens`);
  return { traces, unlabelled, rollouts, strongTokens };
}

/** --labels FILE: ProcessBench-style labelled solutions, scored by the PRM (scores kept in WORK/label-scores.jsonl). */
async function scoreGivenLabels(c: LabelContext): Promise<Labelled> {
  const prm = c.setup.prm;
  if (!prm) throw new UsageError('--labels FILE needs a PRM to score the labelled steps.');
  let text: string;
  try {
    text = readFileSync(c.labelsPath!, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read --labels ${c.labelsPath}: ${errorMessage(err)}.`);
  }
  const records = text.split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line);
    } catch {
      throw new UsageError(`--labels ${c.labelsPath} line ${i + 1} is not valid JSON.`);
    }
    const where = `--labels ${c.labelsPath} line ${i + 1}`;
    if (typeof r.problem !== 'string' || !Array.isArray(r.steps) || !r.steps.every((s) => typeof s === 'string') || !r.steps.length)
      throw new UsageError(`${where}: needs "problem" (text) and "steps" (a non-empty list of texts).`);
    if (typeof r.label !== 'number' || !Number.isInteger(r.label) || r.label < -1 || r.label >= r.steps.length)
      throw new UsageError(`${where}: "label" must be the index of the first wrong step, or -1.`);
    return [{ id: String(r.id ?? `line ${i + 1}`), problem: r.problem, steps: r.steps as string[], label: r.label as number }];
  });
  const path = join(c.work, 'label-scores.jsonl');
  const scores = new Map<string, number[]>();
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8');
    for (const line of t.slice(0, t.lastIndexOf('\n') + 1).split('\n')) if (line.trim()) {
      const r = JSON.parse(line) as { id: string; scores: number[] };
      scores.set(r.id, r.scores);
    }
  }
  const todo = records.filter((r) => !scores.has(r.id));
  log(`scoring ${records.length} labelled solutions from --labels with the PRM${scores.size ? ` (${scores.size} already done)` : ''}`);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const r = todo[next++]!;
      const s = await prm.score({ problem: r.problem, steps: r.steps });
      appendFileSync(path, JSON.stringify({ id: r.id, scores: s }) + '\n');
      scores.set(r.id, s);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(c.concurrency, todo.length)) }, worker));
  const traces = records.map((r): LabelledTrace => {
    const s = scores.get(r.id)!;
    const labels = labelsFromFirstError(r.steps.length, r.label);
    return {
      id: r.id,
      correct: r.label < 0,
      strongTokens: 0,
      steps: r.steps.map((text, i) => {
        // Token counts are not in the file; a character count over four is the usual estimate.
        const tokens = Math.max(1, Math.round(text.length / 4));
        return { source: 'weak', label: labels[i]!, tokens, draft: { score: s[i]!, previous: s.slice(0, i), tokens, label: labels[i]!, decision: 'accept' } };
      }),
    };
  });
  return { traces, unlabelled: 0, rollouts: 0, strongTokens: 0 };
}

const traceRows = (rows: readonly TunedRow[], byId: Map<string, EvalProblem>) => rows.filter((r) => byId.has(r.id) && (r.policy === WEAK_ONLY || r.policy === STRONG_ONLY || r.policy === 'thr'));

interface GateOutcome {
  verdict: 'simulator' | 'real-traces';
  /** The fitted simulator, only when it passed. */
  params?: SimParams;
  note: string;
  table?: string;
  worstGap?: number;
  tolerance?: number;
}

/**
 * The fidelity gate (src/core/sim/fidelity.ts) before anything is trained in a simulator: the simulator
 * is fitted to the tuning traces, TRIM-Thr is replayed in it at the real thresholds, and only when every
 * point is within tolerance (3 points of cost or accuracy) does TRIM-Agg train there; otherwise it trains
 * on real solves. TRIM-POMDP is fitted on the labelled traces directly either way.
 */
function runFidelityGate(rows: readonly ResultRow[]): GateOutcome {
  let params: SimParams;
  try {
    params = resolveSimParams(fitSimParams(rows, DEFAULT_SIM_PARAMS).params);
  } catch (err) {
    if (!(err instanceof TrimError)) throw err;
    return { verdict: 'real-traces', note: `the simulator could not be fitted to the tuning traces (${err.message}); TRIM-Agg trains on real solves` };
  }
  const g = fidelityGate(rows, params);
  const pts = (x: number) => (x * 100).toFixed(1);
  return g.pass
    ? { verdict: 'simulator', params, table: g.table, worstGap: g.worstGap, tolerance: g.tolerance, note: `fidelity gate passes (TRIM-Thr in the fitted simulator within ${pts(g.worstGap)} points of the real curve, tolerance ${pts(g.tolerance)}): TRIM-Agg trains in the simulator` }
    : {
        verdict: 'real-traces',
        table: g.table,
        worstGap: g.worstGap,
        tolerance: g.tolerance,
        note: `fidelity gate FAILS (TRIM-Thr in the fitted simulator is ${pts(g.worstGap)} points off the real curve${g.worst ? ` at ${g.worst.policy}${g.worst.knob === null ? '' : ` ${g.worst.knob}`}` : ''}, tolerance ${pts(g.tolerance)}): TRIM-Agg trains on real solves of the tuning problems`,
      };
}

/** λ from 0.003 to 3 strong-only solutions' worth of tokens per unit of reward: from nearly strong-only to nearly weak-only. */
export function defaultLambdaGrid(strongTokensPerProblem: number): number[] {
  const t = Math.max(1, strongTokensPerProblem);
  const out: number[] = [];
  for (let i = 0; i < 10; i++) out.push(Number(((0.003 * Math.pow(1000, i / 9)) / t).toPrecision(2)));
  return [...new Set(out)];
}

/** How far (in cost ÷ strong-only's) a tuned policy's CPT(95%) may trail Thr's on the tuning problems. */
export const LOSS_MARGIN = 0.1;

/**
 * The tuned policies to leave out of the bundle: those that never reach PGR 95% on the tuning problems
 * where Thr does, or reach it at more than LOSS_MARGIN above Thr's cost. The margin is wide on purpose:
 * a 75-problem curve is noisy (in the rehearsal of README "Tuning a router", a POMDP 3.6 points behind
 * Thr on its tuning half was 3.7 points ahead on the other half), so only a clear loss drops a policy.
 * The best of them stays when every one would go, so a bundle always holds a policy.
 */
export function leaveOutLosers(c: Pick<Calibration, 'metrics'>, tuned: readonly string[], thr = 'thr'): { policy: string; reason: string }[] {
  const t = c.metrics[thr]?.cpt95 ?? null;
  if (t === null) return [];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const out: { policy: string; reason: string; excess: number }[] = [];
  for (const p of tuned) {
    const m = c.metrics[p]?.cpt95 ?? null;
    if (m === null) out.push({ policy: p, reason: `it never reaches PGR 95% on the tuning problems, where TRIM-Thr does at ${pct(t)} of strong-only's cost`, excess: Infinity });
    else if (m > t + LOSS_MARGIN)
      out.push({ policy: p, reason: `its CPT(95%) on the tuning problems is ${pct(m)} against TRIM-Thr's ${pct(t)} (more than ${LOSS_MARGIN * 100} points worse)`, excess: m - t });
  }
  if (out.length === tuned.length && out.length) {
    const keep = out.reduce((a, b) => (b.excess < a.excess ? b : a));
    out.splice(out.indexOf(keep), 1);
  }
  return out.map(({ policy, reason }) => ({ policy, reason }));
}

/**
 * λ to add to a measured curve (points by λ; a larger λ routes less) where it crosses PGR 95%: `count`
 * geometric steps between the cheapest λ that reaches it and the next larger one that does not; below
 * the smallest λ when none reaches it, above the largest when all do. None when the gap is degenerate.
 */
export function refineNear95(points: readonly { knob: number; accuracy: number }[], weakAccuracy: number, strongAccuracy: number, count = 3): number[] {
  const gap = strongAccuracy - weakAccuracy;
  if (!(gap > 0) || !points.length) return [];
  const sorted = [...points].filter((p) => p.knob > 0).sort((a, b) => a.knob - b.knob);
  if (!sorted.length) return [];
  const reaches = (p: { accuracy: number }) => (p.accuracy - weakAccuracy) / gap >= 0.95 - 1e-9;
  let lo: number;
  let hi: number;
  const last = sorted.map(reaches).lastIndexOf(true);
  if (last < 0) [lo, hi] = [sorted[0]!.knob / 10, sorted[0]!.knob];
  else if (last === sorted.length - 1) [lo, hi] = [sorted[last]!.knob, sorted[last]!.knob * 10];
  else [lo, hi] = [sorted[last]!.knob, sorted[last + 1]!.knob];
  const known = new Set(sorted.map((p) => p.knob));
  const out: number[] = [];
  for (let i = 1; i <= count; i++) {
    const l = Number((lo * Math.pow(hi / lo, i / (count + 1))).toPrecision(2));
    if (l > lo && l < hi && !known.has(l) && !out.includes(l)) out.push(l);
  }
  return out;
}

/**
 * TRIM-Agg's λ: four spread over the grid for the curve, plus the grid's two smallest, because one
 * network per λ gives no point in between: without them the curve jumps from ~97% accuracy straight to
 * strong-only, and CPT(95%) is interpolated towards strong-only's cost whenever the lowest λ falls short.
 */
export function pickAggLambdas(grid: readonly number[]): number[] {
  const sorted = [...new Set(grid)].sort((a, b) => a - b);
  const picks = [0, 1 / 9, 0.2, 0.4, 0.6, 0.8].map((q) => sorted[Math.round(q * (sorted.length - 1))]!);
  return [...new Set(picks)];
}

interface AggContext {
  /** A simulator that passed the fidelity gate: train there instead of on real solves. */
  sim?: SimParams;
  work: string;
  setup: RunSetup;
  data: readonly EvalProblem[];
  seed: number;
  concurrency: number;
  iterations: number;
  episodes: number;
  /** What λ prices: strong tokens, or characters sent off the device (each step's recorded `sent`). */
  cost: CostKind;
}

/**
 * One TRIM-Agg network per λ with PPO, in the gated simulator or on real solves; each finished λ is
 * saved, so a resumed tune skips it.
 */
async function trainAggNetworks(lambdas: readonly number[], c: AggContext): Promise<{ weights: AggWeights[]; strongTokens: number }> {
  const path = join(c.work, 'agg-set.json');
  const tokensPath = join(c.work, 'agg-tokens.json');
  let trained: AggWeights[] = [];
  let strongTokens = 0;
  if (existsSync(path)) {
    trained = weightSetFromJson(JSON.parse(readFileSync(path, 'utf8')), path).checkpoints.filter((w) => lambdas.includes(w.lambda));
    if (existsSync(tokensPath)) strongTokens = (JSON.parse(readFileSync(tokensPath, 'utf8')) as { strongTokens: number }).strongTokens;
  }
  const shuffled = [...c.data];
  const rng = mulberry32(deriveSeed(c.seed, 'agg-split'));
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const heldOutCount = Math.max(1, Math.round(shuffled.length * 0.2));
  const heldOut = shuffled.slice(0, heldOutCount);
  const train = shuffled.slice(heldOutCount);
  for (const lambda of lambdas) {
    if (trained.some((w) => w.lambda === lambda)) {
      log(`TRIM-Agg at λ = ${lambda}: already trained`);
      continue;
    }
    let cursor = 0;
    const solveAll = async (problems: readonly EvalProblem[], policy: RoutingPolicy, base: number): Promise<EpisodeOutcome[]> => {
      const outcomes: EpisodeOutcome[] = [];
      let failed = 0;
      await runJobs(
        problems.map((problem) => ({ problem, point: { policy: 'agg', knob: null } })),
        {
          weak: c.setup.weak,
          strong: c.setup.strong,
          ...(c.setup.prm ? { prm: c.setup.prm } : {}),
          policyFor: () => policy,
          grade: gradeSolution,
          limits: c.setup.limits,
          sampling: c.setup.sampling,
          seed: base,
          concurrency: c.concurrency,
          onResult: (row) => {
            strongTokens += row.strongTokens;
            outcomes.push({ seed: row.seed!, correct: row.correct, steps: row.steps });
          },
          onFailure: () => void failed++,
        },
      );
      if (failed === problems.length) throw new TrimError('Every problem of a TRIM-Agg training batch failed; check the servers.');
      return outcomes;
    };
    const env: TrainingEnv = {
      train: (policy, iteration, count) => {
        const batch: EvalProblem[] = [];
        for (let i = 0; i < Math.min(count, train.length); i++) batch.push(train[cursor++ % train.length]!);
        return solveAll(batch, policy, deriveSeed(c.seed, `agg-${lambda}-${iteration}`));
      },
      heldOut: (policy) => solveAll(heldOut, policy, deriveSeed(c.seed, 'agg-held-out')),
    };
    const t0 = Date.now();
    // A simulated episode costs nothing: there, larger batches and twice the iterations.
    const config = c.sim
      ? { lambda, iterations: 2 * c.iterations, episodesPerIteration: 2048, minibatch: DEFAULT_PPO.minibatch, advantages: 'paired' as const, seed: c.seed, cost: c.cost }
      : { lambda, iterations: c.iterations, episodesPerIteration: c.episodes, minibatch: Math.min(DEFAULT_PPO.minibatch, Math.max(2, c.episodes)), advantages: 'gae' as const, seed: c.seed, cost: c.cost };
    const result = await trainAgg(
      c.sim ? simTrainingEnv(c.sim, { heldOut: 2000, seed: deriveSeed(c.seed, `agg-${lambda}`) }) : env,
      config,
      (s) =>
        log(
          `TRIM-Agg λ = ${lambda}${c.sim ? ' (simulator)' : ''}, iteration ${s.iteration}/${config.iterations}: regenerated ${(s.regenerateRate * 100).toFixed(1)}% of steps; held-out accuracy ${(s.heldOut.accuracy * 100).toFixed(1)}%, ` +
            `${s.heldOut.strongTokens.toFixed(1)} strong tokens (${(s.ms / 1000).toFixed(1)} s)`,
        ),
    );
    trained.push(result.weights);
    trained.sort((a, b) => a.lambda - b.lambda);
    writeAtomic(path, JSON.stringify(weightSetToJson({ checkpoints: trained })) + '\n');
    writeAtomic(tokensPath, JSON.stringify({ strongTokens }) + '\n');
    log(`TRIM-Agg at λ = ${lambda}: kept iteration ${result.bestIteration} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  return { weights: trained, strongTokens };
}

function identity(v: FlagValues, setup: RunSetup, data: Dataset, extra: { cost: string; thrGrid: number[]; source: string; rollouts: number }) {
  const s = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : null);
  return {
    data: relativePath(data.file),
    format: data.format,
    problems: data.problems.length,
    weak: setup.weak.id,
    weakMode: s('weak-mode') ?? DEFAULT_MODE,
    strong: setup.strong.id,
    strongMode: s('strong-mode') ?? DEFAULT_MODE,
    prm: setup.prm?.id ?? null,
    temperature: setup.sampling.temperature ?? null,
    topP: setup.sampling.topP ?? null,
    maxSteps: setup.limits.maxSteps,
    maxStepTokens: setup.limits.maxStepTokens,
    thrGrid: extra.thrGrid.join(','),
    labels: extra.source,
    rollouts: extra.rollouts,
  };
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function knobList(v: FlagValues, name: string, min: number, max: number): number[] | undefined {
  const x = v[name];
  if (typeof x !== 'string') return undefined;
  const out = x.split(',').map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} takes comma-separated numbers in [${min}, ${max}]; "${s}" is not one.`);
    return n;
  });
  return [...new Set(out)];
}

/** One line on whether the fitted TRIM-POMDP observes the drafting model's confidence, and why not. */
export function confidenceChannelLine(traces: readonly LabelledTrace[], fitted: boolean): string {
  let drafts = 0;
  let withConfidence = 0;
  for (const tr of traces)
    for (const s of tr.steps)
      if (s.draft) {
        drafts++;
        if (s.draft.confidence !== undefined) withConfidence++;
      }
  if (fitted) return `TRIM-POMDP observes the PRM score and the drafting model's confidence (all ${drafts} drafts carry one)`;
  return (
    `TRIM-POMDP observes the PRM score only: ${withConfidence} of ${drafts} drafts carry the drafting model's confidence, and the channel needs every one ` +
    '(a weak server that returns OpenAI logprobs, as trim serve and vLLM do, or a weak model on this machine gives it)'
  );
}

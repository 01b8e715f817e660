// `trim train-agg`: trains TRIM-Agg with PPO, in the simulator or online against real endpoints (the
// model flags of trim eval), keeps the checkpoint with the best held-out accuracy − λ·cost, and writes
// its weights as JSON for `--policy agg --weights FILE` — or, given several λ, one policy per λ in one
// checkpoint set for `--policy agg-lambda --weights FILE` (the budget curve as the paper traces it).

import { writeFileSync } from 'node:fs';
import { DEFAULT_PPO, trainAgg, type EpisodeOutcome, type IterationStats, type PpoConfig, type TrainingEnv } from '../../core/agg/ppo.ts';
import { weightSetToJson, weightsToJson, type AggWeights } from '../../core/agg/weights.ts';
import { errorMessage, TrimError } from '../../core/errors.ts';
import { deriveSeed, mulberry32 } from '../../core/rng.ts';
import { simTrainingEnv } from '../../core/sim/training-env.ts';
import type { RoutingPolicy } from '../../core/types.ts';
import { loadDataset, type EvalProblem } from '../../eval/datasets.ts';
import { gradeSolution } from '../../eval/grading.ts';
import { runJobs } from '../../eval/runner.ts';
import { UsageError, type Command } from '../command.ts';
import { buildRun, modelFlagsUsage, parseFlags, type FlagValues } from '../model-flags.ts';
import { simParamsFrom, simParamsOptions, simParamsUsage } from '../sim-params.ts';

const usage = `
Usage: trim train-agg (--simulate | [model and PRM flags of trim eval] --data FILE) --lambda L[,L2,…] --out FILE
  [--iterations ${DEFAULT_PPO.iterations}] [--episodes ${DEFAULT_PPO.episodesPerIteration}] [--held-out N] [--epochs ${DEFAULT_PPO.epochs}] [--minibatch ${DEFAULT_PPO.minibatch}]
  [--lr ${DEFAULT_PPO.lr}] [--hidden ${DEFAULT_PPO.hidden}] [--advantages auto|paired|gae] [--seed N] [--concurrency 8]

Trains TRIM-Agg (actor-critic MLP, 2×hidden units, LayerNorm, tanh) with PPO (γ = 1, clip 0.2): per
step reward −λ·(strong tokens) when the step is regenerated, +1 for a correct final answer.
After every iteration the argmax policy is scored on held-out problems and the best
accuracy − λ·(mean strong tokens) is kept. Writes the weights as JSON for --policy agg --weights FILE.

  --cost tokens|sent  what λ prices: strong tokens of a regenerated step (default), or the characters
                    sent off the device for the step (the accepted prefix with every strong request, a
                    remote PRM's requests too; in the simulator, its "sent" parameters); λ is
                    then a price per character, far smaller than per token
  --lambda-range LO,HI  instead of --lambda: ONE network that takes λ as an input, trained over λ drawn
                    log-uniformly from [LO, HI] per episode (the whole curve from one run); checkpoints
                    are judged by the mean held-out objective at 5 λ spread over the range
  --lambda L[,L2,…] reward given up per strong token (default ${DEFAULT_PPO.lambda}). Several values train one
                    policy per λ, one after the other, into one checkpoint set for
                    --policy agg-lambda --weights FILE --sweep L1,L2,… (rewritten after each λ)
  --out FILE        the weights file
  --advantages M    paired (replay each decision with the other action on the same simulated problem;
                    simulator only), gae (the critic's GAE(0.95), as the reference), auto (default:
                    paired in the simulator, gae online)
  --simulate        train on simulated problems (fresh ones every iteration; --held-out N fixed ones,
                    default 2000)
  --data FILE       train online on a dataset (any layout trim eval reads), solving with the real
                    models; --held-out N of its problems (default 20%) are kept aside for checkpoint
                    selection. Every iteration solves --episodes problems: this costs real tokens.
  --iterations N, --episodes N, --epochs N, --minibatch N, --lr X, --hidden N   PPO settings
  --concurrency N   online runs in flight (default 8)
${simParamsUsage}${modelFlagsUsage}`;

const own = {
  simulate: { type: 'boolean' },
  data: { type: 'string' },
  lambda: { type: 'string' },
  'lambda-range': { type: 'string' },
  cost: { type: 'string' },
  out: { type: 'string' },
  iterations: { type: 'string' },
  episodes: { type: 'string' },
  'held-out': { type: 'string' },
  epochs: { type: 'string' },
  minibatch: { type: 'string' },
  lr: { type: 'string' },
  hidden: { type: 'string' },
  advantages: { type: 'string' },
  concurrency: { type: 'string' },
  ...simParamsOptions,
} as const;

export const command: Command = {
  summary: 'Train TRIM-Agg with PPO in the simulator or against real endpoints; writes weights JSON',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, own);
    const v = values as FlagValues;
    if (typeof v.out !== 'string' || !v.out.trim()) throw new UsageError('--out FILE is required.');
    if (!!v.simulate === (typeof v.data === 'string')) throw new UsageError('Give exactly one of --simulate or --data FILE (with the model flags).');
    const range = lambdaRangeOf(v);
    const lambdas = range ? [range[0]] : lambdaList(v);
    const advantages = v.advantages ?? 'auto';
    if (advantages !== 'auto' && advantages !== 'paired' && advantages !== 'gae') throw new UsageError(`--advantages must be auto, paired or gae; got "${advantages}".`);
    if (advantages === 'paired' && !v.simulate) throw new UsageError('--advantages paired replays problems with the same luck, which only --simulate can; use gae or auto online.');
    const config: Partial<PpoConfig> = {
      advantages,
      iterations: int(v, 'iterations', 1, 100_000) ?? DEFAULT_PPO.iterations,
      episodesPerIteration: int(v, 'episodes', 1, 10_000_000) ?? DEFAULT_PPO.episodesPerIteration,
      epochs: int(v, 'epochs', 1, 1000) ?? DEFAULT_PPO.epochs,
      minibatch: int(v, 'minibatch', 2, 1_000_000) ?? DEFAULT_PPO.minibatch,
      lr: num(v, 'lr', 1e-7, 1) ?? DEFAULT_PPO.lr,
      hidden: int(v, 'hidden', 1, 1024) ?? DEFAULT_PPO.hidden,
      seed: int(v, 'seed', 0, 2 ** 32 - 1) ?? 0,
      lambdaRange: range,
      cost: costOf(v),
    };
    const env = v.simulate
      ? simTrainingEnv(simParamsFrom(v), { heldOut: int(v, 'held-out', 1, 10_000_000) ?? 2000, seed: config.seed! })
      : onlineEnv(v, config.seed!);

    const t0 = Date.now();
    const prefix = lambdas.length > 1 ? (lambda: number) => `λ = ${lambda}: ` : () => '';
    const trained: AggWeights[] = [];
    for (const lambda of lambdas) {
      const log = (s: IterationStats) =>
        process.stderr.write(
          `${prefix(lambda)}iteration ${s.iteration}/${config.iterations}: train return ${s.trainReturn.toFixed(4)}, regenerated ${(s.regenerateRate * 100).toFixed(1)}% of steps; ` +
          `held-out accuracy ${(s.heldOut.accuracy * 100).toFixed(1)}%, ${s.heldOut.strongTokens.toFixed(1)} strong tokens, objective ${s.heldOut.objective.toFixed(4)} (${(s.ms / 1000).toFixed(1)} s)\n`,
        );
      let result;
      try {
        result = await trainAgg(env, { ...config, lambda }, log);
      } catch (err) {
        if (err instanceof TrimError) throw err;
        throw new TrimError(`Training failed: ${errorMessage(err)}`, { cause: err });
      }
      trained.push(result.weights);
      // Written after every λ, so an interrupted sweep keeps the policies it finished.
      const json = lambdas.length > 1 ? weightSetToJson({ checkpoints: trained }) : weightsToJson(result.weights);
      writeFileSync(v.out, JSON.stringify(json) + '\n');
      const e = result.best;
      process.stdout.write(
        `${prefix(lambda)}${result.bestIteration ? `Kept iteration ${result.bestIteration} of ${config.iterations}` : 'No iteration beat the initial policy; kept it'}: held-out accuracy ${(e.accuracy * 100).toFixed(1)}%, ` +
          `${e.strongTokens.toFixed(1)} strong tokens per problem, accuracy − λ·cost = ${e.objective.toFixed(4)} ` +
          `(initial policy: ${result.initial.objective.toFixed(4)}). ${((Date.now() - t0) / 1000).toFixed(0)} s. Wrote ${v.out}\n`,
      );
    }
    if (lambdas.length > 1)
      process.stdout.write(`Use it with: --policy agg-lambda --weights ${v.out} --sweep ${lambdas.join(',')}\n`);
    if (range) process.stdout.write(`One network for λ in [${range[0]}, ${range[1]}]: use it with --policy agg-lambda --weights ${v.out} --sweep (any λ in that range)\n`);
    return 0;
  },
};

/** Training against real endpoints: problems of a dataset solved through solve(), graded like trim eval. */
function onlineEnv(v: FlagValues, seed: number): TrainingEnv {
  // The shared model flags insist on a routing policy; the one trained here replaces it, so any valid
  // scoring policy stands in (it also makes them insist on the PRM that agg needs).
  const setup = buildRun({ ...v, policy: 'thr', threshold: '0.5', rate: undefined, lambda: undefined });
  const data = loadDataset(v.data as string, {});
  if (data.problems.length < 2) throw new UsageError(`--data ${v.data} has ${data.problems.length} gradable problems; training needs several.`);
  const shuffled = [...data.problems];
  const rng = mulberry32(deriveSeed(seed, 'split'));
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const heldOutCount = int(v, 'held-out', 1, shuffled.length - 1) ?? Math.max(1, Math.round(shuffled.length * 0.2));
  const heldOut = shuffled.slice(0, heldOutCount);
  const train = shuffled.slice(heldOutCount);
  const concurrency = int(v, 'concurrency', 1, 1024) ?? 8;
  let cursor = 0;

  const solveAll = async (problems: EvalProblem[], policy: RoutingPolicy, base: number): Promise<EpisodeOutcome[]> => {
    const outcomes: EpisodeOutcome[] = [];
    let failed = 0;
    await runJobs(
      problems.map((problem) => ({ problem, point: { policy: 'agg', knob: null } })),
      {
        weak: setup.weak,
        strong: setup.strong,
        ...(setup.prm ? { prm: setup.prm } : {}),
        policyFor: () => policy,
        grade: gradeSolution,
        limits: setup.limits,
        sampling: setup.sampling,
        seed: base,
        concurrency,
        onResult: (row) => outcomes.push({ seed: row.seed!, correct: row.correct, steps: row.steps }),
        onFailure: (job, message) => {
          failed++;
          process.stderr.write(`trim train-agg: problem ${job.problem.id} failed and is left out: ${message}\n`);
        },
      },
    );
    if (failed === problems.length) throw new TrimError('Every problem of the batch failed; check the servers (see the messages above).');
    return outcomes;
  };
  return {
    train: (policy, iteration, count) => {
      // Distinct problems per batch (their seeds must differ): at most the training split.
      const batch: EvalProblem[] = [];
      for (let i = 0; i < Math.min(count, train.length); i++) batch.push(train[cursor++ % train.length]!);
      return solveAll(batch, policy, deriveSeed(seed, `train-${iteration}`));
    },
    heldOut: (policy) => solveAll(heldOut, policy, deriveSeed(seed, 'held-out')),
  };
}

/** --cost tokens|sent: what λ prices. */
function costOf(v: FlagValues): 'tokens' | 'sent' {
  const x = v.cost ?? 'tokens';
  if (x !== 'tokens' && x !== 'sent') throw new UsageError(`--cost must be tokens or sent; got "${String(x)}".`);
  return x;
}

/** --lambda-range LO,HI: one λ-conditioned network for the whole range (exclusive with --lambda). */
function lambdaRangeOf(v: FlagValues): [number, number] | null {
  const x = v['lambda-range'];
  if (x === undefined) return null;
  if (v.lambda !== undefined) throw new UsageError('Give --lambda (one network per λ) or --lambda-range (one network for the range), not both.');
  const parts = typeof x === 'string' ? x.split(',').map((s) => Number(s.trim())) : [];
  if (parts.length !== 2 || !(parts[0]! > 0 && parts[1]! > parts[0]! && parts[1]! <= 1))
    throw new UsageError(`--lambda-range takes LO,HI with 0 < LO < HI ≤ 1, such as 0.0001,0.01; got "${String(x)}".`);
  return [parts[0]!, parts[1]!];
}

/** --lambda: one value or a comma-separated list of distinct values, each in [0, 1]. */
function lambdaList(v: FlagValues): number[] {
  const x = v.lambda;
  if (typeof x !== 'string') return [DEFAULT_PPO.lambda];
  const out = x.split(',').map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--lambda takes numbers in [0, 1], comma-separated for several; "${s}" is not one.`);
    return n;
  });
  if (new Set(out).size !== out.length) throw new UsageError(`--lambda ${x} repeats a value; each λ trains one policy.`);
  return out;
}

function num(v: FlagValues, name: string, min: number, max: number): number | undefined {
  const x = v[name];
  if (typeof x !== 'string') return undefined;
  const n = Number(x);
  if (x.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}]; got "${x}".`);
  return n;
}

function int(v: FlagValues, name: string, min: number, max: number): number | undefined {
  const n = num(v, name, min, max);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number; got "${v[name]}".`);
  return n;
}

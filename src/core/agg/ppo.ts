// PPO for TRIM-Agg (trim-method.md, "TRIM-Agg"): actor-critic on aggregate features, one episode per
// problem, one decision per scored step. Reward: −λ·(strong tokens of the step) when it is regenerated,
// +1 at the end when the final answer is correct; γ = 1, clip 0.2. Actions are sampled while training;
// the policy that is kept is evaluated by its argmax on held-out problems, and the checkpoint with the
// best held-out accuracy − λ·(mean strong tokens) wins.
//
// Advantages. The reference estimates them with GAE(0.95) from the critic. At the small λ where the
// budget curve's high-PGR end lives, one regeneration is worth ~0.01 of reward while the terminal reward
// is a coin flip with sd ~0.45 shared by every decision of the episode, so GAE's advantages are mostly
// noise and PPO cannot find the line. Where the environment can replay a problem with the same luck
// (the simulator), each decision's advantage is measured directly instead: the problem is solved again
// with that one action flipped and everything else (the world's draws, the policy's random numbers at
// every later step) unchanged, and A = π(other)·(R − R_flipped) — an unbiased estimate of Q(s,a) − V(s)
// whose noise is only the hidden state's, not the rest of the episode's (the "vine" estimator of
// Schulman et al., 2015, with common random numbers). Online, problems cannot be replayed: GAE is used.
//
// The environment is anything that can solve problems with a RoutingPolicy: the simulator, or solve()
// against real endpoints. It reports per problem which steps were strong and their tokens; decisions are
// matched to steps by step index.

import { ConfigError, TrimError } from '../errors.ts';
import { regenerateProbability, aggPolicy } from '../policies/aggregate.ts';
import { deriveSeed, mulberry32, type Rng } from '../rng.ts';
import type { RoutingPolicy } from '../types.ts';
import { AGG_FEATURES, aggInput } from './features.ts';
import { Adam, Mlp } from './mlp.ts';
import type { AggWeights } from './weights.ts';

export interface PpoConfig {
  /** Reward given up per strong token. */
  lambda: number;
  hidden: number;
  iterations: number;
  episodesPerIteration: number;
  epochs: number;
  minibatch: number;
  lr: number;
  /** Decay the learning rate linearly to 0 over the iterations (as in the PPO paper's Atari runs). */
  anneal: boolean;
  clip: number;
  gamma: number;
  gaeLambda: number;
  valueCoef: number;
  entropyCoef: number;
  maxGradNorm: number;
  /**
   * How advantages are estimated: 'paired' replays each decision with the other action on the same
   * problem (needs an environment with `replay`), 'gae' uses the critic; 'auto' pairs where it can.
   */
  advantages: 'auto' | 'paired' | 'gae';
  seed: number;
  /**
   * When set, one λ-conditioned network is trained for the whole range: every training episode draws its
   * own λ log-uniformly from [lo, hi], sees it as an input and is rewarded at it; checkpoints are judged
   * by the mean objective over a log-spaced grid of `judgeLambdas` λ in the range. `lambda` is unused.
   */
  lambdaRange: [number, number] | null;
  judgeLambdas: number;
  /**
   * What λ prices: 'tokens', the strong tokens of a regenerated step (TRIM's cost), or 'sent', the
   * characters that left the device for the step (a strong request carries the whole accepted prefix,
   * so a late step costs more than an early one; a remote PRM's requests count too).
   */
  cost: 'tokens' | 'sent';
}

export const DEFAULT_PPO: PpoConfig = {
  lambda: 8e-4,
  hidden: 64,
  iterations: 30,
  // Large batches: at small λ a decision's advantage is a rare large swing (the draft was wrong and
  // mattered) among many tiny ones (its tokens), and 1,024 problems per update drifted away from the
  // best policy where 4,096 converged (src/core/agg/README.md).
  episodesPerIteration: 4096,
  epochs: 4,
  minibatch: 512,
  lr: 1e-3,
  anneal: true,
  clip: 0.2,
  gamma: 1,
  gaeLambda: 0.95,
  valueCoef: 0.5,
  entropyCoef: 0.01,
  maxGradNorm: 0.5,
  advantages: 'auto',
  seed: 0,
  lambdaRange: null,
  judgeLambdas: 5,
  cost: 'tokens',
};

export interface EpisodeOutcome {
  /** The seed the policy's episode was created with (how decisions find their problem). */
  seed: number;
  correct: boolean;
  /** `sent`: characters that left the device for the step (needed with cost 'sent'; absent = none). */
  steps: readonly { source: 'weak' | 'strong'; tokens: number; sent?: number }[];
}

/** A step's cost on the chosen axis. */
export function stepCost(st: EpisodeOutcome['steps'][number], cost: PpoConfig['cost']): number {
  return cost === 'sent' ? (st.sent ?? 0) : st.source === 'strong' ? st.tokens : 0;
}

export interface TrainingEnv {
  /** Solves `count` training problems with the policy, passing each problem a distinct episode seed. */
  train(policy: RoutingPolicy, iteration: number, count: number): Promise<EpisodeOutcome[]> | EpisodeOutcome[];
  /** Solves the held-out problems (the same ones every time). */
  heldOut(policy: RoutingPolicy): Promise<EpisodeOutcome[]> | EpisodeOutcome[];
  /**
   * Solves the problem of the last `train` call that had this episode seed again under another policy,
   * with exactly the same draws (common random numbers). Only a simulator can; real models cannot.
   */
  replay?(policy: RoutingPolicy, episodeSeed: number): Promise<EpisodeOutcome> | EpisodeOutcome;
}

export interface Evaluation {
  accuracy: number;
  strongTokens: number;
  /** accuracy − λ·strongTokens: the mean episode return of the deterministic policy. */
  objective: number;
}

export interface IterationStats {
  iteration: number;
  /** Mean return of the sampled training episodes. */
  trainReturn: number;
  regenerateRate: number;
  heldOut: Evaluation;
  ms: number;
}

export class TrainingError extends TrimError {}

interface Decision {
  t: number;
  x: Float64Array;
  action: 0 | 1;
  logp: number;
  value: number;
}

export function evaluate(outcomes: readonly EpisodeOutcome[], lambda: number, cost: PpoConfig['cost'] = 'tokens'): Evaluation {
  if (outcomes.length === 0) throw new TrainingError('No held-out problems were solved: nothing to evaluate the policy on.');
  const accuracy = outcomes.filter((o) => o.correct).length / outcomes.length;
  const strongTokens = outcomes.reduce((s, o) => s + o.steps.reduce((a, st) => a + (st.source === 'strong' ? st.tokens : 0), 0), 0) / outcomes.length;
  const spent = cost === 'tokens' ? strongTokens : outcomes.reduce((s, o) => s + o.steps.reduce((a, st) => a + stepCost(st, cost), 0), 0) / outcomes.length;
  return { accuracy, strongTokens, objective: accuracy - lambda * spent };
}

/**
 * The uniform random number that samples the action at step t of episode `seed` in one iteration. Tied to
 * (episode, step) rather than drawn from a stream, so a replay of the episode with one action flipped
 * samples every later step with the same numbers, and the two runs differ only by that action's effects.
 */
function stepUniform(salt: number, seed: number, t: number): number {
  return mulberry32((salt ^ Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(t, 0x85ebca77)) >>> 0)();
}

/** A policy that samples from the actor and records what it saw, per episode seed. */
function recordingPolicy(actor: Mlp, critic: Mlp, salt: number, lambdaOf: (seed: number) => number | null): { policy: RoutingPolicy; episodes: Map<number, Decision[]> } {
  const episodes = new Map<number, Decision[]>();
  const ac = actor.newCache();
  const cc = critic.newCache();
  let next = 0;
  const policy: RoutingPolicy = {
    id: 'agg',
    knob: null,
    episode: (seed) => {
      const key = seed ?? next++;
      if (episodes.has(key)) throw new TrainingError(`Two training problems share the episode seed ${key}; give each problem its own seed.`);
      const decisions: Decision[] = [];
      episodes.set(key, decisions);
      const lambda = lambdaOf(key);
      return {
        plan: () => 'score',
        decide: (o) => {
          const x = aggInput(o, lambda);
          const pReg = regenerateProbability(actor.forward(x, ac));
          const action: 0 | 1 = stepUniform(salt, key, o.t) < pReg ? 1 : 0;
          const logp = Math.log(Math.max(1e-12, action ? pReg : 1 - pReg));
          decisions.push({ t: o.t, x, action, logp, value: critic.forward(x, cc)[0]! });
          return action ? 'regenerate' : 'accept';
        },
      };
    },
  };
  return { policy, episodes };
}

/** The episode's return: +1 for a correct answer, −λ per strong token. */
function episodeReturn(out: EpisodeOutcome, lambda: number, cost: PpoConfig['cost']): number {
  let spent = 0;
  for (const st of out.steps) spent += stepCost(st, cost);
  return (out.correct ? 1 : 0) - lambda * spent;
}

/**
 * Paired advantages: each decision's episode is replayed with that action flipped — earlier steps repeat
 * their recorded actions, later ones sample the same actor with the same per-step numbers — and
 * A = π(other action)·(R − R_flipped), i.e. Q(s,a) − V(s) with both Q's measured on the same problem.
 */
async function pairedAdvantages(
  env: TrainingEnv & Required<Pick<TrainingEnv, 'replay'>>,
  actor: Mlp,
  salt: number,
  episodes: Map<number, Decision[]>,
  outcomes: readonly EpisodeOutcome[],
  lambdaOf: (seed: number) => number | null,
  fixedLambda: number,
  cost: PpoConfig['cost'],
): Promise<Map<number, Float64Array>> {
  const ac = actor.newCache();
  const out = new Map<number, Float64Array>();
  for (const o of outcomes) {
    const ds = episodes.get(o.seed);
    if (!ds) continue; // buildBatch reports it
    const input = lambdaOf(o.seed);
    const lambda = input ?? fixedLambda;
    const x = new Float64Array(AGG_FEATURES.length + (input === null ? 0 : 1));
    const byStep = new Map(ds.map((d) => [d.t, d.action]));
    const r = episodeReturn(o, lambda, cost);
    const adv = new Float64Array(ds.length);
    for (let i = 0; i < ds.length; i++) {
      const flipAt = ds[i]!.t;
      const flipped: RoutingPolicy = {
        id: 'agg',
        knob: null,
        episode: () => ({
          plan: () => 'score',
          decide: (obs) => {
            let a: number;
            if (obs.t < flipAt) a = byStep.get(obs.t) ?? 0;
            else if (obs.t === flipAt) a = 1 - ds[i]!.action;
            else a = stepUniform(salt, o.seed, obs.t) < regenerateProbability(actor.forward(aggInput(obs, input, x), ac)) ? 1 : 0;
            return a ? 'regenerate' : 'accept';
          },
        }),
      };
      const rFlipped = episodeReturn(await env.replay(flipped, o.seed), lambda, cost);
      adv[i] = (1 - Math.exp(ds[i]!.logp)) * (r - rFlipped);
    }
    out.set(o.seed, adv);
  }
  return out;
}

interface Batch {
  x: Float64Array[];
  action: Uint8Array;
  logp: Float64Array;
  adv: Float64Array;
  ret: Float64Array;
  meanReturn: number;
  regenerateRate: number;
}

/** Flattens the episodes into samples; advantages are the paired ones when given, else GAE from the critic. */
function buildBatch(
  episodes: Map<number, Decision[]>,
  outcomes: readonly EpisodeOutcome[],
  c: PpoConfig,
  paired: Map<number, Float64Array> | null,
  lambdaOf: (seed: number) => number | null,
): Batch {
  const x: Float64Array[] = [];
  const action: number[] = [];
  const logp: number[] = [];
  const adv: number[] = [];
  const ret: number[] = [];
  let returns = 0;
  for (const out of outcomes) {
    const ds = episodes.get(out.seed);
    if (!ds) throw new TrainingError(`The environment reported episode seed ${out.seed}, which the policy never started.`);
    const lambda = lambdaOf(out.seed) ?? c.lambda;
    // Each decision pays for its step: the strong tokens of a regeneration, or every character sent
    // for the step (with a remote PRM an accepted step costs its scoring request).
    const rewards = ds.map((d) => {
      const step = out.steps[d.t - 1];
      if (!step || (c.cost === 'tokens' && !d.action)) return 0;
      return -lambda * stepCost(step, c.cost);
    });
    if (rewards.length) rewards[rewards.length - 1]! += out.correct ? 1 : 0;
    returns += rewards.reduce((a, b) => a + b, 0) + (rewards.length ? 0 : out.correct ? 1 : 0);
    // GAE backwards from the terminal step (value 0 after it); its targets train the critic either way.
    let gae = 0;
    const a = new Array<number>(ds.length);
    for (let i = ds.length - 1; i >= 0; i--) {
      const nextV = i + 1 < ds.length ? ds[i + 1]!.value : 0;
      const delta = rewards[i]! + c.gamma * nextV - ds[i]!.value;
      gae = delta + c.gamma * c.gaeLambda * gae;
      a[i] = gae;
    }
    const pairedAdv = paired?.get(out.seed);
    ds.forEach((d, i) => {
      x.push(d.x);
      action.push(d.action);
      logp.push(d.logp);
      adv.push(pairedAdv ? pairedAdv[i]! : a[i]!);
      ret.push(a[i]! + d.value);
    });
  }
  return {
    x,
    action: Uint8Array.from(action),
    logp: Float64Array.from(logp),
    adv: Float64Array.from(adv),
    ret: Float64Array.from(ret),
    meanReturn: outcomes.length ? returns / outcomes.length : 0,
    regenerateRate: action.length ? action.reduce((s, v) => s + v, 0) / action.length : 0,
  };
}

function clipGradients(nets: Mlp[], maxNorm: number): void {
  let sq = 0;
  for (const n of nets) for (const g of n.grads) sq += g * g;
  const norm = Math.sqrt(sq);
  if (norm > maxNorm) {
    const s = maxNorm / norm;
    for (const n of nets) for (let i = 0; i < n.grads.length; i++) n.grads[i] = n.grads[i]! * s;
  }
}

function update(actor: Mlp, critic: Mlp, opt: { actor: Adam; critic: Adam }, b: Batch, c: PpoConfig, rng: Rng): void {
  const n = b.x.length;
  const order = Array.from({ length: n }, (_, i) => i);
  const ac = actor.newCache();
  const cc = critic.newCache();
  const dLogits = new Float64Array(2);
  const dValue = new Float64Array(1);
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < n; start += c.minibatch) {
      const idx = order.slice(start, start + c.minibatch);
      if (idx.length < 2) continue;
      // Advantages normalised per minibatch, as in common PPO implementations.
      let mean = 0;
      for (const i of idx) mean += b.adv[i]!;
      mean /= idx.length;
      let v = 0;
      for (const i of idx) v += (b.adv[i]! - mean) ** 2;
      const sd = Math.sqrt(v / idx.length) + 1e-8;
      actor.grads.fill(0);
      critic.grads.fill(0);
      const scale = 1 / idx.length;
      for (const i of idx) {
        const adv = (b.adv[i]! - mean) / sd;
        const logits = actor.forward(b.x[i]!, ac);
        const pReg = regenerateProbability(logits);
        const probs = [1 - pReg, pReg];
        const a = b.action[i]!;
        const logp = Math.log(Math.max(1e-12, probs[a]!));
        const ratio = Math.exp(logp - b.logp[i]!);
        // d(−min(ratio·A, clip(ratio)·A))/d(log π(a)): −ratio·A where the unclipped term is the minimum.
        const clipped = (adv >= 0 && ratio > 1 + c.clip) || (adv < 0 && ratio < 1 - c.clip);
        const dLogp = clipped ? 0 : -ratio * adv;
        const entropy = -(probs[0]! * Math.log(Math.max(1e-12, probs[0]!)) + probs[1]! * Math.log(Math.max(1e-12, probs[1]!)));
        for (let k = 0; k < 2; k++) {
          const p = probs[k]!;
          const dLogpDz = (k === a ? 1 : 0) - p;
          // Loss includes −entropyCoef·H; dH/dz_k = −p_k (log p_k + H).
          const dH = -p * (Math.log(Math.max(1e-12, p)) + entropy);
          dLogits[k] = scale * (dLogp * dLogpDz - c.entropyCoef * dH);
        }
        actor.backward(ac, dLogits);
        const value = critic.forward(b.x[i]!, cc)[0]!;
        dValue[0] = scale * c.valueCoef * 2 * (value - b.ret[i]!);
        critic.backward(cc, dValue);
      }
      clipGradients([actor], c.maxGradNorm);
      clipGradients([critic], c.maxGradNorm);
      opt.actor.step(actor.params, actor.grads);
      opt.critic.step(critic.params, critic.grads);
    }
  }
}

export function checkPpoConfig(c: PpoConfig): PpoConfig {
  const pos = (name: 'hidden' | 'iterations' | 'episodesPerIteration' | 'epochs' | 'minibatch' | 'lr' | 'clip', int = false) => {
    const v = c[name];
    if (!(v > 0) || (int && !Number.isInteger(v))) throw new ConfigError(`PPO setting ${name} must be a positive ${int ? 'integer' : 'number'}, got ${v}.`);
  };
  if (!(c.lambda >= 0)) throw new ConfigError(`λ must be ≥ 0, got ${c.lambda}.`);
  (['hidden', 'iterations', 'episodesPerIteration', 'epochs', 'minibatch'] as const).forEach((k) => pos(k, true));
  (['lr', 'clip'] as const).forEach((k) => pos(k));
  if (!(c.gamma > 0 && c.gamma <= 1)) throw new ConfigError(`γ must be in (0, 1], got ${c.gamma}.`);
  if (!(c.gaeLambda >= 0 && c.gaeLambda <= 1)) throw new ConfigError(`The GAE λ must be in [0, 1], got ${c.gaeLambda}.`);
  if (!['auto', 'paired', 'gae'].includes(c.advantages)) throw new ConfigError(`PPO advantages must be auto, paired or gae, got ${c.advantages}.`);
  if (c.cost !== 'tokens' && c.cost !== 'sent') throw new ConfigError(`The PPO cost must be tokens or sent, got ${String(c.cost)}.`);
  if (c.lambdaRange !== null) {
    const [lo, hi] = c.lambdaRange;
    if (!(lo > 0 && hi > lo && hi <= 1)) throw new ConfigError(`The λ range must be 0 < lo < hi ≤ 1, got [${lo}, ${hi}].`);
    if (!(Number.isInteger(c.judgeLambdas) && c.judgeLambdas >= 2)) throw new ConfigError(`judgeLambdas must be an integer ≥ 2, got ${c.judgeLambdas}.`);
  }
  return c;
}

export interface TrainResult {
  weights: AggWeights;
  initial: Evaluation;
  best: Evaluation;
  bestIteration: number;
  history: IterationStats[];
}

/** Trains TRIM-Agg; `onIteration` sees each iteration's numbers (progress, logs). */
export async function trainAgg(env: TrainingEnv, config: Partial<PpoConfig> = {}, onIteration?: (s: IterationStats) => void): Promise<TrainResult> {
  const c = checkPpoConfig({ ...DEFAULT_PPO, ...config });
  if (c.advantages === 'paired' && !env.replay)
    throw new ConfigError('Paired advantages replay training problems, which only the simulator can do; use advantages "gae" (or "auto") online.');
  const replayable = c.advantages !== 'gae' && env.replay ? (env as TrainingEnv & Required<Pick<TrainingEnv, 'replay'>>) : null;
  const rng = mulberry32(deriveSeed(c.seed, 'ppo'));
  const range = c.lambdaRange;
  const shape = { inputs: AGG_FEATURES.length + (range ? 1 : 0), hidden: c.hidden };
  // λ of a training episode: log-uniform over the range, drawn from (iteration, episode) so replays agree.
  const lambdaFor = (salt: number) => (seed: number) =>
    range ? range[0] * (range[1] / range[0]) ** stepUniform(salt ^ 0x5bd1e995, seed, 0) : null;
  const judged = range ? Array.from({ length: c.judgeLambdas }, (_, i) => range[0] * (range[1] / range[0]) ** (i / (c.judgeLambdas - 1))) : [c.lambda];
  const actor = new Mlp({ ...shape, outputs: 2 }).init(rng, 0.01);
  const critic = new Mlp({ ...shape, outputs: 1 }).init(rng, 1);
  const opt = { actor: new Adam(actor.params.length, c.lr), critic: new Adam(critic.params.length, c.lr) };
  const snapshot = (): AggWeights => ({
    lambda: range ? range[0] : c.lambda,
    ...(range ? { lambdaRange: [range[0], range[1]] as [number, number] } : {}),
    hidden: c.hidden,
    actor: new Mlp(actor.shape, actor.params.slice()),
    critic: new Mlp(critic.shape, critic.params.slice()),
    training: {},
  });
  // A conditioned network is judged over the range: the mean held-out objective at the grid's λ.
  const judge = async (w: AggWeights): Promise<Evaluation> => {
    const evals: Evaluation[] = [];
    for (const lambda of judged) evals.push(evaluate(await env.heldOut(aggPolicy(w, 0.5, range ? lambda : undefined)), lambda, c.cost));
    const mean = (f: (e: Evaluation) => number) => evals.reduce((s, e) => s + f(e), 0) / evals.length;
    return { accuracy: mean((e) => e.accuracy), strongTokens: mean((e) => e.strongTokens), objective: mean((e) => e.objective) };
  };

  let best = snapshot();
  const initial = await judge(best);
  let bestEval = initial;
  let bestIteration = 0;
  const history: IterationStats[] = [];
  for (let it = 1; it <= c.iterations; it++) {
    const t0 = Date.now();
    const salt = deriveSeed(c.seed, `sample-${it}`);
    const lambdaOf = lambdaFor(salt);
    const { policy, episodes } = recordingPolicy(actor, critic, salt, lambdaOf);
    const outcomes = await env.train(policy, it, c.episodesPerIteration);
    if (c.anneal) opt.actor.lr = opt.critic.lr = c.lr * (1 - (it - 1) / c.iterations);
    const paired = replayable ? await pairedAdvantages(replayable, actor, salt, episodes, outcomes, lambdaOf, c.lambda, c.cost) : null;
    const batch = buildBatch(episodes, outcomes, c, paired, lambdaOf);
    if (batch.x.length > 0) update(actor, critic, opt, batch, c, rng);
    const current = snapshot();
    const heldOut = await judge(current);
    if (heldOut.objective > bestEval.objective) {
      best = current;
      bestEval = heldOut;
      bestIteration = it;
    }
    const stats = { iteration: it, trainReturn: batch.meanReturn, regenerateRate: batch.regenerateRate, heldOut, ms: Date.now() - t0 };
    history.push(stats);
    onIteration?.(stats);
  }
  best.training = {
    algorithm: 'PPO',
    config: c,
    advantageEstimator: replayable ? 'paired' : 'gae',
    bestIteration,
    heldOut: bestEval,
    initial,
  };
  return { weights: best, initial, best: bestEval, bestIteration, history };
}

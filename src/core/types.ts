// The contract between the method (src/core) and everything that runs a model. A step model or a
// scorer may live in this thread, in a worker, in Node or behind HTTP: solve() never knows which.

export interface Sampling {
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
}

/** What is about to leave the device. Handed to `beforeSend` before the request goes out. */
export interface Transmission {
  /** Full URL of the request (never carries a secret). */
  url: string;
  /** Host the bytes go to, for the privacy ledger. */
  host: string;
  /** The exact request body as sent (JSON text). Headers are not included: they hold the key. */
  body: string;
  /** Which role sent it. */
  purpose: 'step' | 'score';
  /** 1 for the first try, 2+ for retries of the same request (each retry sends the bytes again). */
  attempt: number;
}

/**
 * Called before every request that leaves the device. It may record the transmission, ask the user
 * to confirm, or throw to refuse (the call then fails with that error and nothing is sent).
 */
export type BeforeSend = (t: Transmission) => void | Promise<void>;

export interface StepRequest {
  problem: string;
  /** Accepted steps only; a rejected draft never appears here. */
  steps: readonly string[];
  /**
   * Text the model already produced for the current step that was not a step (a degenerate draft plus
   * the delimiter it stopped at). The model continues after it; it is not part of the returned text.
   */
  partial?: string;
  maxTokens: number;
  sampling?: Sampling;
  signal?: AbortSignal;
  /** Streaming text of the step being written. */
  onText?: (delta: string) => void;
  beforeSend?: BeforeSend;
}

export type StepFinish = 'step' | 'end' | 'length';
export type ContinuationMode = 'raw' | 'continue' | 'prefix' | 'instruct';

export interface StepResult {
  /** The step, delimiter removed. */
  text: string;
  /** 'step': stopped at "\n\n"; 'end': end of sequence; 'length': token cap. */
  finish: StepFinish;
  promptTokens: number;
  completionTokens: number;
  /** True when the server reported no usage and the counts are estimates. */
  estimated?: boolean;
  /** How a remote call continued the prefix; 'instruct' is approximate. */
  continuation?: ContinuationMode;
  /**
   * The drafting model's own confidence in this step: the probability of the least likely token it
   * emitted for the step's text, under its untempered distribution (softmax of the raw logits at T = 1,
   * whatever temperature it sampled at), in [0, 1]. The minimum because a slip is one token.
   * Counted: every token whose text is (at least partly) in `text`. Not counted: a token that is only
   * the step delimiter or end of sequence (remote servers differ on whether they report the stop
   * token, and the LM-likelihood checker scores a step's tokens without it, so excluding it keeps
   * every backend measuring the same thing), nor the tokens of `partial`. A step with no counted
   * token has confidence 1. Absent when the backend cannot report it (a server without logprobs).
   */
  confidence?: number;
}

export type Where = 'device' | 'remote';

export interface StepModel {
  readonly id: string;
  readonly where: Where;
  next(r: StepRequest): Promise<StepResult>;
  /**
   * Characters of the request body next(r) would send, without sending it (remote models): what a
   * privacy-priced policy pays for routing a step here, known before it decides.
   */
  requestChars?(r: StepRequest): number;
  dispose?(): Promise<void>;
}

export interface ScoreRequest {
  problem: string;
  /** The accepted prefix followed by the step to score. */
  steps: readonly string[];
  signal?: AbortSignal;
  beforeSend?: BeforeSend;
}

export interface StepScorer {
  readonly id: string;
  readonly where: Where;
  /** One score in [0, 1] per step: the probability that the step is correct given what precedes it. */
  score(r: ScoreRequest): Promise<number[]>;
  dispose?(): Promise<void>;
}

export type Decision = 'accept' | 'regenerate';

/** What a policy sees after the PRM scored the current draft. */
export interface Observation {
  /** 1-based step index. */
  t: number;
  /** The PRM's score of the current draft. */
  score: number;
  /** The PRM's scores of the accepted steps 1..t-1 from the same call (strong steps included). */
  previous: readonly number[];
  /** Tokens of the current draft. */
  draftTokens: number;
  /** Strong-model tokens spent so far on this problem. */
  strongTokens: number;
  /** Strong tokens left in a budget, when one is set. */
  budgetLeft: number | null;
  /**
   * Characters that regenerating this step would send off the device (the strong model's request: the
   * problem and the accepted prefix); 0 when the strong model is on the device; absent when the strong
   * model cannot say (it does not implement requestChars).
   */
  sendChars?: number;
  /** The current draft's StepResult.confidence (the weak model's own); absent when its backend cannot say. */
  confidence?: number;
}

/**
 * What to do for step t before anything is drafted:
 * - 'score': draft, score, then ask `decide`;
 * - 'accept': draft and keep it without scoring (no PRM call);
 * - 'strong': let the strong model write the step without drafting.
 */
export type StepPlan = 'score' | 'accept' | 'strong';

/** A policy's state for one problem. */
export interface PolicyEpisode {
  plan(t: number): StepPlan;
  decide(o: Observation): Decision;
}

export interface RoutingPolicy {
  /** Name in the registry, e.g. 'thr'. */
  readonly id: string;
  /** The scalar that trades accuracy for cost (threshold, rate, λ…), null for baselines. */
  readonly knob: number | null;
  /** A fresh episode per problem; `seed` makes randomised policies reproducible. */
  episode(seed?: number): PolicyEpisode;
}

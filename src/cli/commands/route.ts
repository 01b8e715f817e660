// `trim route`: any policy as a filter from observations to decisions, so a policy can be checked (or
// driven) from outside the solver: one JSON observation per input line, one decision per output line.

import { accessSync, constants, createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { errorMessage, TrimError } from '../../core/errors.ts';
import { createPolicy, policyEntry, policyNames } from '../../core/policies/index.ts';
import type { Observation, PolicyEpisode, RoutingPolicy } from '../../core/types.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { bundleDefaultKnob, loadPolicyArtefacts, policyArtefactOptions, policyArtefactsUsage } from '../policy-artefacts.ts';

const usage = `
Usage: trim route --policy P [--knob K] [--input FILE] [--weights FILE] [--observations FILE] [--bundle FILE]
  [--belief filter|reference] [--seed N]

Reads one observation per line (JSON) from standard input or --input and writes one decision per line:
  in:  {"t": 1, "score": 0.93, "previous": [], "draftTokens": 57}
  out: {"t": 1, "decision": "accept"}
t is the 1-based step; "previous" holds the PRM scores of the accepted steps 1..t-1. A line with t = 1
starts a new problem (a fresh policy episode); otherwise t must follow the previous line's t.
Optional fields: "strongTokens" (strong tokens spent so far, default 0) and "budgetLeft" (default null).
A policy that decides before drafting (thr at 0 or 1, query after its first step) answers "accept" or
"regenerate" all the same, with "plan": "accept" | "strong" added to say the draft was not needed.

  --policy P   ${policyNames().join(', ')}
  --knob K     the policy's knob (thr/query/agg: threshold, pomdp and agg-lambda: λ, random: rate); its
               default if absent (with --bundle: the bundle's best knob when it is that policy's)
${policyArtefactsUsage}`;

export const command: Command = {
  summary: 'Decide accept/regenerate for JSON-lines observations with any policy (stdin → stdout)',
  usage,
  async run(argv) {
    const values = parseOptions(argv, { policy: { type: 'string' }, knob: { type: 'string' }, input: { type: 'string' }, seed: { type: 'string' }, ...policyArtefactOptions });
    if (!values.policy) throw new UsageError(`--policy is required (one of ${policyNames().join(', ')}).`);
    const entry = policyEntry(values.policy);
    let knob: number | undefined;
    if (values.knob !== undefined) {
      if (!entry.knob) throw new UsageError(`--policy ${values.policy} has no knob; drop --knob.`);
      knob = Number(values.knob);
      if (values.knob.trim() === '' || !Number.isFinite(knob)) throw new UsageError(`--knob must be a number; got "${values.knob}".`);
    }
    const seed = values.seed === undefined ? 0 : Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a whole number ≥ 0; got "${values.seed}".`);
    let policy: RoutingPolicy;
    try {
      const artefacts = loadPolicyArtefacts(values);
      knob ??= bundleDefaultKnob(artefacts, values.policy);
      policy = createPolicy(values.policy, { ...(knob !== undefined ? { knob } : {}), seed, artefacts });
    } catch (err) {
      if (err instanceof TrimError && !(err instanceof UsageError)) throw new UsageError(err.message);
      throw err;
    }

    const inputName = values.input ?? 'standard input';
    if (values.input) {
      try {
        accessSync(values.input, constants.R_OK);
      } catch (err) {
        throw new UsageError(`Cannot read --input ${values.input}: ${errorMessage(err)}.`);
      }
    }
    const input = values.input ? createReadStream(values.input) : process.stdin;
    const lines = createInterface({ input, crlfDelay: Infinity });
    let episode: PolicyEpisode | null = null;
    let lastT = 0;
    let problems = 0;
    let n = 0;
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      const o = parseObservation(line, `${inputName} line ${n}`);
      if (o.t === 1) {
        episode = policy.episode(seed + problems++);
      } else if (!episode || o.t !== lastT + 1) {
        throw new RouteInputError(
          `${inputName} line ${n}: step t = ${o.t} does not follow ${episode ? `t = ${lastT}` : 'a t = 1 line'}; each problem's lines must run t = 1, 2, 3, … in order.`,
        );
      }
      lastT = o.t;
      const plan = episode.plan(o.t);
      const decision = plan === 'score' ? decide(episode, o, `${inputName} line ${n}`) : plan === 'strong' ? 'regenerate' : 'accept';
      process.stdout.write(JSON.stringify({ t: o.t, decision, ...(plan === 'score' ? {} : { plan }) }) + '\n');
    }
    return 0;
  },
};

/** An observation line that cannot be routed. */
export class RouteInputError extends TrimError {}

function decide(episode: PolicyEpisode, o: Observation, where: string) {
  try {
    return episode.decide(o);
  } catch (err) {
    if (err instanceof TrimError) throw new RouteInputError(`${where}: ${err.message}`);
    throw err;
  }
}

function parseObservation(line: string, where: string): Observation {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new RouteInputError(`${where} is not valid JSON; each line must be one observation object.`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RouteInputError(`${where} is not a JSON object.`);
  const r = v as Record<string, unknown>;
  const bad = (what: string): never => {
    throw new RouteInputError(`${where}: ${what}.`);
  };
  if (typeof r.t !== 'number' || !Number.isInteger(r.t) || r.t < 1) bad('"t" must be a whole number ≥ 1');
  const t = r.t as number;
  if (typeof r.score !== 'number' || !Number.isFinite(r.score) || r.score < 0 || r.score > 1) bad('"score" must be a number in [0, 1]');
  const previous = r.previous ?? [];
  if (!Array.isArray(previous)) bad('"previous" must be a list of scores');
  (previous as unknown[]).forEach((p, i) => {
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1) bad(`"previous"[${i}] must be a number in [0, 1]`);
  });
  if ((previous as unknown[]).length !== t - 1) bad(`"previous" must hold the t - 1 = ${t - 1} scores of the accepted steps, not ${(previous as unknown[]).length}`);
  if (typeof r.draftTokens !== 'number' || !Number.isFinite(r.draftTokens) || r.draftTokens < 0) bad('"draftTokens" must be a number ≥ 0');
  const strongTokens = r.strongTokens ?? 0;
  if (typeof strongTokens !== 'number' || !Number.isFinite(strongTokens) || strongTokens < 0) bad('"strongTokens" must be a number ≥ 0');
  const budgetLeft = r.budgetLeft ?? null;
  if (budgetLeft !== null && (typeof budgetLeft !== 'number' || !Number.isFinite(budgetLeft))) bad('"budgetLeft" must be a number or null');
  return {
    t,
    score: r.score as number,
    previous: previous as number[],
    draftTokens: r.draftTokens as number,
    strongTokens: strongTokens as number,
    budgetLeft: budgetLeft as number | null,
  };
}

// Finite-horizon value iteration for TRIM-POMDP over the belief simplex, per step, for one λ.
//
// The structure that makes it small: after "accept" the next belief depends on the current belief only
// through b0 (S1 and S2 both become S1), after "regenerate" only through b1 (S0 and S2 are both fixed
// by the strong model w.p. p_s). So each action's value — terminal reward plus the expected value of
// the next step's posterior — is a function of ONE coordinate:
//   A_t(b0) = h_t·R·b0          + (1−h_t)·Σ_o P(o | b'_acc) · V_{t+1}(posterior)
//   G_t(b1) = h_t·R·p_s·(1−b1)  + (1−h_t)·Σ_o P(o | b'_reg) · V_{t+1}(posterior)
//   V_t(b)  = max(A_t(b0), G_t(b1) − λ·F_t)      (F_t = assumed cost of a regeneration at step t)
// and at run time, with the current step's real cost c (the draft's tokens, or under cost "sent" the
// characters its strong request would send, which grow with the prefix; F_t then grows with t too):
//   regenerate  ⇔  G_t(b1) − λ·c > A_t(b0).
// A_t and G_t are tabulated on a grid of the unit interval and read by linear interpolation, which is
// grid value iteration on the simplex without a 2-D grid. The token count enters only the immediate
// cost, so instead of one table per token bin (the reference's SARSOP tables) the comparison is exact
// in c. Building a table set takes well under a second; a lookup is two interpolations.

import { ConfigError, TrimError } from '../errors.ts';
import { checkModel, futureCostAt, type Belief, type PomdpModel } from './model.ts';
import type { ObservationModel } from './observations.ts';

export const TABLES_FORMAT = 'trim-pomdp-tables';

export interface PomdpTables {
  lambda: number;
  /** Points of each 1-D table over [0, 1]. */
  grid: number;
  model: PomdpModel;
  /** accept[t−1]: A_t on the grid of b0. */
  accept: Float64Array[];
  /** regenerate[t−1]: G_t on the grid of b1 (immediate cost not included). */
  regenerate: Float64Array[];
}

export class TablesError extends TrimError {}

function interp(table: Float64Array, x: number): number {
  const m = table.length - 1;
  const pos = Math.min(m, Math.max(0, x * m));
  const i = Math.min(m - 1, Math.floor(pos));
  const f = pos - i;
  return table[i]! * (1 - f) + table[i + 1]! * f;
}

export function solvePomdp(model: PomdpModel, obs: ObservationModel, lambda: number, grid = 201): PomdpTables {
  checkModel(model);
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new ConfigError(`λ must be a finite number ≥ 0, got ${lambda}.`);
  if (!Number.isInteger(grid) || grid < 3) throw new ConfigError(`The table grid needs at least 3 points, got ${grid}.`);
  const { pw, ps, reward: R } = model;
  const T = model.hazard.length;
  // With the confidence channel an observation is (score cell, confidence cell), independent given the
  // state: the planner sums over their product. Without it, the score cells alone (unchanged).
  const [P0, P1, P2] = obs.confidence ? jointProbs(obs.probs, obs.confidence.probs) : obs.probs;
  // Cells no state can produce contribute nothing; skipping them saves most of the work on sharp models.
  const cells: number[] = [];
  for (let o = 0; o < P0.length; o++) if (P0[o]! + P1[o]! + P2[o]! > 1e-15) cells.push(o);
  // λ·F_t of the step whose posterior expectedNext averages over (set per t below).
  let futureCost = 0;

  const accept: Float64Array[] = new Array(T);
  const regenerate: Float64Array[] = new Array(T);
  let nextA: Float64Array | null = null;
  let nextG: Float64Array | null = null;

  const expectedNext = (c0: number, c1: number, c2: number): number => {
    let sum = 0;
    for (const o of cells) {
      const l0 = c0 * P0[o]!;
      const l1 = c1 * P1[o]!;
      const p = l0 + l1 + c2 * P2[o]!;
      if (p <= 0) continue;
      const va = interp(nextA!, l0 / p);
      const vg = interp(nextG!, l1 / p) - futureCost;
      sum += p * (va > vg ? va : vg);
    }
    return sum;
  };

  for (let t = T; t >= 1; t--) {
    const h = t === T ? 1 : model.hazard[t - 1]!;
    futureCost = lambda * futureCostAt(model, t + 1);
    const A = new Float64Array(grid);
    const G = new Float64Array(grid);
    for (let i = 0; i < grid; i++) {
      const x = i / (grid - 1);
      const fixable = 1 - x;
      A[i] = h * R * x + (h < 1 ? (1 - h) * expectedNext(x * pw, 1 - x, x * (1 - pw)) : 0);
      G[i] =
        h * R * ps * fixable + (h < 1 ? (1 - h) * expectedNext(fixable * ps * pw, x + fixable * (1 - ps), fixable * ps * (1 - pw)) : 0);
    }
    accept[t - 1] = A;
    regenerate[t - 1] = G;
    nextA = A;
    nextG = G;
  }
  return { lambda, grid, model, accept, regenerate };
}

/** P(score cell, confidence cell | state) = P(score cell | state) · P(confidence cell | state), flattened. */
function jointProbs(score: ObservationModel['probs'], conf: ObservationModel['probs']): ObservationModel['probs'] {
  const joint = (s: 0 | 1 | 2) => {
    const a = score[s];
    const c = conf[s];
    const out = new Float64Array(a.length * c.length);
    for (let i = 0; i < a.length; i++) for (let j = 0; j < c.length; j++) out[i * c.length + j] = a[i]! * c[j]!;
    return out;
  };
  return [joint(0), joint(1), joint(2)];
}

/** Value of each action at step t for belief b; `regenerate` already pays λ·cost (tokens or characters sent, as the model prices). */
export function actionValues(tables: PomdpTables, t: number, b: Belief, cost: number): { accept: number; regenerate: number } {
  const i = Math.min(tables.accept.length, Math.max(1, t)) - 1;
  return {
    accept: interp(tables.accept[i]!, b[0]),
    regenerate: interp(tables.regenerate[i]!, b[1]) - tables.lambda * cost,
  };
}

/** V_t(b) with future regenerations at the assumed cost: what the solver optimised. */
export function beliefValue(tables: PomdpTables, t: number, b: Belief): number {
  const v = actionValues(tables, t, b, futureCostAt(tables.model, t));
  return Math.max(v.accept, v.regenerate);
}

export function tablesToJson(t: PomdpTables): unknown {
  return {
    format: TABLES_FORMAT,
    version: 1,
    lambda: t.lambda,
    grid: t.grid,
    model: { ...t.model, hazard: [...t.model.hazard], ...(t.model.futureCost ? { futureCost: [...t.model.futureCost] } : {}) },
    accept: t.accept.map((a) => Array.from(a)),
    regenerate: t.regenerate.map((a) => Array.from(a)),
  };
}

export function tablesFromJson(j: unknown, where = 'POMDP tables'): PomdpTables {
  const fail = (why: string): never => {
    throw new TablesError(`${where} cannot be used: ${why}. Rebuild them with the pomdp policy (they are solved from an observation model).`);
  };
  if (!j || typeof j !== 'object') fail('not a JSON object');
  const o = j as Record<string, unknown>;
  if (o.format !== TABLES_FORMAT || o.version !== 1) fail(`"format" must be "${TABLES_FORMAT}" version 1`);
  const lambda = o.lambda;
  const grid = o.grid;
  if (typeof lambda !== 'number' || !(lambda >= 0)) fail('"lambda" must be a number ≥ 0');
  if (typeof grid !== 'number' || !Number.isInteger(grid) || grid < 3) fail('"grid" must be an integer ≥ 3');
  const m = o.model as Record<string, unknown> | undefined;
  if (!m || typeof m !== 'object' || !Array.isArray(m.hazard)) fail('"model" with a "hazard" list is missing');
  const model: PomdpModel = {
    pw: Number(m!.pw),
    ps: Number(m!.ps),
    hazard: (m!.hazard as unknown[]).map(Number),
    reward: Number(m!.reward),
    futureTokens: Number(m!.futureTokens),
    ...(m!.cost !== undefined ? { cost: m!.cost as PomdpModel['cost'] } : {}),
    ...(Array.isArray(m!.futureCost) ? { futureCost: (m!.futureCost as unknown[]).map(Number) } : {}),
  };
  try {
    checkModel(model);
  } catch (e) {
    fail((e as Error).message);
  }
  const table = (name: string) => {
    const a = o[name];
    if (!Array.isArray(a) || a.length !== model.hazard.length) fail(`"${name}" must hold one row per step (${model.hazard.length})`);
    return (a as unknown[]).map((row, t) => {
      if (!Array.isArray(row) || row.length !== grid) fail(`${name}[${t}] must hold ${grid} numbers`);
      const out = new Float64Array(grid as number);
      (row as unknown[]).forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${name}[${t}][${i}] is not a finite number`);
        out[i] = v as number;
      });
      return out;
    });
  };
  return { lambda: lambda as number, grid: grid as number, model, accept: table('accept'), regenerate: table('regenerate') };
}

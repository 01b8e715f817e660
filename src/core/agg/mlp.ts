// A small multilayer perceptron with hand-written forward and backward passes: input → [Linear →
// LayerNorm → tanh] × 2 → Linear. TRIM-Agg's actor and critic are two of these. Plain loops over
// Float64Arrays: at 5 inputs and 64 hidden units a pass is a few thousand multiply-adds, so a model
// library would cost more in set-up than it could save, and this runs unchanged in a page.

import type { Rng } from '../rng.ts';

const LN_EPS = 1e-5;

export interface MlpShape {
  inputs: number;
  hidden: number;
  outputs: number;
}

/** Offsets of each parameter block inside the flat parameter vector. */
interface Layout {
  w1: number;
  b1: number;
  g1: number;
  be1: number;
  w2: number;
  b2: number;
  g2: number;
  be2: number;
  w3: number;
  b3: number;
  size: number;
}

function layout({ inputs: I, hidden: H, outputs: O }: MlpShape): Layout {
  let at = 0;
  const take = (n: number) => ((at += n), at - n);
  const blocks = {
    w1: take(H * I),
    b1: take(H),
    g1: take(H),
    be1: take(H),
    w2: take(H * H),
    b2: take(H),
    g2: take(H),
    be2: take(H),
    w3: take(O * H),
    b3: take(O),
  };
  return { ...blocks, size: at };
}

/** Activations of one forward pass, kept for the backward pass. */
export interface MlpCache {
  x: Float64Array;
  n1: Float64Array; // normalised pre-activation of layer 1 (x̂)
  inv1: number; // 1 / std of layer 1
  a1: Float64Array;
  n2: Float64Array;
  inv2: number;
  a2: Float64Array;
  out: Float64Array;
}

export class Mlp {
  readonly shape: MlpShape;
  readonly params: Float64Array;
  readonly grads: Float64Array;
  private readonly at: Layout;
  // Scratch space of the backward pass, reused so training does not allocate per sample.
  private readonly da: Float64Array;
  private readonly dpre: Float64Array;

  constructor(shape: MlpShape, params?: Float64Array) {
    this.shape = shape;
    this.at = layout(shape);
    if (params && params.length !== this.at.size) throw new RangeError(`Expected ${this.at.size} parameters, got ${params.length}.`);
    this.params = params ?? new Float64Array(this.at.size);
    this.grads = new Float64Array(this.at.size);
    this.da = new Float64Array(shape.hidden);
    this.dpre = new Float64Array(shape.hidden);
  }

  /**
   * Orthogonal-like init scaled as in common PPO set-ups: hidden weights ~ N(0, 1/fan_in)·√2, the output
   * layer scaled by `outScale` (0.01 for a policy head, so the initial policy is near uniform).
   */
  init(rng: Rng, outScale: number): this {
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const p = this.params;
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    for (let i = 0; i < H * I; i++) p[this.at.w1 + i] = gauss() * Math.sqrt(2 / I);
    for (let i = 0; i < H * H; i++) p[this.at.w2 + i] = gauss() * Math.sqrt(2 / H);
    for (let i = 0; i < O * H; i++) p[this.at.w3 + i] = gauss() * Math.sqrt(1 / H) * outScale;
    for (let i = 0; i < H; i++) {
      p[this.at.g1 + i] = 1;
      p[this.at.g2 + i] = 1;
    }
    return this;
  }

  newCache(): MlpCache {
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    return {
      x: new Float64Array(I),
      n1: new Float64Array(H),
      inv1: 0,
      a1: new Float64Array(H),
      n2: new Float64Array(H),
      inv2: 0,
      a2: new Float64Array(H),
      out: new Float64Array(O),
    };
  }

  /** Forward pass of one input; the result is c.out. */
  forward(x: ArrayLike<number>, c: MlpCache): Float64Array {
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const p = this.params;
    const A = this.at;
    for (let i = 0; i < I; i++) c.x[i] = x[i]!;
    c.inv1 = this.dense(A.w1, A.b1, c.x, I, c.n1);
    this.normAct(A.g1, A.be1, c.n1, c.a1);
    c.inv2 = this.dense(A.w2, A.b2, c.a1, H, c.n2);
    this.normAct(A.g2, A.be2, c.n2, c.a2);
    for (let o = 0; o < O; o++) {
      let s = p[A.b3 + o]!;
      const row = A.w3 + o * H;
      for (let h = 0; h < H; h++) s += p[row + h]! * c.a2[h]!;
      c.out[o] = s;
    }
    return c.out;
  }

  /** out = W·x + b into `pre`, then normalised in place; returns 1/std for the backward pass. */
  private dense(w: number, b: number, x: Float64Array, n: number, pre: Float64Array): number {
    const H = this.shape.hidden;
    const p = this.params;
    let mean = 0;
    for (let h = 0; h < H; h++) {
      let s = p[b + h]!;
      const row = w + h * n;
      for (let i = 0; i < n; i++) s += p[row + i]! * x[i]!;
      pre[h] = s;
      mean += s;
    }
    mean /= H;
    let v = 0;
    for (let h = 0; h < H; h++) v += (pre[h]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / H + LN_EPS);
    for (let h = 0; h < H; h++) pre[h] = (pre[h]! - mean) * inv;
    return inv;
  }

  private normAct(g: number, be: number, n: Float64Array, a: Float64Array): void {
    const p = this.params;
    for (let h = 0; h < this.shape.hidden; h++) a[h] = Math.tanh(p[g + h]! * n[h]! + p[be + h]!);
  }

  /** Adds d(loss)/d(params) for one sample to `grads`, given d(loss)/d(out). */
  backward(c: MlpCache, dOut: ArrayLike<number>): void {
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const p = this.params;
    const g = this.grads;
    const A = this.at;
    const da = this.da;
    const dpre = this.dpre;
    da.fill(0);
    for (let o = 0; o < O; o++) {
      const d = dOut[o]!;
      if (d === 0) continue;
      g[A.b3 + o] = g[A.b3 + o]! + d;
      const row = A.w3 + o * H;
      for (let h = 0; h < H; h++) {
        g[row + h] = g[row + h]! + d * c.a2[h]!;
        da[h] = da[h]! + d * p[row + h]!;
      }
    }
    this.normActBack(A.g2, A.be2, c.n2, c.inv2, c.a2, da, dpre);
    da.fill(0);
    for (let h = 0; h < H; h++) {
      const d = dpre[h]!;
      g[A.b2 + h] = g[A.b2 + h]! + d;
      const row = A.w2 + h * H;
      for (let i = 0; i < H; i++) {
        g[row + i] = g[row + i]! + d * c.a1[i]!;
        da[i] = da[i]! + d * p[row + i]!;
      }
    }
    this.normActBack(A.g1, A.be1, c.n1, c.inv1, c.a1, da, dpre);
    for (let h = 0; h < H; h++) {
      const d = dpre[h]!;
      g[A.b1 + h] = g[A.b1 + h]! + d;
      const row = A.w1 + h * I;
      for (let i = 0; i < I; i++) g[row + i] = g[row + i]! + d * c.x[i]!;
    }
  }

  /** Back through tanh and LayerNorm: from d(loss)/d(activation) `da` to d(loss)/d(pre-activation) in `out`. */
  private normActBack(gOff: number, beOff: number, n: Float64Array, inv: number, a: Float64Array, da: Float64Array, out: Float64Array): void {
    const H = this.shape.hidden;
    const p = this.params;
    const g = this.grads;
    let meanDn = 0;
    let meanDnN = 0;
    for (let h = 0; h < H; h++) {
      const dy = da[h]! * (1 - a[h]! * a[h]!);
      g[gOff + h] = g[gOff + h]! + dy * n[h]!;
      g[beOff + h] = g[beOff + h]! + dy;
      const d = dy * p[gOff + h]!;
      out[h] = d;
      meanDn += d;
      meanDnN += d * n[h]!;
    }
    meanDn /= H;
    meanDnN /= H;
    for (let h = 0; h < H; h++) out[h] = inv * (out[h]! - meanDn - n[h]! * meanDnN);
  }
}

/** Adam on a flat parameter vector. */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    size: number,
    /** Settable so a schedule can change it between steps. */
    public lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  /** One step against `grads` (a gradient of the loss to minimise). */
  step(params: Float64Array, grads: Float64Array): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    for (let i = 0; i < params.length; i++) {
      const gi = grads[i]!;
      const m = (this.m[i] = this.beta1 * this.m[i]! + (1 - this.beta1) * gi);
      const v = (this.v[i] = this.beta2 * this.v[i]! + (1 - this.beta2) * gi * gi);
      params[i] = params[i]! - (this.lr * (m / c1)) / (Math.sqrt(v / c2) + this.eps);
    }
  }
}

// A 2-D Gaussian kernel density on the unit square with reflection at the four borders, and its exact
// mass per cell of a regular grid. PRM scores pile up against 0 and 1 (and the first step's "minimum of
// no previous scores" is exactly 1); a plain KDE would leak half of that mass outside the square and
// halve the density at the border, reflection keeps it inside.

export interface Kde2 {
  points: Float64Array; // x0, y0, x1, y1, …
  hx: number;
  hy: number;
}

/** Standard normal CDF (erfc by Numerical Recipes' Chebyshev fit, |error| < 1.2e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/**
 * Scott's rule, h = sd · n^(−1/6) per axis (2 dimensions), kept within [minH, 0.5]: a state seen with
 * all scores equal would otherwise get a zero bandwidth.
 */
export function scottBandwidth(values: ArrayLike<number>, minH = 0.02): number {
  const n = values.length;
  if (n < 2) return 0.1;
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i]!;
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (values[i]! - m) ** 2;
  const sd = Math.sqrt(v / (n - 1));
  return Math.min(0.5, Math.max(minH, sd * n ** (-1 / 6)));
}

/** Images of x under reflection at 0 and 1 (one reflection each way: beyond that the mass is < Φ(−1/h)). */
const images = (x: number): [number, number, number] => [x, -x, 2 - x];

/** Density of the reflected KDE at (x, y) ∈ [0, 1]². */
export function kdeDensity(k: Kde2, x: number, y: number): number {
  const n = k.points.length / 2;
  const cx = 1 / (Math.sqrt(2 * Math.PI) * k.hx);
  const cy = 1 / (Math.sqrt(2 * Math.PI) * k.hy);
  let s = 0;
  for (let i = 0; i < n; i++) {
    let fx = 0;
    for (const px of images(k.points[2 * i]!)) fx += cx * Math.exp(-0.5 * ((x - px) / k.hx) ** 2);
    let fy = 0;
    for (const py of images(k.points[2 * i + 1]!)) fy += cy * Math.exp(-0.5 * ((y - py) / k.hy) ** 2);
    s += fx * fy;
  }
  return s / n;
}

/** Mass of each of `bins` equal cells of [0, 1] under the reflected 1-D kernel centred at x. */
function axisMasses(x: number, h: number, bins: number, out: Float64Array): void {
  let prev = 0;
  for (let b = 0; b <= bins; b++) {
    const edge = b / bins;
    let c = 0;
    for (const px of images(x)) c += normalCdf((edge - px) / h);
    if (b > 0) out[b - 1] = c - prev;
    prev = c;
  }
}

/**
 * The KDE's mass in each cell of a bins × bins grid, row-major with x (first coordinate) as the row:
 * exact integrals of the kernel (not density samples), so a narrow kernel cannot fall between samples.
 * The masses sum to 1 up to the mass beyond a single reflection (< 1e-6 for h ≤ 0.2).
 */
export function kdeBinMasses(k: Kde2, bins: number): Float64Array {
  const n = k.points.length / 2;
  const grid = new Float64Array(bins * bins);
  const mx = new Float64Array(bins);
  const my = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    axisMasses(k.points[2 * i]!, k.hx, bins, mx);
    axisMasses(k.points[2 * i + 1]!, k.hy, bins, my);
    for (let a = 0; a < bins; a++) {
      const ma = mx[a]!;
      if (ma < 1e-12) continue;
      const row = a * bins;
      for (let b = 0; b < bins; b++) grid[row + b] = grid[row + b]! + ma * my[b]!;
    }
  }
  for (let c = 0; c < grid.length; c++) grid[c] = grid[c]! / n;
  return grid;
}

/** The 1-D reflected KDE's mass in each of `bins` equal cells of [0, 1] (same kernel as the 2-D one). */
export function kdeBinMasses1(points: ArrayLike<number>, h: number, bins: number): Float64Array {
  const out = new Float64Array(bins);
  const m = new Float64Array(bins);
  for (let i = 0; i < points.length; i++) {
    axisMasses(points[i]!, h, bins, m);
    for (let b = 0; b < bins; b++) out[b] = out[b]! + m[b]!;
  }
  for (let b = 0; b < bins; b++) out[b] = out[b]! / points.length;
  return out;
}

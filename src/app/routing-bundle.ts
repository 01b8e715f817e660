// A routing bundle on the page (bundle=URL, or the settings field): fetched once per URL, checked like
// any file from the network (src/core/bundle.ts), and used for the policies it carries and for the
// budget, whose knob is then read from the bundle's measured calibration instead of the simulator.

import { bundleArtefacts, bundleFromJson, knobForStepShare, type RoutingBundle } from '../core/bundle.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';
import type { BudgetChoice } from './budget.ts';

/** Larger than any bundle trim tune writes (a few MB with TRIM-Agg's networks); a bigger file is refused. */
const MAX_BYTES = 32 * 1024 * 1024;

export async function fetchBundle(url: string, base: string, fetchFn: typeof fetch = fetch, signal?: AbortSignal): Promise<RoutingBundle> {
  const href = new URL(url, base).href;
  const where = `The routing bundle ${href}`;
  let res: Response;
  try {
    // No cookies or credentials: a bundle is a public file.
    res = await fetchFn(href, { credentials: 'omit', ...(signal ? { signal } : {}) });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ConfigError(`${where} could not be fetched (${errorMessage(err)}). Check the URL under Settings → Routing, or clear it.`);
  }
  if (!res.ok) throw new ConfigError(`${where} could not be fetched: HTTP ${res.status}. Check the URL under Settings → Routing, or clear it.`);
  const text = await res.text();
  if (text.length > MAX_BYTES) throw new ConfigError(`${where} is larger than ${MAX_BYTES / 1024 / 1024} MB; that is not a routing bundle.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`${where} is not JSON. Give the URL of a bundle written by "trim tune".`);
  }
  return bundleFromJson(json, where);
}

const nameOf = (spec: string) => spec.split(':', 1)[0]!.trim();

/** The artefacts the policy of `spec` takes from the bundle; none when the bundle does not carry that policy. */
export function bundleArtefactsFor(bundle: RoutingBundle, spec: string): Record<string, unknown> | undefined {
  const name = nameOf(spec);
  return name in bundle.policies ? bundleArtefacts(bundle, name) : undefined;
}

/** A spec without a knob for a bundle's policy gets the bundle's best knob (or the middle of its grid). */
export function withBundleKnob(bundle: RoutingBundle, spec: string): string {
  const name = nameOf(spec);
  const entry = (bundle.policies as Record<string, { grid: number[] } | undefined>)[name];
  if (spec.includes(':') || !entry) return spec;
  const knob = bundle.best?.policy === name && bundle.best.knob !== null ? bundle.best.knob : [...entry.grid].sort((a, b) => a - b)[Math.floor(entry.grid.length / 2)]!;
  return `${name}:${knob}`;
}

/** The knob for a budget from the bundle's calibration, or null when the bundle has none for the policy. */
export function budgetFromBundle(bundle: RoutingBundle, spec: string, percent: number): BudgetChoice | null {
  const name = nameOf(spec);
  if (!bundle.calibration[name]?.length) return null;
  const c = knobForStepShare(bundle, name, percent / 100);
  return { spec: `${name}:${c.knob}`, spend: c.point.stepShare, reached: c.reached };
}

export function bundleBudgetNote(percent: number, choice: BudgetChoice): string {
  const got = `${(choice.spend * 100).toFixed(1)}%`;
  return choice.reached
    ? `Policy ${choice.spec} from the routing bundle: sent ${got} of steps on the problems it was tuned on (budget ${percent}%).`
    : `No tuned setting sends at most ${percent}% of steps; ${choice.spec} sends the fewest (${got} on the problems it was tuned on).`;
}

// DIR/run.json: what an evaluation directory's results were produced with. --resume must continue the
// same experiment, so it refuses settings that would mix results of different models, data or sampling
// in one results.jsonl, and it reuses the recorded seed so the resumed problems replay the same way.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';

export const MANIFEST_FILE = 'run.json';

/** The settings that define an experiment; server URLs and keys are left out (a server may move). */
export type Identity = Record<string, string | number | null>;

export interface Manifest {
  identity: Identity;
  seed: number;
  created: string;
}

export interface ManifestOutcome {
  seed: number;
  /** Set when a resumed directory had results but no manifest to check them against. */
  warning?: string;
}

/** A file path as run.json records it: relative to the working directory (absolute only across drives). */
export function relativePath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel && !isAbsolute(rel) ? rel.split('\\').join('/') : resolve(file);
}

/**
 * Fresh run: records the identity and seed. Resume: checks the identity against the record and
 * returns the recorded seed (a different explicit --seed is refused). The `pathKeys` of the identity
 * are file paths, equal when they name the same file from the working directory (older records hold
 * absolute paths).
 */
export function settleManifest(
  dir: string,
  identity: Identity,
  seed: number | undefined,
  resume: boolean,
  hasResults: boolean,
  pathKeys: readonly string[] = [],
): ManifestOutcome {
  const path = join(dir, MANIFEST_FILE);
  const previous = resume && existsSync(path) ? readManifest(path) : null;
  if (previous) {
    const same = (k: string, a: unknown, b: unknown) =>
      a === b || (pathKeys.includes(k) && typeof a === 'string' && typeof b === 'string' && resolve(a) === resolve(b));
    const diffs = Object.keys({ ...previous.identity, ...identity })
      .filter((k) => !same(k, previous.identity[k], identity[k]))
      .map((k) => `${k} was ${show(previous.identity[k])}, now ${show(identity[k])}`);
    if (seed !== undefined && seed !== previous.seed) diffs.push(`seed was ${previous.seed}, now ${seed}`);
    if (diffs.length)
      throw new ConfigError(
        `--resume would mix results of different settings in ${dir}: ${diffs.join('; ')}. Resume with the same settings, or choose another --out directory.`,
      );
    return { seed: previous.seed };
  }
  const chosen = seed ?? randomSeed();
  writeAtomic(path, JSON.stringify({ identity, seed: chosen, created: new Date().toISOString() } satisfies Manifest, null, 2) + '\n');
  return resume && hasResults
    ? { seed: chosen, warning: `${path} was missing, so the earlier results could not be checked against these settings; it now records them.` }
    : { seed: chosen };
}

function readManifest(path: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON (${(err as Error).message}); restore it or delete it to resume without the check.`);
  }
  const ok =
    m !== null &&
    typeof m === 'object' &&
    typeof (m as Manifest).identity === 'object' &&
    (m as Manifest).identity !== null &&
    Number.isInteger((m as Manifest).seed);
  if (!ok) throw new ConfigError(`${path} is not a run record (identity, seed); restore it or delete it to resume without the check.`);
  return m as Manifest;
}

const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));

/** A seed for runs without --seed; it is recorded, so the run can still be resumed and replayed. */
function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** Writes a whole file or nothing: a reader never sees half a summary. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

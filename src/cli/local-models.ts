// Model folders on this machine as sources for the CLI's roles: --weak-path / --strong-path run a step
// model through transformers.js on the CPU, --prm-path a PRM. Nothing leaves the machine for them.
// Loading a folder takes a moment, so a role loads on its first use; a folder that is plainly not a
// model folder is refused while the flags are read. transformers.js itself is imported only then, so
// commands that use servers alone do not pay for loading it.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ScoreRequest, StepModel, StepRequest, StepScorer } from '../core/types.ts';
import { isPrmHead, PRM_HEADS, type PrmHead } from '../backends/prm-layout.ts';
import type { TjsPrmOptions } from '../backends/tjs-prm.ts';
import { TJS_DTYPES, type TjsDtype } from '../backends/tjs-options.ts';
import { UsageError } from './command.ts';
import type { FlagValues, ScorerSource, StepModelSource } from './model-flags.ts';

export const localModelFlagOptions = {
  'weak-path': { type: 'string' },
  'weak-dtype': { type: 'string' },
  'strong-path': { type: 'string' },
  'strong-dtype': { type: 'string' },
  'prm-path': { type: 'string' },
  'prm-head': { type: 'string' },
  'prm-dtype': { type: 'string' },
  'prm-lm': { type: 'string' },
} as const;

export const localModelsUsage = `
Local model folders (transformers.js layout, e.g. from "trim build-model" or "trim convert"; run on
this machine's CPU, nothing is sent anywhere), instead of the URLs above:
  --weak-path DIR [--weak-dtype D]        the small model from a folder
  --strong-path DIR [--strong-dtype D]    the large model from a folder
  --prm-path DIR [--prm-head H] [--prm-dtype D]
                                          a PRM from a folder, scored incrementally (KV cache)
  H: ${PRM_HEADS.join(' | ')} (default: the head the folder's config.json records)
    two-class  Qwen2.5-Math-PRM: softmax of the positive class at <extra_0> after each step
    value      Skywork-o1-Open-PRM: sigmoid of the value head at the "\\n" after each step
    lm-tag     Math-Shepherd: P("+") against P("-") at the " ки" tag after each step
  --prm-lm DIR [--prm-dtype D]            a language model folder as the step checker instead of a
                                          PRM ("lm-likelihood", nothing trained): a step's score is the
                                          probability of its least likely token given the problem and
                                          the steps before it. For a model that solves the task reliably
                                          (the organism's strong model) it flags slips far better than
                                          the organism PRM; it also flags any wording the model would
                                          not have written
  D: ${TJS_DTYPES.join(' | ')} (default: the folder's own, fp32 when it has onnx/model.onnx)
`;

type Role = 'weak' | 'strong';

function str(v: FlagValues, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

/** The folder must at least hold config.json; deeper problems surface when it loads. */
function folder(v: FlagValues, flag: string): string {
  const dir = str(v, flag)!;
  if (!dir.trim()) throw new UsageError(`--${flag} needs a folder.`);
  if (!existsSync(join(dir, 'config.json')))
    throw new UsageError(`--${flag} ${dir}: no config.json there. Give a model folder in the transformers.js layout (build one with "trim build-model", or convert a checkpoint with "trim convert").`);
  return dir;
}

function dtype(v: FlagValues, flag: string): TjsDtype | undefined {
  const d = str(v, flag);
  if (d === undefined) return undefined;
  if (!(TJS_DTYPES as readonly string[]).includes(d)) throw new UsageError(`--${flag} must be one of ${TJS_DTYPES.join(', ')}; got "${d}".`);
  return d as TjsDtype;
}

/** Flags that only make sense for a server, refused next to a folder so a typo is not silently ignored. */
function refuseServerFlags(v: FlagValues, prefix: string, names: string[], pathFlag: string): void {
  for (const n of names) {
    if (str(v, `${prefix}-${n}`) !== undefined) throw new UsageError(`--${prefix}-${n} is for --${prefix}-url; --${pathFlag} reads everything from the folder.`);
  }
}

/** A step model that loads its folder on first use (and once only, even if asked twice at once). */
export function lazyStepModel(id: string, load: () => Promise<StepModel>): StepModel {
  let model: Promise<StepModel> | null = null;
  return {
    id,
    where: 'device',
    async next(r: StepRequest) {
      model ??= load();
      return (await model).next(r);
    },
    async dispose() {
      if (model) await (await model.catch(() => null))?.dispose?.();
    },
  };
}

export function lazyScorer(id: string, load: () => Promise<StepScorer>): StepScorer {
  let scorer: Promise<StepScorer> | null = null;
  return {
    id,
    where: 'device',
    async score(r: ScoreRequest) {
      scorer ??= load();
      return (await scorer).score(r);
    },
    async dispose() {
      if (scorer) await (await scorer.catch(() => null))?.dispose?.();
    },
  };
}

export const localStepModel: StepModelSource = {
  flag: 'path',
  build(role: Role, v) {
    const dir = folder(v, `${role}-path`);
    refuseServerFlags(v, role, ['model', 'mode', 'key-env'], `${role}-path`);
    const d = dtype(v, `${role}-dtype`);
    return lazyStepModel(`${role}:${dir}`, async () => {
      const { loadTjsStepModel } = await import('../backends/tjs-lm.ts');
      return loadTjsStepModel({ model: dir, device: 'cpu', ...(d ? { dtype: d } : {}), id: `${role}:${dir}` });
    });
  },
};

/** The PRM options given by --prm-path, --prm-head and --prm-dtype. */
export function localPrmOptions(v: FlagValues): TjsPrmOptions {
  const dir = folder(v, 'prm-path');
  refuseServerFlags(v, 'prm', ['model'], 'prm-path');
  const head = str(v, 'prm-head');
  if (head !== undefined && !isPrmHead(head)) throw new UsageError(`--prm-head must be one of ${PRM_HEADS.join(', ')}; got "${head}".`);
  const d = dtype(v, 'prm-dtype');
  return { model: dir, device: 'cpu', ...(head ? { head: head as PrmHead } : {}), ...(d ? { dtype: d } : {}) };
}

export const localScorer: ScorerSource = {
  flag: 'path',
  build(v) {
    const o = localPrmOptions(v);
    return lazyScorer(`prm:${o.model}`, async () => {
      const { loadTjsPrm } = await import('../backends/tjs-prm.ts');
      return loadTjsPrm({ ...o, id: `prm:${o.model}` });
    });
  },
};

/** --prm-lm: a language model folder whose token probabilities check each step (lm-likelihood). */
export const localLmChecker: ScorerSource = {
  flag: 'lm',
  build(v) {
    const dir = folder(v, 'prm-lm');
    refuseServerFlags(v, 'prm', ['model'], 'prm-lm');
    if (str(v, 'prm-head') !== undefined) throw new UsageError('--prm-head is for --prm-path; --prm-lm scores with the language model head of the folder.');
    const d = dtype(v, 'prm-dtype');
    return lazyScorer(`lm-likelihood:${dir}`, async () => {
      const { loadLmLikelihoodScorer } = await import('../backends/lm-likelihood.ts');
      return loadLmLikelihoodScorer({ model: dir, device: 'cpu', ...(d ? { dtype: d } : {}), id: `lm-likelihood:${dir}` });
    });
  },
};

/** Flags of a folder source given without the folder. */
export function checkLocalFlagsHaveFolders(v: FlagValues): void {
  for (const [flag, needs] of [
    ['weak-dtype', 'weak-path'],
    ['strong-dtype', 'strong-path'],
    ['prm-head', 'prm-path'],
  ] as const) {
    if (str(v, flag) !== undefined && str(v, needs) === undefined) throw new UsageError(`--${flag} goes with --${needs} DIR.`);
  }
  if (str(v, 'prm-dtype') !== undefined && str(v, 'prm-path') === undefined && str(v, 'prm-lm') === undefined)
    throw new UsageError('--prm-dtype goes with --prm-path DIR or --prm-lm DIR.');
}

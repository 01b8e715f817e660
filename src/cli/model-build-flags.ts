// Flags shared by `trim build-model` and `trim convert`: head, precision and output handling.

import { HEAD_KINDS, isHeadKind, type HeadKind } from '../onnx/spec.ts';
import type { Precision } from '../onnx/precision.ts';
import type { ExternalDataMode } from '../onnx/write-model.ts';
import type { WrittenModel } from '../onnx/write-model.ts';
import { UsageError } from './command.ts';

export const outputFlagOptions = {
  out: { type: 'string' },
  head: { type: 'string' },
  quantize: { type: 'string' },
  'skip-fp32': { type: 'boolean' },
  'external-data': { type: 'string' },
  force: { type: 'boolean' },
} as const;

export const outputFlagsUsage = `
  --out DIR             the model folder to write (refused if it exists and is not empty, unless --force)
  --head H              lm (vocabulary logits), value (one scalar per position, Skywork-o1-Open-PRM
                        style) or two-class (two logits per position, Qwen2.5-Math-PRM style)
  --quantize q4         also write onnx/model_q4.onnx: 4-bit MatMulNBits weights (block 32) for the decoder
                        layers and the lm head; the embedding table, norms and PRM heads stay float32;
                        load it in transformers.js with dtype 'q4'
  --skip-fp32           with --quantize q4, write only the 4-bit model (config.json then defaults to q4)
  --external-data M     auto (default: weights over 1 GiB go to onnx/<file>_data, split at 1 GiB), always, never
  --force               replace an existing --out folder
`;

export interface OutputFlags {
  out: string;
  head: HeadKind;
  precisions: Precision[];
  externalData: ExternalDataMode;
  overwrite: boolean;
}

export function parseOutputFlags(v: Record<string, string | boolean | undefined>, defaultHead?: HeadKind): OutputFlags {
  const out = v.out;
  if (typeof out !== 'string' || out === '') throw new UsageError('--out DIR is required: the folder to write the model to.');
  const headFlag = v.head ?? defaultHead;
  if (typeof headFlag !== 'string') throw new UsageError(`--head is required: one of ${HEAD_KINDS.join(', ')}.`);
  if (!isHeadKind(headFlag)) throw new UsageError(`--head ${headFlag}: expected one of ${HEAD_KINDS.join(', ')}.`);
  const quantize = v.quantize;
  if (quantize !== undefined && quantize !== 'q4') throw new UsageError(`--quantize ${String(quantize)}: only q4 is supported.`);
  if (v['skip-fp32'] && quantize !== 'q4') throw new UsageError('--skip-fp32 needs --quantize q4 (otherwise nothing would be written).');
  const precisions: Precision[] = [];
  if (!v['skip-fp32']) precisions.push('fp32');
  if (quantize === 'q4') precisions.push('q4');
  const ext = v['external-data'] ?? 'auto';
  if (ext !== 'auto' && ext !== 'always' && ext !== 'never') throw new UsageError(`--external-data ${String(ext)}: expected auto, always or never.`);
  return { out, head: headFlag, precisions, externalData: ext, overwrite: v.force === true };
}

export function positiveInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${flag} ${String(v)}: expected a positive integer.`);
  }
  return n;
}

export function formatWritten(w: WrittenModel): string {
  const mib = (n: number) => (n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
  const lines = [`Wrote ${w.dir}`];
  for (const [f, n] of Object.entries(w.files).sort()) lines.push(`  ${f.padEnd(32)} ${mib(n)}`);
  return lines.join('\n');
}

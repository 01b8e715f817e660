// Converts a Hugging Face qwen2 safetensors checkpoint into a transformers.js model folder (Node only).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { checkTensors, openCheckpoint, specFromConfig, tokenizerFiles } from './checkpoint.ts';
import type { Precision } from './precision.ts';
import { generationConfig, type HeadKind, type Qwen2Spec } from './spec.ts';
import { writeModelFolder, type ExternalDataMode, type WrittenModel } from './write-model.ts';

export interface ConvertOptions {
  checkpoint: string;
  outDir: string;
  head: HeadKind;
  precisions: readonly Precision[];
  overwrite?: boolean;
  externalData?: ExternalDataMode;
  onProgress?: (message: string) => void;
}

export async function convertCheckpoint(o: ConvertOptions): Promise<WrittenModel & { spec: Qwen2Spec }> {
  const ckpt = await openCheckpoint(o.checkpoint);
  const spec = specFromConfig(ckpt.config, o.head);
  checkTensors(spec, ckpt.tensors);
  const genPath = join(ckpt.dir, 'generation_config.json');
  const gen = existsSync(genPath) ? (JSON.parse(await readFile(genPath, 'utf8')) as Record<string, unknown>) : generationConfig(spec);
  const written = await writeModelFolder({
    outDir: o.outDir,
    spec,
    source: ckpt.source,
    precisions: o.precisions,
    tokenizer: { copy: await tokenizerFiles(ckpt.dir) },
    provenance: {
      source: 'checkpoint',
      checkpoint: basename(ckpt.dir),
      checkpoint_architectures: ckpt.config.architectures ?? null,
      checkpoint_torch_dtype: ckpt.config.torch_dtype ?? null,
    },
    generationConfig: gen,
    ...(o.overwrite ? { overwrite: true } : {}),
    ...(o.externalData ? { externalData: o.externalData } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  return { ...written, spec };
}

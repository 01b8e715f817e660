// Writes a model folder in the transformers.js layout (Node only):
//   config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
//   onnx/model.onnx (fp32) and/or onnx/model_q4.onnx (4-bit), with onnx/<file>_data[_N] external data when large.
// The folder is assembled beside the target and renamed into place, so a failed or interrupted build never
// leaves a half-written model where a loader would find it.

import { copyFile, mkdir, open, rename, rm, readdir, writeFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { encodeModel, tensorProto, BYTES_PER_ELEMENT, type TensorPlacement } from './onnx-graph.ts';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { buildQwen2Graph } from './qwen2-graph.ts';
import { onnxFileName, type Precision } from './precision.ts';
import { generationConfig, hfConfig, type ProvenanceNote, type Qwen2Spec } from './spec.ts';
import type { WeightSource } from './weights.ts';
import { numel } from './weights.ts';
import { TrimError } from '../core/errors.ts';

export type ExternalDataMode = 'auto' | 'always' | 'never';

export interface TokenizerFiles {
  /** file name → JSON content, or file name → path to copy from. */
  json?: Record<string, unknown>;
  copy?: Record<string, string>;
}

export interface WriteModelOptions {
  outDir: string;
  spec: Qwen2Spec;
  source: WeightSource;
  precisions: readonly Precision[];
  tokenizer: TokenizerFiles;
  provenance: ProvenanceNote;
  /** Replace an existing non-empty folder (default: refuse). */
  overwrite?: boolean;
  /** 'auto': external data once the weights pass `inlineLimitBytes` (protobuf cannot exceed 2 GiB). */
  externalData?: ExternalDataMode;
  inlineLimitBytes?: number;
  /** Largest external data file; a tensor is never split, so a bigger tensor gets a file of its own. */
  chunkBytes?: number;
  generationConfig?: Record<string, unknown>;
  onProgress?: (message: string) => void;
}

export interface WrittenModel {
  dir: string;
  /** Paths relative to dir, with their sizes in bytes. */
  files: Record<string, number>;
}

/** The folder exists and holds files: writing there would destroy someone's work. */
export class OutputExistsError extends TrimError {}

const GiB = 1024 ** 3;
const ALIGN_LARGE = 64 * 1024;
const ALIGN_SMALL = 64;

function align(offset: number, size: number): number {
  const a = size >= 1024 * 1024 ? ALIGN_LARGE : ALIGN_SMALL;
  return Math.ceil(offset / a) * a;
}

async function isNonEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch {
    return false;
  }
}

class ChunkedWriter {
  private handle: FileHandle | null = null;
  private offset = 0;
  readonly chunks: string[] = [];

  constructor(private readonly dir: string, private readonly baseName: string, private readonly chunkBytes: number) {}

  async put(bytes: Uint8Array): Promise<TensorPlacement> {
    let start = align(this.offset, bytes.byteLength);
    if (!this.handle || (this.offset > 0 && start + bytes.byteLength > this.chunkBytes)) {
      await this.handle?.close();
      const name = `${this.baseName}_data${this.chunks.length === 0 ? '' : `_${this.chunks.length}`}`;
      this.chunks.push(name);
      this.handle = await open(join(this.dir, name), 'w');
      this.offset = 0;
      start = 0;
    }
    await this.handle.write(bytes, 0, bytes.byteLength, start);
    this.offset = start + bytes.byteLength;
    return { location: this.chunks[this.chunks.length - 1]!, offset: start, length: bytes.byteLength };
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
  }
}

async function writeGraph(
  dir: string,
  spec: Qwen2Spec,
  source: WeightSource,
  precision: Precision,
  o: WriteModelOptions,
): Promise<number> {
  const g = buildQwen2Graph(spec, source, precision);
  const fileName = onnxFileName(precision);
  const weightBytes = g.initializers.reduce((s, t) => s + numel(t.dims) * BYTES_PER_ELEMENT[t.dtype], 0);
  const mode = o.externalData ?? 'auto';
  const external = mode === 'always' || (mode === 'auto' && weightBytes > (o.inlineLimitBytes ?? GiB));
  const writer = external ? new ChunkedWriter(dir, fileName, o.chunkBytes ?? GiB) : null;
  const protos: OnnxTypes.ITensorProto[] = [];
  let done = 0;
  let reported = 0;
  try {
    for (const t of g.initializers) {
      const bytes = await t.bytes();
      const expected = numel(t.dims) * BYTES_PER_ELEMENT[t.dtype];
      if (bytes.byteLength !== expected) {
        throw new Error(`Tensor ${t.name}: produced ${bytes.byteLength} bytes, expected ${expected}.`);
      }
      // Copy inline bytes: a producer may hand out a view of a buffer it reuses.
      protos.push(tensorProto(t, writer && !t.inline ? await writer.put(bytes) : { raw: bytes.slice() }));
      done += bytes.byteLength;
      if (o.onProgress && done - reported > 256 * 1024 ** 2) {
        reported = done;
        o.onProgress(`${fileName}: ${(done / 1024 ** 2).toFixed(0)} of ${(weightBytes / 1024 ** 2).toFixed(0)} MiB`);
      }
    }
  } finally {
    await writer?.close();
  }
  await writeFile(join(dir, fileName), encodeModel(g, protos, `Qwen2 ${spec.head} head, ${precision}`));
  return writer?.chunks.length ?? 0;
}

export async function writeModelFolder(o: WriteModelOptions): Promise<WrittenModel> {
  const outDir = resolve(o.outDir);
  if (!o.overwrite && (await isNonEmptyDir(outDir))) {
    throw new OutputExistsError(`${outDir} already exists and is not empty. Choose another --out folder or pass --force to replace it.`);
  }
  if (o.precisions.length === 0) throw new Error('writeModelFolder: no precision asked for.');
  const tmp = join(dirname(outDir), `.${basename(outDir)}.partial-${process.pid}-${Date.now()}`);
  await mkdir(join(tmp, 'onnx'), { recursive: true });
  try {
    const externalData: Record<string, number> = {};
    for (const p of o.precisions) {
      o.onProgress?.(`writing onnx/${onnxFileName(p)}`);
      externalData[onnxFileName(p)] = await writeGraph(join(tmp, 'onnx'), o.spec, o.source, p, o);
    }
    const files = { externalData, defaultDtype: o.precisions.includes('fp32') ? 'fp32' : 'q4' } as const;
    const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
    await writeFile(join(tmp, 'config.json'), json(hfConfig(o.spec, files, o.provenance)));
    await writeFile(join(tmp, 'generation_config.json'), json(o.generationConfig ?? generationConfig(o.spec)));
    for (const [name, content] of Object.entries(o.tokenizer.json ?? {})) await writeFile(join(tmp, name), json(content));
    for (const [name, from] of Object.entries(o.tokenizer.copy ?? {})) await copyFile(from, join(tmp, name));
    await rm(outDir, { recursive: true, force: true });
    await rename(tmp, outDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir: outDir, files: await listFiles(outDir) };
}

async function listFiles(dir: string, prefix = ''): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, await listFiles(dir, rel));
    else out[rel] = (await stat(join(dir, rel))).size;
  }
  return out;
}

// Reading a Hugging Face qwen2 checkpoint folder (Node only): config.json, one model.safetensors or shards
// listed in model.safetensors.index.json, and the tokenizer files. Tensors are read one at a time with
// positional reads, so converting a 7B model needs memory for its largest tensor, not for the model.

import { existsSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CheckpointError } from './errors.ts';
import { decodeTensor, headerLength, parseHeader, type SafetensorsEntry } from './safetensors.ts';
import { validateSpec, type HeadKind, type Qwen2Spec } from './spec.ts';
import { ModelSpecError } from './errors.ts';
import { expectedTensors, headTensors, layerTensorNames, type Tensor32, type WeightSource } from './weights.ts';

interface Located extends SafetensorsEntry {
  file: string;
}

export interface Checkpoint {
  dir: string;
  config: Record<string, unknown>;
  /** Tensor name (prefix-normalised) → where its bytes are. */
  tensors: Map<string, Located>;
  source: WeightSource;
}

/** Tokenizer files copied as they are; the first two are required by transformers.js. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;
const OPTIONAL_FILES = ['special_tokens_map.json', 'vocab.json', 'merges.txt', 'added_tokens.json'] as const;

/** Wrappers (e.g. trl's value-head models) sometimes save the base model under a prefix. */
const STRIP_PREFIXES = ['pretrained_model.'];

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CheckpointError(`${path} is missing: ${what}.`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new CheckpointError(`${path} is not valid JSON (${(err as Error).message}).`);
  }
}

async function readHeader(file: string): Promise<Map<string, SafetensorsEntry>> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const first = new Uint8Array(8);
    await fh.read(first, 0, 8, 0);
    const n = headerLength(first, file);
    if (8 + n > size) throw new CheckpointError(`${file} is truncated: its header alone needs ${8 + n} bytes.`);
    const json = new Uint8Array(n);
    await fh.read(json, 0, n, 8);
    return parseHeader(json, size, file).entries;
  } finally {
    await fh.close();
  }
}

async function weightFiles(dir: string): Promise<string[]> {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const map = (await readJson(index, 'the shard index')).weight_map as Record<string, string> | undefined;
    if (!map || typeof map !== 'object') throw new CheckpointError(`${index} has no "weight_map".`);
    const files = [...new Set(Object.values(map))];
    for (const f of files) {
      if (f.includes('/') || f.includes('\\') || f.startsWith('.')) {
        throw new CheckpointError(`${index} names shard "${f}" outside the checkpoint folder.`);
      }
      if (!existsSync(join(dir, f))) throw new CheckpointError(`Shard ${f} listed in ${index} is missing. Download every shard.`);
    }
    return files.map((f) => join(dir, f));
  }
  if (existsSync(join(dir, 'model.safetensors'))) return [join(dir, 'model.safetensors')];
  const found = (await readdir(dir)).filter((f) => f.endsWith('.safetensors'));
  if (found.length === 1) return [join(dir, found[0]!)];
  throw new CheckpointError(
    `${dir} has no model.safetensors and no model.safetensors.index.json` +
      (found.length > 1 ? ` (found ${found.length} .safetensors files without an index)` : '') +
      '. Download the safetensors weights of the model (PyTorch .bin checkpoints are not supported).',
  );
}

function normalise(name: string): string {
  for (const p of STRIP_PREFIXES) if (name.startsWith(p)) return name.slice(p.length);
  return name;
}

export async function openCheckpoint(dirIn: string): Promise<Checkpoint> {
  const dir = resolve(dirIn);
  if (!existsSync(dir) || !(await stat(dir)).isDirectory()) throw new CheckpointError(`${dir} is not a folder.`);
  const config = await readJson(join(dir, 'config.json'), 'a Hugging Face checkpoint folder needs its config.json');
  const tensors = new Map<string, Located>();
  for (const file of await weightFiles(dir)) {
    for (const [name, e] of await readHeader(file)) {
      const key = normalise(name);
      if (tensors.has(key)) throw new CheckpointError(`Tensor "${key}" appears twice in the checkpoint (${file}).`);
      tensors.set(key, { ...e, file });
    }
  }
  const source: WeightSource = {
    async read(name): Promise<Tensor32> {
      const e = tensors.get(name);
      if (!e) throw new CheckpointError(`The checkpoint has no tensor "${name}".`);
      const fh = await open(e.file, 'r');
      try {
        const bytes = new Uint8Array(e.end - e.start);
        let done = 0;
        while (done < bytes.byteLength) {
          const { bytesRead } = await fh.read(bytes, done, Math.min(bytes.byteLength - done, 1 << 30), e.start + done);
          if (bytesRead === 0) throw new CheckpointError(`${e.file} ended while reading "${name}": the file is truncated.`);
          done += bytesRead;
        }
        return { shape: [...e.shape], data: decodeTensor(e.dtype, bytes) };
      } finally {
        await fh.close();
      }
    },
  };
  return { dir, config, tensors, source };
}

function num(config: Record<string, unknown>, key: string, fallback?: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new CheckpointError(`config.json has no numeric "${key}"; is this a qwen2 checkpoint?`);
  }
  return v;
}

function tokenId(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

/** The spec of a qwen2 checkpoint with the head the user asked for. */
export function specFromConfig(config: Record<string, unknown>, head: HeadKind): Qwen2Spec {
  if (config.model_type !== 'qwen2') {
    throw new CheckpointError(`config.json says model_type "${String(config.model_type)}"; only qwen2 checkpoints can be converted.`);
  }
  const scaling = config.rope_scaling as { type?: string; rope_type?: string } | null | undefined;
  if (scaling && (scaling.rope_type ?? scaling.type) !== 'default') {
    throw new CheckpointError(`config.json sets rope_scaling ${JSON.stringify(scaling)}, which this converter does not implement.`);
  }
  if (config.use_sliding_window === true) {
    throw new CheckpointError('config.json enables use_sliding_window, which this converter does not implement.');
  }
  const hidden = num(config, 'hidden_size');
  const heads = num(config, 'num_attention_heads');
  const eos = config.eos_token_id;
  const spec: Qwen2Spec = {
    vocabSize: num(config, 'vocab_size'),
    hiddenSize: hidden,
    intermediateSize: num(config, 'intermediate_size'),
    numLayers: num(config, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: num(config, 'num_key_value_heads', heads),
    headDim: num(config, 'head_dim', hidden / heads),
    rmsNormEps: num(config, 'rms_norm_eps', 1e-6),
    ropeTheta: num(config, 'rope_theta', 10000),
    maxPositionEmbeddings: num(config, 'max_position_embeddings', 32768),
    tieWordEmbeddings: config.tie_word_embeddings === true,
    head,
    bosTokenId: tokenId(config.bos_token_id),
    eosTokenId: Array.isArray(eos) ? eos.filter((x): x is number => Number.isInteger(x)) : (tokenId(eos) ?? []),
    padTokenId: tokenId(config.pad_token_id),
  };
  try {
    validateSpec(spec);
  } catch (err) {
    if (err instanceof ModelSpecError) throw new CheckpointError(`config.json describes an impossible model: ${err.message}`);
    throw err;
  }
  return spec;
}

const HEAD_HINTS: [HeadKind, string][] = [
  ['value', 'v_head.summary.weight'],
  ['two-class', 'score.2.weight'],
  ['lm', 'lm_head.weight'],
];

/** Checks every tensor the spec needs exists with the right shape, before anything is written. */
export function checkTensors(spec: Qwen2Spec, tensors: ReadonlyMap<string, SafetensorsEntry>): void {
  // Guard before listing names: a hostile config could claim millions of layers.
  const layerTensors = layerTensorNames(0).length;
  if (spec.numLayers * layerTensors > tensors.size) {
    throw new CheckpointError(
      `config.json says ${spec.numLayers} layers (${spec.numLayers * layerTensors} layer tensors) but the checkpoint holds ` +
        `only ${tensors.size} tensors. Is the download complete, and is config.json the checkpoint's own?`,
    );
  }
  const missing: string[] = [];
  for (const [name, shape] of expectedTensors(spec)) {
    const e = tensors.get(name);
    if (!e) {
      missing.push(name);
      continue;
    }
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`Tensor "${name}" has shape [${e.shape}] but config.json implies [${shape}].`);
    }
  }
  if (missing.length === 0) return;
  const headMissing = headTensors(spec).some(([n]) => missing.includes(n));
  if (headMissing) {
    const present = HEAD_HINTS.filter(([, n]) => tensors.has(n)).map(([h]) => h);
    throw new CheckpointError(
      `The checkpoint has no ${spec.head} head (missing ${missing.filter((m) => headTensors(spec).some(([n]) => n === m)).join(', ')}). ` +
        (present.length ? `It has tensors of a ${present.join(' / ')} head: pass --head ${present[0]}.` : 'Check --head.'),
    );
  }
  throw new CheckpointError(
    `The checkpoint lacks ${missing.length} tensor(s) a qwen2 model needs, e.g. ${missing.slice(0, 3).join(', ')}. Is the download complete?`,
  );
}

/** Tokenizer files to copy: name → source path. */
export async function tokenizerFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of TOKENIZER_FILES) {
    const p = join(dir, f);
    if (!existsSync(p)) {
      throw new CheckpointError(`${p} is missing; transformers.js needs the checkpoint's tokenizer.json and tokenizer_config.json.`);
    }
    out[f] = p;
  }
  for (const f of OPTIONAL_FILES) if (existsSync(join(dir, f))) out[f] = join(dir, f);
  return out;
}

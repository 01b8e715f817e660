// The safetensors format, read and written without a library: an 8-byte little-endian header length, a
// JSON header { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {…} }, then the raw
// little-endian tensor bytes (offsets are relative to the end of the header). Pure: callers bring bytes.

import { SafetensorsFormatError } from './errors.ts';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './half.ts';
import { numel } from './weights.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offsets in the file. */
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Bytes before the tensor data (8 + header length). */
  dataStart: number;
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Headers larger than this are not weight files (the format itself caps them at 100 MB). */
const MAX_HEADER = 100_000_000;

/** Length of the JSON header, from the file's first 8 bytes. */
export function headerLength(first8: Uint8Array, file = 'file'): number {
  if (first8.byteLength < 8) throw new SafetensorsFormatError(`${file} is shorter than 8 bytes: not a .safetensors file.`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n === 0n || n > BigInt(MAX_HEADER)) {
    throw new SafetensorsFormatError(`${file} declares a ${n}-byte header: not a .safetensors file, or a corrupt one.`);
  }
  return Number(n);
}

/** Parses and checks the header: every tensor must fit inside the file and match its shape and dtype. */
export function parseHeader(headerJson: Uint8Array, fileSize: number, file = 'file'): SafetensorsHeader {
  const dataStart = 8 + headerJson.byteLength;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerJson));
  } catch (err) {
    throw new SafetensorsFormatError(`${file} has a header that is not valid JSON (${(err as Error).message}); the file is corrupt or truncated.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsFormatError(`${file} has a header that is not a JSON object.`);
  }
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const bad = (why: string) => new SafetensorsFormatError(`${file}: tensor "${name}" ${why}.`);
    if (typeof v !== 'object' || v === null) throw bad('has no description');
    if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_BYTES)) {
      throw bad(`has dtype ${JSON.stringify(v.dtype)}; only F32, F16 and BF16 weights can be converted`);
    }
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad('has an invalid shape');
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
      throw bad('has invalid data_offsets');
    }
    const dtype = v.dtype as SafetensorsDtype;
    const shape = v.shape as number[];
    const [b, e] = off as [number, number];
    if (e - b !== numel(shape) * DTYPE_BYTES[dtype]) {
      throw bad(`spans ${e - b} bytes but [${shape}] ${dtype} needs ${numel(shape) * DTYPE_BYTES[dtype]}`);
    }
    if (dataStart + e > fileSize) throw bad(`ends at byte ${dataStart + e} but the file has ${fileSize}: the file is truncated`);
    entries.set(name, { name, dtype, shape, start: dataStart + b, end: dataStart + e });
  }
  return { dataStart, entries, metadata };
}

/** Little-endian F32/F16/BF16 bytes → float32 values. */
export function decodeTensor(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  // Fast path for multi-gigabyte checkpoints: reinterpret aligned bytes instead of a DataView per value.
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0 && dtype === 'BF16') {
    const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    const dst = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) dst[i] = src[i]! << 16;
    return out;
  }
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 && dtype === 'F32') {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  } else {
    for (let i = 0; i < n; i++) out[i] = bf16ToFloat(view.getUint16(i * 2, true));
  }
  return out;
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype: SafetensorsDtype;
}

function encodeValues(t: TensorToWrite): Uint8Array {
  const bytes = new Uint8Array(t.data.length * DTYPE_BYTES[t.dtype]);
  const view = new DataView(bytes.buffer);
  t.data.forEach((v, i) => {
    if (t.dtype === 'F32') view.setFloat32(i * 4, v, true);
    else view.setUint16(i * 2, t.dtype === 'F16' ? floatToHalf(v) : floatToBf16(v), true);
  });
  return bytes;
}

/** A complete .safetensors file (header padded with spaces to 8 bytes, as the reference writer does). */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== numel(t.shape)) throw new Error(`Tensor ${t.name}: ${t.data.length} values for shape [${t.shape}].`);
    const body = encodeValues(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + body.byteLength] };
    bodies.push(body);
    offset += body.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((new TextEncoder().encode(json).byteLength + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const b of bodies) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

// The safetensors reader/writer, 16-bit float conversions and the 4-bit block quantizer, on their own.

import { describe, expect, it } from 'vitest';
import { decodeTensor, encodeSafetensors, headerLength, parseHeader } from '../src/onnx/safetensors.ts';
import { SafetensorsFormatError } from '../src/onnx/errors.ts';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from '../src/onnx/half.ts';
import { dequantizeQ4, quantizeQ4 } from '../src/onnx/quantize-q4.ts';
import { roundToBf16, roundToHalf } from './helpers/checkpoint.ts';
import { mulberry32 } from '../src/core/rng.ts';

function parse(file: Uint8Array) {
  const n = headerLength(file.subarray(0, 8));
  return parseHeader(file.subarray(8, 8 + n), file.byteLength);
}

function withHeader(header: string, body = new Uint8Array(0)): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(body, 8 + h.byteLength);
  return out;
}

describe('safetensors', () => {
  const values = Float32Array.from([0, 1, -2.5, 3.14159, 1e-3, -65504, 1e-8, 123.456]);

  it.each(['F32', 'F16', 'BF16'] as const)('writes and reads back %s', (dtype) => {
    const file = encodeSafetensors([
      { name: 'a', shape: [2, 4], data: values, dtype },
      { name: 'b.bias', shape: [3], data: Float32Array.from([1, 2, 3]), dtype },
    ], { format: 'pt' });
    const h = parse(file);
    expect(h.dataStart % 8).toBe(0);
    expect(h.metadata).toEqual({ format: 'pt' });
    const a = h.entries.get('a')!;
    expect(a.shape).toEqual([2, 4]);
    const got = decodeTensor(dtype, file.subarray(a.start, a.end));
    const want = dtype === 'F32' ? values : dtype === 'BF16' ? roundToBf16(values) : roundToHalf(values);
    expect(Array.from(got)).toEqual(Array.from(want));
    const b = h.entries.get('b.bias')!;
    expect(Array.from(decodeTensor(dtype, file.subarray(b.start, b.end)))).toEqual([1, 2, 3]);
  });

  it('decodes unaligned 16-bit data the same as aligned data', () => {
    const file = encodeSafetensors([{ name: 'x', shape: [8], data: values, dtype: 'BF16' }]);
    const e = parse(file).entries.get('x')!;
    const shifted = new Uint8Array(e.end - e.start + 1);
    shifted.set(file.subarray(e.start, e.end), 1);
    expect(Array.from(decodeTensor('BF16', shifted.subarray(1)))).toEqual(Array.from(decodeTensor('BF16', file.subarray(e.start, e.end))));
  });

  it.each([
    ['an absurd header length', () => headerLength(new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255])), /header/],
    ['a short file', () => headerLength(new Uint8Array(3)), /shorter than 8 bytes/],
    ['header JSON that is not JSON', () => parse(withHeader('{"a": ')), /not valid JSON/],
    ['a header that is an array', () => parse(withHeader('[1,2]')), /not a JSON object/],
    ['an integer dtype', () => parse(withHeader('{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', new Uint8Array(8))), /only F32, F16 and BF16/],
    ['offsets past the end', () => parse(withHeader('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', new Uint8Array(8))), /truncated/],
    ['a span that disagrees with the shape', () => parse(withHeader('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8))), /needs 12/],
    ['a negative dimension', () => parse(withHeader('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}')), /invalid shape/],
    ['reversed offsets', () => parse(withHeader('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', new Uint8Array(8))), /invalid data_offsets/],
  ])('rejects %s', (_label, fn, message) => {
    expect(fn).toThrow(SafetensorsFormatError);
    expect(fn).toThrow(message);
  });
});

describe('16-bit floats', () => {
  it('round to nearest even, keep specials, and agree with independent rounding', () => {
    const rng = mulberry32(3);
    const xs = Float32Array.from({ length: 2000 }, () => (rng() - 0.5) * 10 ** Math.floor(rng() * 8 - 4));
    expect(Array.from(xs, (x) => halfToFloat(floatToHalf(x)))).toEqual(Array.from(roundToHalf(xs)));
    expect(Array.from(xs, (x) => bf16ToFloat(floatToBf16(x)))).toEqual(Array.from(roundToBf16(xs)));
    expect(halfToFloat(floatToHalf(1e6))).toBe(Infinity);
    expect(halfToFloat(floatToHalf(-1e6))).toBe(-Infinity);
    expect(halfToFloat(floatToHalf(NaN))).toBeNaN();
    expect(bf16ToFloat(floatToBf16(NaN))).toBeNaN();
    expect(halfToFloat(floatToHalf(2 ** -24))).toBe(2 ** -24); // smallest subnormal
    expect(halfToFloat(floatToHalf(65504))).toBe(65504);
  });
});

describe('4-bit block quantization (MatMulNBits layout)', () => {
  it('packs low nibble first, one scale per 32-value block, odd block counts padded with zero point 8', () => {
    const n = 2;
    const k = 40; // two blocks per column, the second one partial
    const w = new Float32Array(n * k);
    for (let i = 0; i < k; i++) {
      w[i] = i < 32 ? i - 15 : 0; // column 0, block 0: -15..16
      w[k + i] = 1; // column 1: all ones
    }
    const q = quantizeQ4(w, n, k);
    expect(q.kBlocks).toBe(2);
    expect(q.packed.length).toBe(n * 2 * 16);
    expect(q.scales.length).toBe(n * 2);
    expect(q.zeroPoints.length).toBe(n * 1);
    // Column 0, block 0: range [-15, 16] → scale 31/15, zero point round(15/scale) = 7.
    expect(q.scales[0]).toBeCloseTo(31 / 15, 6);
    expect(q.zeroPoints[0]! & 0x0f).toBe(7);
    // Block 1 of column 0 is all zero: scale 0, zero point 0 (min = max = 0).
    expect(q.scales[1]).toBe(0);
    // Column 1: one block of ones → min clamps to 0, scale 1/15, zero point 0, every value 15.
    expect(q.scales[2]).toBeCloseTo(1 / 15, 7);
    expect(q.packed[2 * 16]).toBe(0xff);
    // Column 1 block 1 holds 8 ones then padding zeros (quantized to the zero point 0).
    expect(Array.from(q.packed.subarray(3 * 16, 3 * 16 + 6))).toEqual([0xff, 0xff, 0xff, 0xff, 0, 0]);
    // First byte of column 0: values -15 and -14 → 0 and round(-14·15/31 + 7) = 0.
    expect(q.packed[0]).toBe(0x00);
    const back = dequantizeQ4(q);
    for (let i = 0; i < w.length; i++) expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(q.scales[Math.floor(i / k) * 2 + Math.floor((i % k) / 32)]! / 2 + 1e-6);
  });

  it('keeps random weights within half a step of their block scale', () => {
    const rng = mulberry32(9);
    const n = 7;
    const k = 100;
    const w = Float32Array.from({ length: n * k }, () => rng() * 2 - 1);
    const q = quantizeQ4(w, n, k);
    const back = dequantizeQ4(q);
    let maxErr = 0;
    for (let c = 0; c < n; c++) {
      for (let i = 0; i < k; i++) {
        const s = q.scales[c * q.kBlocks + Math.floor(i / 32)]!;
        const err = Math.abs(back[c * k + i]! - w[c * k + i]!);
        expect(err).toBeLessThanOrEqual(s * 0.5 + 1e-6);
        maxErr = Math.max(maxErr, err);
      }
    }
    expect(maxErr).toBeGreaterThan(0);
  });
});

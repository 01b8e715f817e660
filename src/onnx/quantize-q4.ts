// 4-bit block quantization in the layout of onnxruntime's com.microsoft MatMulNBits (bits 4), computed the
// way onnxruntime's own quantizer does it (MlasQuantizeBlockwise, asymmetric with zero points), so a model
// from here loads and runs like one quantized with `matmul_nbits_quantizer`.
//
// Layout for a Linear weight W of HF shape [N, K] (out, in) — already the op's "column" order:
//   B            uint8 [N, kBlocks, blockSize/2]   element k of column n: low nibble first
//   scales       float [N * kBlocks]
//   zero_points  uint8 [N * ceil(kBlocks/2)]       block b: low nibble if b even; an unused last nibble is 8
//   dequantized  W[n, k] = (q - zp) * scale; K is zero-padded to whole blocks.

export const Q4_BLOCK_SIZE = 32;

export interface Q4Weight {
  n: number;
  k: number;
  blockSize: number;
  kBlocks: number;
  packed: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

/** C's roundf: halves round away from zero (Math.round rounds them up). */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

const f = Math.fround;

export function quantizeQ4(weight: Float32Array, n: number, k: number, blockSize = Q4_BLOCK_SIZE): Q4Weight {
  if (weight.length !== n * k) throw new Error(`quantizeQ4: expected ${n}×${k} values, got ${weight.length}.`);
  if (blockSize % 2 !== 0 || blockSize < 16) throw new Error(`quantizeQ4: bad block size ${blockSize}.`);
  const kBlocks = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const zpPerCol = Math.ceil(kBlocks / 2);
  const packed = new Uint8Array(n * kBlocks * blob);
  const scales = new Float32Array(n * kBlocks);
  const zeroPoints = new Uint8Array(n * zpPerCol).fill(0x88);
  for (let col = 0; col < n; col++) {
    const row = col * k;
    for (let b = 0; b < kBlocks; b++) {
      const start = b * blockSize;
      const end = Math.min(start + blockSize, k);
      let min = 0;
      let max = 0;
      for (let i = start; i < end; i++) {
        const v = weight[row + i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const scale = f(f(max - min) / 15);
      let zpf = min;
      if (scale !== 0) zpf = f(0 - f(min / scale));
      const zp = zpf < 0 ? 0 : zpf > 15 ? 15 : roundf(zpf);
      scales[col * kBlocks + b] = scale;
      const zi = col * zpPerCol + (b >> 1);
      zeroPoints[zi] = b % 2 === 0 ? (zeroPoints[zi]! & 0xf0) | zp : (zeroPoints[zi]! & 0x0f) | (zp << 4);
      const recip = scale !== 0 ? f(1 / scale) : 0;
      const base = (col * kBlocks + b) * blob;
      for (let j = 0; j < blockSize; j += 2) {
        const i0 = start + j;
        const v0 = i0 < end ? weight[row + i0]! : 0;
        const v1 = i0 + 1 < end ? weight[row + i0 + 1]! : 0;
        const q0 = Math.min(15, Math.max(0, roundf(f(f(v0 * recip) + zp))));
        const q1 = Math.min(15, Math.max(0, roundf(f(f(v1 * recip) + zp))));
        packed[base + j / 2] = q0 | (q1 << 4);
      }
    }
  }
  return { n, k, blockSize, kBlocks, packed, scales, zeroPoints };
}

/** The float32 weight [N, K] that MatMulNBits multiplies by. */
export function dequantizeQ4(q: Q4Weight): Float32Array {
  const out = new Float32Array(q.n * q.k);
  const blob = q.blockSize / 2;
  const zpPerCol = Math.ceil(q.kBlocks / 2);
  for (let col = 0; col < q.n; col++) {
    for (let i = 0; i < q.k; i++) {
      const b = Math.floor(i / q.blockSize);
      const scale = q.scales[col * q.kBlocks + b]!;
      const zpByte = q.zeroPoints[col * zpPerCol + (b >> 1)]!;
      const zp = b % 2 === 0 ? zpByte & 0x0f : zpByte >> 4;
      const within = i - b * q.blockSize;
      const byte = q.packed[(col * q.kBlocks + b) * blob + (within >> 1)]!;
      const v = within % 2 === 0 ? byte & 0x0f : byte >> 4;
      out[col * q.k + i] = f((v - zp) * scale);
    }
  }
  return out;
}

// A diagnostic copy of a built model folder whose attention MatMuls (the two whose operands are both
// activations: scores = Q·Kᵀ and context = P·V, in every layer) become com.microsoft FusedMatMul, the
// same product. ONNX Runtime's WebGPU provider has no FusedMatMul kernel, so on WebGPU exactly these two
// products per layer fall back to its CPU provider (WASM in the browser) and everything else stays on the
// GPU. On SwiftShader, whose emulated MatMul is the suspect for the per-step growth, the copy's curve
// shows what the growth is without it. Not a format to ship: on a real GPU it would read K/V back to the
// CPU in every layer. Weights are hard links to the original's external data files.

import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from '../../../src/onnx/onnx-graph.ts';

/** Writes the copy into `outDir` (replacing it) and returns how many MatMuls were swapped. */
export function withCpuAttention(srcDir: string, outDir: string, modelFile = 'model_q4.onnx'): number {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  for (const f of readdirSync(srcDir)) if (f !== 'onnx') copyFileSync(join(srcDir, f), join(outDir, f));
  for (const f of readdirSync(join(srcDir, 'onnx'))) if (f !== modelFile) linkSync(join(srcDir, 'onnx', f), join(outDir, 'onnx', f));
  const model = onnx.ModelProto.decode(readFileSync(join(srcDir, 'onnx', modelFile)));
  const weights = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  let swapped = 0;
  for (const node of model.graph?.node ?? []) {
    if (node.opType !== 'MatMul' || weights.has(node.input?.[1] ?? '')) continue;
    node.opType = 'FusedMatMul';
    node.domain = 'com.microsoft';
    swapped++;
  }
  if (!model.opsetImport?.some((o) => o.domain === 'com.microsoft')) model.opsetImport = [...(model.opsetImport ?? []), { domain: 'com.microsoft', version: 1 }];
  writeFileSync(join(outDir, 'onnx', modelFile), onnx.ModelProto.encode(model).finish());
  if (!existsSync(join(outDir, 'config.json'))) throw new Error(`${srcDir} has no config.json`);
  return swapped;
}

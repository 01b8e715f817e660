// Seeded random weights for test and fixture models. Each tensor has its own stream derived from the seed
// and its name, so a tensor's values do not depend on which others exist or in what order they are read.
// Scales keep activations O(1) and logits with a spread of a few units: a model whose outputs are all
// equal (or all saturated) would let a broken graph pass the agreement tests.

import { deriveSeed, mulberry32 } from '../core/rng.ts';
import type { Qwen2Spec } from './spec.ts';
import { expectedTensors, numel, type Tensor32, type WeightSource } from './weights.ts';

function normals(seed: number, n: number, std: number, mean = 0): Float32Array {
  const rng = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller; 1 - u keeps the log argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const th = 2 * Math.PI * rng();
    out[i] = mean + std * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(th);
  }
  return out;
}

function stdFor(name: string, shape: number[], spec: Qwen2Spec): { mean: number; std: number } {
  const fanIn = shape[shape.length - 1] ?? 1;
  if (name.endsWith('norm.weight')) return { mean: 1, std: 0.1 };
  if (name.endsWith('.bias')) return { mean: 0, std: 0.1 };
  // Embedding and lm head: logits = hidden · row, hidden has RMS ≈ 1, so std 2/√H gives logits of std ≈ 2.
  if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') {
    return { mean: 0, std: 2 / Math.sqrt(spec.hiddenSize) };
  }
  if (name === 'score.2.weight') return { mean: 0, std: Math.SQRT2 / Math.sqrt(fanIn) };
  return { mean: 0, std: 1 / Math.sqrt(fanIn) };
}

export function randomWeights(spec: Qwen2Spec, seed: number): WeightSource {
  const shapes = expectedTensors(spec);
  return {
    async read(name): Promise<Tensor32> {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`A random ${spec.head} model has no tensor "${name}".`);
      const { mean, std } = stdFor(name, shape, spec);
      return { shape: [...shape], data: normals(deriveSeed(seed, name), numel(shape), std, mean) };
    },
  };
}

// Ready-made choices for the settings form. WebLLM ids follow MLC's naming (…-q4f16_1-MLC); the
// quantisation is picked from the adapter, since q4f16 models do not run without shader-f16.

import type { Capabilities } from './capabilities.ts';
import { DEMO_PRM, DEMO_WEAK, type PrmSpec, type WeakSpec } from './settings.ts';

export interface WeakPreset {
  id: string;
  label: string;
  spec: WeakSpec;
  /** Approximate download, for the form (MB). */
  sizeMB: number | null;
  /** Approximate GPU memory needed (MB), from WebLLM's model records. */
  vramMB: number | null;
}

export interface PrmPreset {
  id: string;
  label: string;
  spec: PrmSpec;
}

const Q4F16 = 'q4f16_1';
const Q4F32 = 'q4f32_1';

/** The same WebLLM model in the quantisation this adapter can run. */
export function webllmIdFor(modelId: string, shaderF16: boolean): string {
  return shaderF16 ? modelId : modelId.replace(Q4F16, Q4F32);
}

/** Smaller fallbacks offered after an out-of-memory or device-lost error. */
const SMALLER: Record<string, string> = {
  'Qwen2.5-Math-1.5B-Instruct': 'Qwen2.5-0.5B-Instruct',
};

/** The next smaller WebLLM model, same quantisation, or null when there is none. */
export function smallerWebllmModel(modelId: string): string | null {
  for (const [big, small] of Object.entries(SMALLER)) if (modelId.startsWith(big + '-')) return modelId.replace(big, small);
  return null;
}

export function weakPresets(caps: Capabilities): WeakPreset[] {
  const f16 = caps.webgpu.available && caps.webgpu.shaderF16;
  const webllm = (base: string, label: string, sizeMB: number, vram16: number, vram32: number): WeakPreset => {
    const id = webllmIdFor(`${base}-${Q4F16}-MLC`, f16);
    return { id, label: `${label} (WebLLM, ${f16 ? 'q4f16' : 'q4f32'}, WebGPU)`, spec: { kind: 'webllm', model: id }, sizeMB, vramMB: f16 ? vram16 : vram32 };
  };
  return [
    { id: 'demo', label: 'Offline demo (tiny models, no download)', spec: DEMO_WEAK, sizeMB: null, vramMB: null },
    webllm('Qwen2.5-Math-1.5B-Instruct', 'Qwen2.5-Math-1.5B-Instruct', 1000, 1630, 1889),
    webllm('Qwen2.5-0.5B-Instruct', 'Qwen2.5-0.5B-Instruct', 300, 945, 1060),
  ];
}

export const PRM_PRESETS: readonly PrmPreset[] = [
  { id: 'demo', label: 'Offline demo PRM (organism, value head)', spec: DEMO_PRM },
  { id: 'self', label: 'Self-check: the small model rates its own steps (no download)', spec: { kind: 'self' } },
  { id: 'none', label: 'No PRM (only for policies that never score)', spec: { kind: 'none' } },
];

/** Whether a WebLLM model plausibly fits, from the adapter's buffer limit and reported memory. */
export function fitsDevice(p: WeakPreset, caps: Capabilities): boolean {
  if (p.spec.kind !== 'webllm') return true;
  if (!caps.webgpu.available) return false;
  const memMB = caps.deviceMemoryGB ? caps.deviceMemoryGB * 1024 : Infinity;
  return (p.vramMB ?? 0) <= memMB;
}

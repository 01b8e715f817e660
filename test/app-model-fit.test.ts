// The page's fit check before a download: which ONNX files a folder's config names, the embedding table
// against WebGPU's storage-binding limit, the weights against WebAssembly's memory, the storage quota.

import { describe, expect, it } from 'vitest';
import type { Capabilities } from '../src/app/capabilities.ts';
import { folderFacts, judgeFit, largestTensorBytes, onnxFiles, WASM_WEIGHT_LIMIT } from '../src/app/model-fit.ts';

/** Skywork-o1-Open-PRM-Qwen-2.5-1.5B as `trim convert` writes it at q4 (two external data chunks). */
const PRM_1_5B = { vocab_size: 151_936, hidden_size: 1536, 'transformers.js_config': { dtype: 'q4', use_external_data_format: { 'model_q4.onnx': 2 } } };
const caps = (storageBinding: number): Capabilities => ({
  webgpu: { available: true, vendor: 'google', architecture: 'swiftshader', fallback: true, shaderF16: false, maxBufferBytes: 2 ** 31, maxStorageBindingBytes: storageBinding },
  deviceMemoryGB: 8,
  wasm: true,
});

describe('model fit before download', () => {
  it('lists the files transformers.js will fetch for the folder dtype, external data chunks included', () => {
    expect(onnxFiles(PRM_1_5B)).toEqual(['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'onnx/model_q4.onnx_data_1']);
    expect(onnxFiles({ 'transformers.js_config': { dtype: 'fp32' } })).toEqual(['onnx/model.onnx']);
    expect(onnxFiles({})).toEqual(['onnx/model.onnx']);
  });

  it('refuses WebGPU when the float32 embedding table passes the storage-binding limit, and says to use WebAssembly', () => {
    expect(largestTensorBytes(PRM_1_5B)).toBe(151_936 * 1536 * 4); // 0.93 GB
    const facts = { label: 'skywork', config: PRM_1_5B, downloadBytes: 1.7e9 };
    expect(judgeFit(facts, 'webgpu', caps(2 ** 28), null).refuse).toMatch(/embedding table is 890 MB .* largest buffer a shader may use here is 256 MB.*WebAssembly device/);
    expect(judgeFit(facts, 'webgpu', caps(2 ** 30), null).refuse).toBeNull();
    expect(judgeFit(facts, 'wasm', caps(2 ** 28), null).refuse).toBeNull();
  });

  it('refuses WebAssembly past its memory, and warns when the cache cannot keep the model', () => {
    const big = { label: 'big', config: PRM_1_5B, downloadBytes: WASM_WEIGHT_LIMIT + 1 };
    expect(judgeFit(big, 'wasm', caps(2 ** 30), null).refuse).toMatch(/4 GiB memory.*WebGPU/);
    const ok = { label: 'prm', config: PRM_1_5B, downloadBytes: 1_000 * 2 ** 20 };
    expect(judgeFit(ok, 'wasm', caps(2 ** 30), 500 * 2 ** 20)).toEqual({ refuse: null, warnings: [expect.stringMatching(/1000 MB.*500 MB.*downloads it again/)] });
    expect(judgeFit(ok, 'wasm', caps(2 ** 30), 2 ** 31).warnings).toEqual([]);
  });

  it('reads the sizes with HEAD requests only, and gives none when the server does not say', async () => {
    const asked: string[] = [];
    const fake = (async (url: string, init?: RequestInit) => {
      asked.push(`${init?.method ?? 'GET'} ${url}`);
      if (url.endsWith('config.json')) return new Response(JSON.stringify(PRM_1_5B));
      return new Response(null, { headers: url.endsWith('_1') ? {} : { 'content-length': '1000' } });
    }) as typeof fetch;
    const facts = await folderFacts('http://x/m', 'm', fake);
    expect(asked).toEqual(['GET http://x/m/config.json', 'HEAD http://x/m/onnx/model_q4.onnx', 'HEAD http://x/m/onnx/model_q4.onnx_data', 'HEAD http://x/m/onnx/model_q4.onnx_data_1']);
    expect(facts.downloadBytes).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { budgetNote, calibrateForBudget } from '../src/app/budget.ts';
import { preflight, tjsDevice, describeCapabilities, type NavigatorLike } from '../src/app/capabilities.ts';
import { fitsDevice, smallerWebllmModel, webllmIdFor, weakPresets } from '../src/app/presets.ts';
import { gatedPolicy, type Hold } from '../src/app/remote-gate.ts';
import { defaultSettings, parsePrmSpec, parseWeakSpec } from '../src/app/settings.ts';
import { readUrlConfig, settingsToQuery } from '../src/app/url-config.ts';
import { parsePolicySpec } from '../src/core/policies/index.ts';

describe('URL configuration', () => {
  it('reads every documented parameter', () => {
    const q =
      '?weak=webllm:Qwen2.5-Math-1.5B-Instruct-q4f16_1-MLC&prm=tjs:https://host/models/prm%23two-class&remote=http://127.0.0.1:8000/' +
      '&remoteModel=big&remoteMode=continue&policy=thr:0.3&problem=What%20is%202%2B2%3F&device=wasm&maxSteps=5&seed=7&timeout=9';
    const c = readUrlConfig(q, defaultSettings());
    expect(c.problems).toEqual([]);
    expect(c.problem).toBe('What is 2+2?');
    expect(c.settings).toMatchObject({
      weak: { kind: 'webllm', model: 'Qwen2.5-Math-1.5B-Instruct-q4f16_1-MLC' },
      prm: { kind: 'tjs', url: 'https://host/models/prm', head: 'two-class' },
      remote: { baseUrl: 'http://127.0.0.1:8000', model: 'big', mode: 'continue' },
      policy: 'thr:0.3',
      device: 'wasm',
      maxSteps: 5,
      seed: 7,
      remoteTimeoutMs: 9000,
    });
  });

  it('never reads a secret and says where the key belongs', () => {
    const c = readUrlConfig('?apiKey=sk-123&token=abc&weak=tjs:./m', defaultSettings());
    expect(c.secrets).toEqual(['apiKey', 'token']);
    expect(JSON.stringify(c.settings)).not.toContain('sk-123');
    expect(c.problems.join(' ')).toMatch(/never read from a link.*Settings/);
  });

  it('rejects credentials or a query inside the remote URL', () => {
    for (const remote of ['https://user:pw@api.example.com', 'https://api.example.com/?key=sk-1', 'ftp://x']) {
      const c = readUrlConfig(`?remote=${encodeURIComponent(remote)}&remoteModel=m`, defaultSettings());
      expect(c.settings.remote).toBeNull();
      expect(c.problems).toHaveLength(1);
    }
  });

  it('reports bad values and keeps the defaults for them', () => {
    const c = readUrlConfig('?weak=gguf:x&prm=tjs:./p%23nope&policy=thr:2&maxSteps=0&remote=http://h&colour=red', defaultSettings());
    expect(c.settings.weak).toEqual(defaultSettings().weak);
    expect(c.settings.policy).toBe(defaultSettings().policy);
    expect(c.problems).toHaveLength(6);
    expect(c.problems.join('\n')).toMatch(/webllm:MODEL_ID or tjs:URL/);
    expect(c.problems.join('\n')).toMatch(/remoteModel is missing/);
  });

  it('round-trips settings through a link without the key', () => {
    const s = {
      ...defaultSettings(),
      remote: { baseUrl: 'https://api.example.com', model: 'm', mode: 'raw' as const },
      policy: 'query:0.4',
      device: 'wasm' as const,
      confirmRemote: true,
      maxSteps: 9,
      maxStepTokens: 99,
      temperature: 0.2,
      topP: 0.5,
      seed: 3,
      remoteTimeoutMs: 7000,
      budget: 12.5,
    };
    const back = readUrlConfig(settingsToQuery(s, 'x+1'), defaultSettings());
    expect(back.settings).toEqual(s);
    expect(back.problem).toBe('x+1');
    const noLocalStrong = { ...defaultSettings(), strongLocal: null };
    expect(readUrlConfig(settingsToQuery(noLocalStrong), defaultSettings()).settings).toEqual(noLocalStrong);
  });

  it('parses model specs strictly', () => {
    expect(parseWeakSpec('tjs:./models/lm/')).toEqual({ kind: 'tjs', url: './models/lm' });
    expect(() => parseWeakSpec('tjs:javascript:alert(1)')).toThrow(/not an http/);
    expect(() => parseWeakSpec('webllm:../../etc')).toThrow(/not a WebLLM model id/);
    expect(parsePrmSpec('self')).toEqual({ kind: 'self' });
    expect(parsePrmSpec('tjs:./p')).toEqual({ kind: 'tjs', url: './p', head: 'value' });
  });
});

describe('capabilities and presets', () => {
  const adapter = (f16: boolean, fallback = false) => ({
    features: new Set(f16 ? ['shader-f16'] : []),
    limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 29 },
    info: { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: fallback },
  });

  it('says why there is no WebGPU', async () => {
    const none = await preflight({});
    expect(none.webgpu).toEqual({ available: false, reason: expect.stringMatching(/navigator.gpu is missing/) });
    const noAdapter = await preflight({ gpu: { requestAdapter: async () => null } });
    expect(noAdapter.webgpu.available).toBe(false);
    expect(describeCapabilities(noAdapter)).toMatch(/^No WebGPU: .*no GPU adapter.*WebAssembly/);
    expect(tjsDevice('webgpu', noAdapter)).toBe('wasm');
  });

  it('picks q4f32 WebLLM models without shader-f16 and WASM on a software adapter', async () => {
    const nav: NavigatorLike = { gpu: { requestAdapter: async () => adapter(false, true) }, deviceMemory: 8 };
    const caps = await preflight(nav);
    expect(caps.webgpu).toMatchObject({ available: true, shaderF16: false, fallback: true, maxBufferBytes: 2 ** 30 });
    expect(weakPresets(caps).filter((p) => p.spec.kind === 'webllm').map((p) => p.id)).toEqual([
      'Qwen2.5-Math-1.5B-Instruct-q4f32_1-MLC',
      'Qwen2.5-0.5B-Instruct-q4f32_1-MLC',
    ]);
    expect(tjsDevice('auto', caps)).toBe('wasm');
    expect(tjsDevice('webgpu', caps)).toBe('webgpu');
    const f16 = await preflight({ gpu: { requestAdapter: async () => adapter(true) } });
    expect(weakPresets(f16)[1]!.id).toBe('Qwen2.5-Math-1.5B-Instruct-q4f16_1-MLC');
    expect(tjsDevice('auto', f16)).toBe('webgpu');
  });

  it('offers a smaller model and checks what fits', async () => {
    expect(smallerWebllmModel('Qwen2.5-Math-1.5B-Instruct-q4f32_1-MLC')).toBe('Qwen2.5-0.5B-Instruct-q4f32_1-MLC');
    expect(smallerWebllmModel('Qwen2.5-0.5B-Instruct-q4f32_1-MLC')).toBeNull();
    expect(webllmIdFor('A-q4f16_1-MLC', false)).toBe('A-q4f32_1-MLC');
    const small = await preflight({ gpu: { requestAdapter: async () => adapter(true) }, deviceMemory: 1 });
    const [demo, big, tiny] = weakPresets(small);
    expect([fitsDevice(demo!, small), fitsDevice(big!, small), fitsDevice(tiny!, small)]).toEqual([true, false, true]);
  });
});

describe('remote gate', () => {
  it('keeps the draft of a step the policy would send while offline, and marks it', () => {
    let offline = true;
    const holds: Hold[] = [];
    const p = gatedPolicy(parsePolicySpec('thr:0.5'), () => (offline ? 'offline' : null), (h) => holds.push(h));
    const e = p.episode();
    const o = { t: 2, score: 0.1, previous: [0.9], draftTokens: 5, strongTokens: 0, budgetLeft: null };
    expect(e.decide(o)).toBe('accept');
    expect(holds).toEqual([{ t: 2, reason: 'offline' }]);
    offline = false;
    expect(e.decide({ ...o, t: 3 })).toBe('regenerate');
    expect(holds).toHaveLength(1);
  });

  it('turns a planned remote step into a local one when no remote is configured', () => {
    const holds: Hold[] = [];
    const e = gatedPolicy(parsePolicySpec('strong-only'), () => 'no-remote', (h) => holds.push(h)).episode();
    expect(e.plan(1)).toBe('accept');
    expect(holds).toEqual([{ t: 1, reason: 'no-remote' }]);
  });
});

describe('budget', () => {
  it('picks the knob that sends the asked share of steps on simulated problems', () => {
    const c = calibrateForBudget('thr:0.5', 20);
    expect(c.spec).toMatch(/^thr:0\.\d+$/);
    expect(c.reached).toBe(true);
    expect(c.spend).toBeCloseTo(0.2, 2);
    expect(budgetNote(20, c)).toMatch(/^Policy thr:0\.\d+: sends about 20% of steps on simulated problems/);
    // A larger budget needs a higher threshold.
    expect(Number(calibrateForBudget('thr', 40).spec.split(':')[1])).toBeGreaterThan(Number(c.spec.split(':')[1]));
  });

  it('refuses a policy without a knob and reads the budget from a link', () => {
    expect(() => calibrateForBudget('weak-only', 10)).toThrow(/has no knob to set from a budget/);
    expect(readUrlConfig('?budget=15', defaultSettings()).settings.budget).toBe(15);
    expect(readUrlConfig('?budget=150', defaultSettings()).problems[0]).toMatch(/budget=150/);
  });
});

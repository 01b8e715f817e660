// The subgroup hold-back for ONNX Runtime's WebGPU attention: device requests to adapters narrower than
// 16 lanes leave out the subgroup features, every other request passes untouched. (In Chromium, on
// SwiftShader's 4-lane adapter, test/tjs.browser.test.ts checks the outcome: WebGPU agrees with Node.)

import { describe, expect, it } from 'vitest';
import { holdBackNarrowSubgroups, narrowSubgroups } from '../src/backends/webgpu-subgroups.ts';

type Descriptor = { requiredFeatures?: Iterable<string>; label?: string };

function fakeAdapterClass() {
  const seen: Descriptor[] = [];
  class FakeAdapter {
    constructor(readonly info?: { subgroupMaxSize?: number }) {}
    requestDevice(d?: Descriptor): Promise<Descriptor | undefined> {
      seen.push(d ?? {});
      return Promise.resolve(d);
    }
  }
  return { FakeAdapter, seen };
}

const ASKED = ['subgroups', 'subgroup-size-control', 'shader-f16', 'timestamp-query'];

describe('holdBackNarrowSubgroups', () => {
  it('drops the subgroup features for a 4-lane adapter (SwiftShader) and keeps the rest of the request', async () => {
    const { FakeAdapter } = fakeAdapterClass();
    expect(holdBackNarrowSubgroups(FakeAdapter)).toBe(true);
    const d = await new FakeAdapter({ subgroupMaxSize: 4 }).requestDevice({ requiredFeatures: ASKED, label: 'ort' });
    expect(d).toEqual({ requiredFeatures: ['shader-f16', 'timestamp-query'], label: 'ort' });
  });

  it('leaves requests to adapters with 16 lanes or more, or that do not say, as they are', async () => {
    const { FakeAdapter, seen } = fakeAdapterClass();
    holdBackNarrowSubgroups(FakeAdapter);
    const asked = { requiredFeatures: ASKED };
    for (const info of [{ subgroupMaxSize: 16 }, { subgroupMaxSize: 32 }, { subgroupMaxSize: 128 }, {}, undefined]) {
      expect(await new FakeAdapter(info).requestDevice(asked)).toBe(asked);
    }
    expect(seen).toHaveLength(5);
  });

  it('patches once however often the runtime is configured', async () => {
    const { FakeAdapter, seen } = fakeAdapterClass();
    holdBackNarrowSubgroups(FakeAdapter);
    holdBackNarrowSubgroups(FakeAdapter);
    await new FakeAdapter({ subgroupMaxSize: 8 }).requestDevice();
    expect(seen).toEqual([{ requiredFeatures: [] }]);
  });

  it('does nothing where WebGPU is absent (Node, browsers without it)', () => {
    expect(holdBackNarrowSubgroups(undefined)).toBe(false);
    expect(narrowSubgroups(undefined)).toBe(false);
    expect(narrowSubgroups({ subgroupMaxSize: 0 })).toBe(false);
    expect(narrowSubgroups({ subgroupMaxSize: 15 })).toBe(true);
  });
});

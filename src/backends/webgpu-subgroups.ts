// ONNX Runtime Web's WebGPU attention kernels (MultiHeadAttention, GroupQueryAttention) take a subgroup
// path whenever the device has the `subgroups` feature, and that path gives wrong outputs on adapters
// whose subgroups are narrower than 16 lanes: on SwiftShader (4 lanes) every query row of a call with 32
// or more new tokens is off by up to 0.09 (onnxruntime-web 1.31.0-dev; 24 tokens and fewer are right),
// while the same kernels on a device without the feature agree with WASM to 1e-6
// (test/bench/real-size/attention-probe.ts --no-subgroups). ONNX Runtime asks for its device itself,
// so the feature is held back where every request goes through: GPUAdapter.prototype.requestDevice,
// in this realm (each worker is its own) and only for such narrow adapters. Adapters with 16 lanes or
// more, which every desktop and laptop GPU offers, keep the feature and the kernels ORT tunes for them.

/** ORT's flash attention was written for subgroups of at least this many lanes. */
export const MIN_ATTENTION_SUBGROUP = 16;

interface AdapterInfoLike {
  subgroupMaxSize?: number;
}

interface RequestDeviceHost {
  prototype: { requestDevice(this: { info?: AdapterInfoLike }, descriptor?: { requiredFeatures?: Iterable<string> }): Promise<unknown> };
}

const PATCHED = Symbol.for('trim.webgpu-subgroups');

/** Whether requests to this adapter should leave out the subgroup features. */
export function narrowSubgroups(info: AdapterInfoLike | undefined): boolean {
  const max = info?.subgroupMaxSize;
  return typeof max === 'number' && max > 0 && max < MIN_ATTENTION_SUBGROUP;
}

/**
 * Makes device requests to narrow-subgroup adapters leave out `subgroups` (and `subgroup-size-control`,
 * which is only about subgroups). Idempotent; does nothing where WebGPU is absent.
 */
export function holdBackNarrowSubgroups(host: RequestDeviceHost | undefined = (globalThis as { GPUAdapter?: RequestDeviceHost }).GPUAdapter): boolean {
  if (!host?.prototype?.requestDevice) return false;
  const proto = host.prototype as RequestDeviceHost['prototype'] & { [PATCHED]?: true };
  if (proto[PATCHED]) return true;
  const requestDevice = proto.requestDevice;
  proto.requestDevice = function (descriptor = {}) {
    if (!narrowSubgroups(this.info)) return requestDevice.call(this, descriptor);
    const requiredFeatures = [...(descriptor.requiredFeatures ?? [])].filter((f) => !f.startsWith('subgroup'));
    return requestDevice.call(this, { ...descriptor, requiredFeatures });
  };
  proto[PATCHED] = true;
  return true;
}

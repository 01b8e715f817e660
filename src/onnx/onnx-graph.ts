// A small ONNX graph builder over onnx-proto. Weights are *deferred*: the graph records their name, type
// and shape plus a function that produces the bytes, so a writer can stream them one by one into an
// external data file instead of holding a whole model in memory.

import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const { onnx } = onnxProto;

export type DType = 'float32' | 'float16' | 'int64' | 'uint8' | 'bool';

export const DATA_TYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int64: 7,
  bool: 9,
  float16: 10,
};

export const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, float16: 2, int64: 8, uint8: 1, bool: 1 };

export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface DeferredTensor {
  name: string;
  dtype: DType;
  dims: number[];
  /** Small constants are always stored inside the .onnx file. */
  inline: boolean;
  bytes(): Promise<Uint8Array>;
}

export type Attr =
  | { int: number }
  | { ints: number[] }
  | { float: number }
  | { floats: number[] }
  | { string: string };

export interface NodeSpec {
  op: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export function bytesOf(a: Float32Array | Uint16Array | Uint8Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class GraphBuilder {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly nodes: NodeSpec[] = [];
  readonly initializers: DeferredTensor[] = [];
  readonly domains = new Set<string>(['']);
  private counter = 0;
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  private fresh(base: string): string {
    let n = base;
    while (this.names.has(n)) n = `${base}_${++this.counter}`;
    this.names.add(n);
    return n;
  }

  input(name: string, dtype: DType, shape: Dim[]): string {
    this.names.add(name);
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  output(name: string, dtype: DType, shape: Dim[]): void {
    this.outputs.push({ name, dtype, shape });
  }

  initializer(name: string, dtype: DType, dims: number[], bytes: () => Promise<Uint8Array>): string {
    if (this.names.has(name)) throw new Error(`Duplicate tensor name "${name}" in graph.`);
    this.names.add(name);
    this.initializers.push({ name, dtype, dims, inline: false, bytes });
    return name;
  }

  private constant(base: string, dtype: DType, dims: number[], data: Uint8Array): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dtype, dims, inline: true, bytes: async () => data });
    return name;
  }

  int64(values: number[], dims: number[] = [values.length]): string {
    return this.constant('const_i64', 'int64', dims, bytesOf(BigInt64Array.from(values.map(BigInt))));
  }

  float(values: number[], dims: number[] = [values.length]): string {
    return this.constant('const_f32', 'float32', dims, bytesOf(Float32Array.from(values)));
  }

  /** Adds a node; `out` names its outputs (graph outputs keep their exact names). */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: { out?: string[]; n?: number; domain?: string; name?: string } = {}): string[] {
    const domain = opts.domain ?? '';
    this.domains.add(domain);
    const nodeName = this.fresh(opts.name ?? op);
    const outputs = opts.out ?? Array.from({ length: opts.n ?? 1 }, (_, i) => this.fresh(`${nodeName}_out${i}`));
    for (const o of opts.out ?? []) this.names.add(o);
    this.nodes.push({ op, domain, name: nodeName, inputs, outputs, attrs });
    return outputs;
  }

  /** A node with one output. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: { out?: string; domain?: string; name?: string } = {}): string {
    const { out, ...rest } = opts;
    return this.node(op, inputs, attrs, { ...rest, ...(out ? { out: [out] } : {}) })[0]!;
  }
}

function attribute(name: string, a: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return { name, type: T.INT, i: a.int };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  if ('float' in a) return { name, type: T.FLOAT, f: a.float };
  if ('floats' in a) return { name, type: T.FLOATS, floats: a.floats };
  return { name, type: T.STRING, s: new TextEncoder().encode(a.string) };
}

function valueInfo(v: ValueInfo): OnnxTypes.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Where a tensor's bytes went: inside the model file, or a span of an external data file. */
export type TensorPlacement = { raw: Uint8Array } | { location: string; offset: number; length: number };

export function tensorProto(t: DeferredTensor, placement: TensorPlacement): OnnxTypes.ITensorProto {
  const base = { name: t.name, dataType: DATA_TYPE[t.dtype], dims: t.dims };
  if ('raw' in placement) return { ...base, rawData: placement.raw };
  return {
    ...base,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: placement.location },
      { key: 'offset', value: String(placement.offset) },
      { key: 'length', value: String(placement.length) },
    ],
  };
}

export const OPSET = 14;

/** Serialises the graph with the given initializer protos (irVersion 8, opset 14, com.microsoft 1). */
export function encodeModel(g: GraphBuilder, initializers: OnnxTypes.ITensorProto[], docString = ''): Uint8Array {
  const model: OnnxTypes.IModelProto = {
    irVersion: 8,
    producerName: 'trim-onnx-builder',
    producerVersion: '1',
    docString,
    opsetImport: [...g.domains].map((domain) => ({ domain, version: domain === '' ? OPSET : 1 })),
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        opType: n.op,
        domain: n.domain,
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, a]) => attribute(k, a)),
      })),
      initializer: initializers,
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

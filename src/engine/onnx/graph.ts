// The graph IR and its builder: values with static dtype and shape, nodes in topological order (the order they
// are built in), constants as initializers. Every node's output shapes come from the op table's shape rule, so a
// mismatch is caught where the graph is built, with the op's name, not later inside onnxruntime.
import { OPS } from './ops.js';

export type DType = 'float32' | 'int32' | 'int64' | 'bool';
export type ConstData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; dtype: DType; shape: readonly number[]; data: ConstData };
export type Attrs = Readonly<Record<string, Attr>>;

export const int = (value: number): Attr => ({ kind: 'int', value });
export const float = (value: number): Attr => ({ kind: 'float', value });
export const ints = (value: readonly number[]): Attr => ({ kind: 'ints', value });

export interface Value {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface Node {
  readonly op: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
  /** Outputs are treated as constants by autodiff (a stop-gradient). */
  readonly noGrad?: boolean;
}

/** What the target execution provider can do, where gradient rules have a faster choice. */
export interface GraphOptions {
  /** ScatterND with reduction 'add' has a kernel (the CPU EP; not the WebGPU EP). */
  scatterAdd?: boolean;
}

export class GraphError extends Error {
  readonly code = 'GRAPH_BUILD';
}

export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
export const shapeStr = (shape: readonly number[]) => `[${shape.join(', ')}]`;

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly constants = new Map<Value, ConstData>();
  /** The node that produced each non-input value. */
  readonly producer = new Map<Value, Node>();
  private readonly names = new Map<Value, string>();
  private readonly constCache = new Map<string, Value>();
  private nextId = 0;

  constructor(
    readonly name = 'graph',
    readonly options: GraphOptions = {},
  ) {}

  private value(dtype: DType, shape: readonly number[]): Value {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new GraphError(`invalid dimension ${d} in shape ${shapeStr(shape)}`);
    }
    return { id: this.nextId++, dtype, shape: Object.freeze([...shape]) };
  }

  nameOf(v: Value): string {
    return this.names.get(v) ?? `v${v.id}`;
  }

  input(name: string, dtype: DType, shape: readonly number[]): Value {
    const v = this.value(dtype, shape);
    this.names.set(v, name);
    this.inputs.push(v);
    return v;
  }

  /** Marks `v` as a graph output called `name` (through an Identity when `v` already has a name or is an input). */
  output(v: Value, name: string): Value {
    let out = v;
    if (this.names.has(v) || this.inputs.includes(v) || this.constants.has(v)) out = this.op('Identity', [v])[0];
    this.names.set(out, name);
    this.outputs.push(out);
    return out;
  }

  /** A constant initializer; equal small constants are shared. */
  constant(dtype: DType, shape: readonly number[], data: ConstData): Value {
    const key = data.length <= 16 ? `${dtype}|${shape.join(',')}|${Array.from(data as ArrayLike<number | bigint>).join(',')}` : null;
    if (key && this.constCache.has(key)) return this.constCache.get(key)!;
    const v = this.value(dtype, shape);
    if (data.length !== numel(shape)) throw new GraphError(`constant has ${data.length} elements for shape ${shapeStr(shape)}`);
    this.constants.set(v, data);
    if (key) this.constCache.set(key, v);
    return v;
  }
  scalar(x: number, dtype: 'float32' | 'int32' = 'float32'): Value {
    return this.constant(dtype, [], dtype === 'float32' ? Float32Array.of(x) : Int32Array.of(x));
  }
  i64(xs: readonly number[]): Value {
    return this.constant('int64', [xs.length], BigInt64Array.from(xs, (x) => BigInt(x)));
  }
  constData(v: Value): ConstData | undefined {
    return this.constants.get(v);
  }

  /** Adds a node; the op table's shape rule gives its outputs. */
  op(op: string, inputs: readonly (Value | null)[], attrs: Attrs = {}, opts: { noGrad?: boolean } = {}): Value[] {
    const def = OPS[op];
    if (!def) throw new GraphError(`unknown op "${op}". Known ops: ${Object.keys(OPS).join(', ')}`);
    let specs;
    try {
      specs = def.shape(inputs, attrs, this);
    } catch (e) {
      const desc = inputs.map((i) => (i ? `${i.dtype}${shapeStr(i.shape)}` : 'none')).join(', ');
      throw new GraphError(`${op}(${desc}): ${(e as Error).message}`);
    }
    const outputs = specs.map((s) => this.value(s.dtype, s.shape));
    const node: Node = { op, inputs, outputs, attrs, noGrad: opts.noGrad };
    this.nodes.push(node);
    for (const o of outputs) this.producer.set(o, node);
    return outputs;
  }
  op1(op: string, inputs: readonly (Value | null)[], attrs: Attrs = {}): Value {
    return this.op(op, inputs, attrs)[0];
  }

  // Elementwise arithmetic (numpy broadcasting).
  add(a: Value, b: Value) { return this.op1('Add', [a, b]); }
  sub(a: Value, b: Value) { return this.op1('Sub', [a, b]); }
  mul(a: Value, b: Value) { return this.op1('Mul', [a, b]); }
  div(a: Value, b: Value) { return this.op1('Div', [a, b]); }
  neg(a: Value) { return this.op1('Neg', [a]); }
  exp(a: Value) { return this.op1('Exp', [a]); }
  log(a: Value) { return this.op1('Log', [a]); }
  sqrt(a: Value) { return this.op1('Sqrt', [a]); }
  tanh(a: Value) { return this.op1('Tanh', [a]); }
  cast(a: Value, to: DType) { return this.op1('Cast', [a], { to: int(DTYPE_CODE[to]) }); }
  addScalar(a: Value, x: number) { return this.add(a, this.scalar(x)); }
  mulScalar(a: Value, x: number) { return this.mul(a, this.scalar(x)); }

  // Linear algebra.
  matmul(a: Value, b: Value) { return this.op1('MatMul', [a, b]); }
  gemm(a: Value, b: Value, c: Value | null = null, o: { transA?: boolean; transB?: boolean; alpha?: number } = {}) {
    const attrs: Record<string, Attr> = {};
    if (o.transA) attrs.transA = int(1);
    if (o.transB) attrs.transB = int(1);
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = float(o.alpha);
    return this.op1('Gemm', c ? [a, b, c] : [a, b], attrs);
  }

  // Shape manipulation.
  reshape(a: Value, shape: readonly number[]) {
    if (shape.length === a.shape.length && shape.every((d, i) => d === a.shape[i])) return a;
    return this.op1('Reshape', [a, this.i64(shape)]);
  }
  transpose(a: Value, perm: readonly number[]) { return this.op1('Transpose', [a], { perm: ints(perm) }); }
  unsqueeze(a: Value, axes: readonly number[]) { return this.op1('Unsqueeze', [a, this.i64(axes)]); }
  expand(a: Value, shape: readonly number[]) {
    if (shape.length === a.shape.length && shape.every((d, i) => d === a.shape[i])) return a;
    return this.op1('Expand', [a, this.i64(shape)]);
  }
  slice(a: Value, axis: number, start: number, end: number) {
    return this.op1('Slice', [a, this.i64([start]), this.i64([end]), this.i64([axis])]);
  }
  split(a: Value, sizes: readonly number[], axis: number) { return this.op('Split', [a, this.i64(sizes)], { axis: int(axis) }); }
  concat(xs: readonly Value[], axis: number) { return xs.length === 1 ? xs[0] : this.op1('Concat', xs, { axis: int(axis) }); }
  pad(a: Value, pads: readonly number[]) { return this.op1('Pad', [a, this.i64(pads)]); }

  // Reductions.
  reduceSum(a: Value, axes: readonly number[] | null, keepdims = true) {
    return this.op1('ReduceSum', axes ? [a, this.i64(axes)] : [a], { keepdims: int(keepdims ? 1 : 0) });
  }
  reduceMean(a: Value, axes: readonly number[], keepdims = true) {
    return this.op1('ReduceMean', [a], { axes: ints(axes), keepdims: int(keepdims ? 1 : 0) });
  }
  reduceMax(a: Value, axes: readonly number[], keepdims = true) {
    return this.op1('ReduceMax', [a], { axes: ints(axes), keepdims: int(keepdims ? 1 : 0) });
  }
  softmax(a: Value, axis = -1) { return this.op1('Softmax', [a], { axis: int(axis) }); }
  where(c: Value, a: Value, b: Value) { return this.op1('Where', [c, a, b]); }
  equal(a: Value, b: Value) { return this.op1('Equal', [a, b]); }
  gather(data: Value, idx: Value, axis = 0) { return this.op1('Gather', [data, idx], { axis: int(axis) }); }
  layerNorm(x: Value, scale: Value, bias: Value, eps: number) {
    return this.op1('LayerNormalization', [x, scale, bias], { axis: int(-1), epsilon: float(eps) });
  }

  /** `a` as a constant for autodiff: no gradient flows back through it. */
  stopGradient(a: Value): Value {
    return this.op('Identity', [a], {}, { noGrad: true })[0];
  }

  /** Numerically stable log-softmax over the last axis, from ops every execution provider has. */
  logSoftmax(x: Value): Value {
    const axis = x.shape.length - 1;
    const m = this.stopGradient(this.reduceMax(x, [axis])); // (..., 1)
    const z = this.sub(x, m);
    const lse = this.log(this.reduceSum(this.exp(z), [axis])); // (..., 1)
    return this.sub(z, lse);
  }

  /** GELU, tanh form (GPT-2's "gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  geluTanh(x: Value): Value {
    const x3 = this.mul(this.mul(x, x), x);
    const inner = this.mulScalar(this.add(x, this.mulScalar(x3, 0.044715)), Math.sqrt(2 / Math.PI));
    return this.mul(this.mulScalar(x, 0.5), this.addScalar(this.tanh(inner), 1));
  }

  /** One-hot rows as float: (..., depth) with 1 where the last index equals `idx`. */
  oneHot(idx: Value, depth: number): Value {
    const range = this.constant('int32', [depth], Int32Array.from({ length: depth }, (_, i) => i));
    return this.cast(this.equal(this.unsqueeze(idx, [idx.shape.length]), range), 'float32');
  }
}

export const DTYPE_CODE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };
export const DTYPE_OF_CODE: Record<number, DType> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool' };

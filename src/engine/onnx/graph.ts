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
  /** The last node of a composite (Graph.composite): its gradient rule, with respect to the composite's inputs. */
  readonly custom?: CustomGrad;
}

/**
 * A hand-written gradient for a run of nodes: autodiff skips the nodes inside and calls `grad` with the gradient
 * of the composite's output, for the inputs that need one (`needs`, aligned with `inputs`).
 */
export interface CustomGrad {
  readonly inputs: readonly Value[];
  grad(dy: Value, needs: readonly boolean[]): (Value | null)[];
}

/** What the target execution provider can do, where gradient rules have a faster choice. */
export interface GraphOptions {
  /** ScatterND with reduction 'add' has a kernel (the CPU EP; not the WebGPU EP). */
  scatterAdd?: boolean;
  /**
   * Train with the trainable parameters packed in flat groups (artifacts/flat.ts): a few optimizer kernels per
   * step instead of thousands, for a Split copy of the weights. Worth it where each node is a GPU dispatch
   * (WebGPU); not on the CPU and WASM EPs, where a node costs microseconds and the copy's memory counts.
   */
  flatParams?: boolean;
  /** Largest flat group, in bytes (the device's buffer binding limit). */
  flatGroupBytes?: number;
  /**
   * Write attention, LayerNorm's backward and GELU's backward with Einsum: products and product-sums of several
   * tensors in one node, and attention over (B, T, H, D) heads with no Transpose. Fewer nodes where each is a GPU
   * dispatch (WebGPU); the CPU and WASM EPs keep MatMul and plain elementwise ops, their fastest kernels.
   */
  einsum?: boolean;
  /**
   * Tensors over the vocabulary in vocabulary-major layout: logits as (V, N) in the loss, the embedding's one-hot
   * gradient as onehot (V, N) times dY. Then every Gemm over the vocabulary has inputs whose last dimension is C or
   * N, not V = 50257, which onnxruntime's WebGPU Gemm needs (both inputs' last dimensions multiples of 4) for its
   * vec4 tiled kernel. With (N, V) logits, dh = g W took the scalar kernel: 8.7-10.2 s of a GPT-2 124M LoRA step
   * at 1 x 32 on SwiftShader. The CPU and WASM EPs keep (N, V) rows, where the softmax reduces along contiguous
   * memory.
   */
  vocabMajor?: boolean;
}

export class GraphError extends Error {
  readonly code = 'GRAPH_BUILD';
}

/**
 * Most outputs of one Split and inputs of one Concat: onnxruntime's WebGPU kernels bind every one as a storage
 * buffer in one shader, and WebGPU guarantees only 8 per shader stage (SwiftShader gives 12; a Split with 12
 * outputs fails there with "Too many storage buffers in shader").
 */
export const MAX_SPLIT_PARTS = 7;

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
  /** Run-time shapes (runtimeShape): their values at the sizes the graph is built with. */
  private readonly built = new Map<Value, BigInt64Array>();
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

  /** A constant initializer; equal small constants are shared. `name` names it in the file (a weight's name). */
  constant(dtype: DType, shape: readonly number[], data: ConstData, name?: string): Value {
    const key =
      data.length <= 16 && name === undefined
        ? `${dtype}|${shape.join(',')}|${Array.from(data as ArrayLike<number | bigint>).join(',')}`
        : null;
    if (key && this.constCache.has(key)) return this.constCache.get(key)!;
    const v = this.value(dtype, shape);
    if (data.length !== numel(shape))
      throw new GraphError(`constant has ${data.length} elements for shape ${shapeStr(shape)}`);
    this.constants.set(v, data);
    if (key) this.constCache.set(key, v);
    if (name !== undefined) this.names.set(v, name);
    return v;
  }

  /**
   * A shape (int64 (k,)) read when the graph runs: each part a size, or [v, axis] for v's size on that axis then.
   * Reshape and Expand take it where they take a constant; the builder checks shapes with its built value, the
   * sizes this graph is built with, so only dims declared symbolic (SerializeOptions.dims) may differ at run time.
   */
  runtimeShape(parts: readonly (number | readonly [Value, number])[]): Value {
    const pieces: Value[] = [];
    for (let i = 0; i < parts.length;) {
      const p = parts[i];
      if (typeof p === 'number') {
        let j = i; // a run of sizes: one constant
        while (typeof parts[j] === 'number') j++;
        pieces.push(this.i64(parts.slice(i, j) as number[]));
        i = j;
        continue;
      }
      const [v, axis] = p;
      const rank = v.shape.length;
      const whole =
        axis === 0 && parts.slice(i, i + rank).every((q, k) => typeof q !== 'number' && q[0] === v && q[1] === k);
      pieces.push(whole ? this.op1('Shape', [v]) : this.gather(this.op1('Shape', [v]), this.i64([axis])));
      i += whole ? rank : 1;
    }
    const out = pieces.length === 1 ? pieces[0] : this.concat(pieces, 0);
    this.built.set(
      out,
      BigInt64Array.from(parts, (p) => BigInt(typeof p === 'number' ? p : p[0].shape[p[1]])),
    );
    return out;
  }
  /** A run-time shape's value as built (runtimeShape). */
  builtValue(v: Value): BigInt64Array | undefined {
    return this.built.get(v);
  }
  scalar(x: number, dtype: 'float32' | 'int32' = 'float32'): Value {
    return this.constant(dtype, [], dtype === 'float32' ? Float32Array.of(x) : Int32Array.of(x));
  }
  i64(xs: readonly number[]): Value {
    return this.constant(
      'int64',
      [xs.length],
      BigInt64Array.from(xs, (x) => BigInt(x)),
    );
  }
  constData(v: Value): ConstData | undefined {
    return this.constants.get(v);
  }

  /** Adds a node; the op table's shape rule gives its outputs. */
  op(op: string, inputs: readonly (Value | null)[], attrs: Attrs = {}, opts: { noGrad?: boolean } = {}): Value[] {
    if (this.inComposite) opts = { noGrad: true };
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
  add(a: Value, b: Value) {
    return this.op1('Add', [a, b]);
  }
  sub(a: Value, b: Value) {
    return this.op1('Sub', [a, b]);
  }
  mul(a: Value, b: Value) {
    return this.op1('Mul', [a, b]);
  }
  div(a: Value, b: Value) {
    return this.op1('Div', [a, b]);
  }
  neg(a: Value) {
    return this.op1('Neg', [a]);
  }
  exp(a: Value) {
    return this.op1('Exp', [a]);
  }
  log(a: Value) {
    return this.op1('Log', [a]);
  }
  sqrt(a: Value) {
    return this.op1('Sqrt', [a]);
  }
  tanh(a: Value) {
    return this.op1('Tanh', [a]);
  }
  cast(a: Value, to: DType) {
    return this.op1('Cast', [a], { to: int(DTYPE_CODE[to]) });
  }
  addScalar(a: Value, x: number) {
    return this.add(a, this.scalar(x));
  }
  mulScalar(a: Value, x: number) {
    return this.mul(a, this.scalar(x));
  }

  // Linear algebra.
  matmul(a: Value, b: Value) {
    return this.op1('MatMul', [a, b]);
  }
  gemm(a: Value, b: Value, c: Value | null = null, o: { transA?: boolean; transB?: boolean; alpha?: number } = {}) {
    const attrs: Record<string, Attr> = {};
    if (o.transA) attrs.transA = int(1);
    if (o.transB) attrs.transB = int(1);
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = float(o.alpha);
    return this.op1('Gemm', c ? [a, b, c] : [a, b], attrs);
  }

  // Shape manipulation.
  /** To a constant shape (0 copies a size, -1 infers one), or a run-time one (runtimeShape). */
  reshape(a: Value, shape: readonly number[] | Value) {
    if (!Array.isArray(shape)) return this.op1('Reshape', [a, shape as Value]);
    shape = shape as readonly number[];
    if (shape.length === a.shape.length && shape.every((d, i) => d === a.shape[i])) return a;
    return this.op1('Reshape', [a, this.i64(shape)]);
  }
  transpose(a: Value, perm: readonly number[]) {
    return this.op1('Transpose', [a], { perm: ints(perm) });
  }
  unsqueeze(a: Value, axes: readonly number[]) {
    return this.op1('Unsqueeze', [a, this.i64(axes)]);
  }
  expand(a: Value, shape: readonly number[]) {
    if (shape.length === a.shape.length && shape.every((d, i) => d === a.shape[i])) return a;
    return this.op1('Expand', [a, this.i64(shape)]);
  }
  slice(a: Value, axis: number, start: number, end: number) {
    return this.op1('Slice', [a, this.i64([start]), this.i64([end]), this.i64([axis])]);
  }
  /** Split into `sizes`; more than MAX_SPLIT_PARTS parts become a chain of Splits, each cutting off the rest. */
  split(a: Value, sizes: readonly number[], axis: number): Value[] {
    if (sizes.length <= MAX_SPLIT_PARTS) return this.op('Split', [a, this.i64(sizes)], { axis: int(axis) });
    const head = sizes.slice(0, MAX_SPLIT_PARTS - 1);
    const parts = this.op('Split', [a, this.i64([...head, sizes.slice(head.length).reduce((x, y) => x + y, 0)])], {
      axis: int(axis),
    });
    return [...parts.slice(0, -1), ...this.split(parts[parts.length - 1], sizes.slice(head.length), axis)];
  }
  /** Concat; more than MAX_SPLIT_PARTS inputs become a chain of Concats. */
  concat(xs: readonly Value[], axis: number): Value {
    if (xs.length === 1) return xs[0];
    if (xs.length <= MAX_SPLIT_PARTS) return this.op1('Concat', xs, { axis: int(axis) });
    return this.concat(
      [this.op1('Concat', xs.slice(0, MAX_SPLIT_PARTS), { axis: int(axis) }), ...xs.slice(MAX_SPLIT_PARTS)],
      axis,
    );
  }
  pad(a: Value, pads: readonly number[]) {
    return this.op1('Pad', [a, this.i64(pads)]);
  }

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
  softmax(a: Value, axis = -1) {
    return this.op1('Softmax', [a], { axis: int(axis) });
  }
  where(c: Value, a: Value, b: Value) {
    return this.op1('Where', [c, a, b]);
  }
  equal(a: Value, b: Value) {
    return this.op1('Equal', [a, b]);
  }
  /** Einsum in explicit form (ops.ts); a number among the operands is a scalar constant with an empty term. */
  einsum(equation: string, ...xs: (Value | number)[]) {
    return this.op1(
      'Einsum',
      xs.map((x) => (typeof x === 'number' ? this.scalar(x) : x)),
      { equation: { kind: 'string', value: equation } },
    );
  }
  gather(data: Value, idx: Value, axis = 0) {
    return this.op1('Gather', [data, idx], { axis: int(axis) });
  }
  layerNorm(x: Value, scale: Value, bias: Value, eps: number) {
    return this.op1('LayerNormalization', [x, scale, bias], { axis: int(-1), epsilon: float(eps) });
  }

  private inComposite = false;

  /**
   * Nodes with a gradient written by hand: `body` builds the forward from `inputs` (autodiff does not look inside)
   * and `grad` gives d/d inputs from d/d output, reusing what the forward computed. Fewer nodes than
   * differentiating each elementwise op, where the derivative has a closed form.
   */
  composite(inputs: readonly Value[], body: () => Value, grad: CustomGrad['grad']): Value {
    if (this.inComposite) throw new GraphError('composites do not nest');
    this.inComposite = true;
    let out: Value;
    try {
      out = body();
    } finally {
      this.inComposite = false;
    }
    const last = this.producer.get(out);
    if (!last || last !== this.nodes[this.nodes.length - 1])
      throw new GraphError("a composite's output must be its last node's");
    const node: Node = { ...last, noGrad: false, custom: { inputs, grad } };
    this.nodes[this.nodes.length - 1] = node;
    for (const o of node.outputs) this.producer.set(o, node);
    return out;
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

  /**
   * GELU, tanh form (GPT-2's "gelu_new"): 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
   * x sigmoid(2u) (the same function: 0.5 (1 + tanh u) = sigmoid(2u)), with its derivative in closed form:
   * 6 forward nodes and 7 backward where differentiating each op took 9 and ~17.
   */
  geluTanh(x: Value): Value {
    const a = Math.sqrt(2 / Math.PI);
    const b = 0.044715;
    let x2!: Value;
    let s!: Value;
    const y: Value = this.composite(
      [x],
      () => {
        x2 = this.mul(x, x);
        s = this.op1('Sigmoid', [this.mul(x, this.addScalar(this.mulScalar(x2, 2 * a * b), 2 * a))]); // sigmoid(2u)
        return this.mul(x, s);
      },
      (dy) => {
        // d/dx x s(z) = s + x s (1 - s) z',  z = 2u,  z' = 2a + 6ab x^2,  and x s = y
        const dz = this.addScalar(this.mulScalar(x2, 6 * a * b), 2 * a);
        const oneMinusS = this.sub(this.scalar(1), s);
        if (this.options.einsum) {
          const t = 'abcdefgh'.slice(0, x.shape.length);
          return [this.add(this.mul(dy, s), this.einsum(`${t},${t},${t},${t}->${t}`, dy, y, oneMinusS, dz))]; // dy s + dy y (1 - s) z'
        }
        return [this.mul(dy, this.add(s, this.mul(this.mul(y, oneMinusS), dz)))];
      },
    );
    return y;
  }

  /**
   * Scaled dot-product attention, softmax(q k^T scale + mask) v, over (B, H, T, D) heads with an additive (T, T)
   * mask, with its backward written out: 6 forward nodes, 12 backward (dq, dk, dv where needed).
   */
  attention(q: Value, k: Value, v: Value, mask: Value, scale: number): Value {
    const r = q.shape.length;
    const swap = [...Array(r - 2).keys(), r - 1, r - 2];
    let qs!: Value;
    let p!: Value;
    return this.composite(
      [q, k, v],
      () => {
        qs = this.mulScalar(q, scale);
        p = this.softmax(this.add(this.matmul(qs, this.transpose(k, swap)), mask));
        return this.matmul(p, v);
      },
      (dy, needs) => {
        const dp = this.matmul(dy, this.transpose(v, swap)); // d softmax output
        const ds = this.mul(p, this.sub(dp, this.reduceSum(this.mul(dp, p), [r - 1]))); // d scores
        return [
          needs[0] ? this.mulScalar(this.matmul(ds, k), scale) : null,
          needs[1] ? this.matmul(this.transpose(ds, swap), qs) : null,
          needs[2] ? this.matmul(this.transpose(p, swap), dy) : null,
        ];
      },
    );
  }

  /**
   * The same attention over heads laid out (B, T, H, D), as the QKV projection's output reshapes to, with Einsum
   * (g.options.einsum): no Transpose in or out, and the scale folded into the products. 4 forward nodes, 10
   * backward; the (B, H, T, D) form above takes 6 and 12 plus 4 Transposes around it.
   */
  attentionBTHD(q: Value, k: Value, v: Value, mask: Value, scale: number): Value {
    let p!: Value;
    return this.composite(
      [q, k, v],
      () => {
        p = this.softmax(this.add(this.einsum('bthd,bshd,->bhts', q, k, scale), mask)); // (B, H, T, S)
        return this.einsum('bhts,bshd->bthd', p, v);
      },
      (dy, needs) => {
        const dp = this.einsum('bthd,bshd->bhts', dy, v); // d softmax output
        const ds = this.mul(p, this.sub(dp, this.reduceSum(this.mul(dp, p), [3]))); // d (scaled) scores
        return [
          needs[0] ? this.einsum('bhts,bshd,->bthd', ds, k, scale) : null,
          needs[1] ? this.einsum('bhts,bthd,->bshd', ds, q, scale) : null,
          needs[2] ? this.einsum('bhts,bthd->bshd', p, dy) : null,
        ];
      },
    );
  }

  /** One-hot as float: (..., depth) with 1 where the last index equals `idx`; with `depthFirst`, of indices (n,) as (depth, n). */
  oneHot(idx: Value, depth: number, depthFirst = false): Value {
    const range = this.constant(
      'int32',
      depthFirst ? [depth, 1] : [depth],
      Int32Array.from({ length: depth }, (_, i) => i),
    );
    return this.cast(this.equal(depthFirst ? idx : this.unsqueeze(idx, [idx.shape.length]), range), 'float32');
  }
}

export const DTYPE_CODE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };
export const DTYPE_OF_CODE: Record<number, DType> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool' };

// What the op table (ops.ts) is made of: the shape of an op's definition, and the helpers its shape and gradient
// rules share (attributes, constant inputs, broadcasting and its gradient, reductions, elementwise templates).
import type { Attrs, DType, Graph, Node, Value } from './graph.js';

export interface OutSpec {
  dtype: DType;
  shape: readonly number[];
}
export interface GradCtx {
  g: Graph;
  node: Node;
  x: readonly (Value | null)[];
  y: readonly Value[];
  /** Gradient of each output; null where nothing downstream needs it. */
  dy: readonly (Value | null)[];
  /** Which inputs need a gradient: a rule may skip the others (frozen weights in LoRA, say). */
  needs: readonly boolean[];
}
export interface OpDef {
  shape(inputs: readonly (Value | null)[], attrs: Attrs, g: Graph): OutSpec[];
  grad?(c: GradCtx): (Value | null)[];
  /** The operator set: onnxruntime's contrib ops are in 'com.microsoft' (version 1). Default: ONNX's. */
  domain?: string;
  /** Outputs after the first are optional: the serializer leaves those nothing reads unnamed (not computed). */
  optionalOutputs?: boolean;
}

export const DTYPES: Record<number, DType> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool' };

export function attrInt(a: Attrs, k: string, dflt: number): number {
  const v = a[k];
  if (!v) return dflt;
  if (v.kind !== 'int') throw new Error(`attribute ${k} must be an int`);
  return v.value;
}
export function attrFloat(a: Attrs, k: string, dflt: number): number {
  const v = a[k];
  if (!v) return dflt;
  if (v.kind !== 'float') throw new Error(`attribute ${k} must be a float`);
  return v.value;
}
export function attrInts(a: Attrs, k: string): readonly number[] | undefined {
  const v = a[k];
  if (!v) return undefined;
  if (v.kind !== 'ints') throw new Error(`attribute ${k} must be ints`);
  return v.value;
}
export function req(v: Value | null | undefined, what: string): Value {
  if (!v) throw new Error(`missing input ${what}`);
  return v;
}
/** The values of a constant int64 input (shapes, axes, sizes must be constants so shapes stay static). */
/** A constant's integers, or a run-time shape's as built (Graph.runtimeShape: the representative sizes). */
export function constInts(g: Graph, v: Value | null | undefined, what: string): number[] {
  const d = v && (g.constData(v) ?? g.builtValue(v));
  if (!d) throw new Error(`${what} must be a constant`);
  return Array.from(d as ArrayLike<number | bigint>, Number);
}
export const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Sums a broadcast gradient back down to `shape`. */
export function unbroadcast(g: Graph, d: Value, shape: readonly number[]): Value {
  if (d.shape.length === shape.length && d.shape.every((x, i) => x === shape[i])) return d;
  const lead = d.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < d.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && d.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length && axes.every((a) => a < lead)) return g.reduceSum(d, axes, false); // leading axes only: no Reshape after
  const summed = axes.length ? g.reduceSum(d, axes, true) : d;
  return g.reshape(summed, shape);
}

export const same = (x: Value): OutSpec[] => [{ dtype: x.dtype, shape: x.shape }];
export const unary = (grad: (c: GradCtx, x: Value, y: Value, dy: Value) => Value): OpDef => ({
  shape: (i) => same(req(i[0], 'X')),
  grad: (c) => [grad(c, c.x[0]!, c.y[0], c.dy[0]!)],
});
export const binary = (grad: (c: GradCtx, a: Value, b: Value, dy: Value) => [Value | null, Value | null]): OpDef => ({
  shape: ([a, b]) => {
    const A = req(a, 'A');
    const B = req(b, 'B');
    if (A.dtype !== B.dtype) throw new Error(`dtypes ${A.dtype} and ${B.dtype} differ`);
    return [{ dtype: A.dtype, shape: broadcastShapes(A.shape, B.shape) }];
  },
  grad: (c) => {
    const [a, b] = [c.x[0]!, c.x[1]!];
    const [da, db] = grad(c, a, b, c.dy[0]!);
    return [
      da && c.needs[0] ? unbroadcast(c.g, da, a.shape) : null,
      db && c.needs[1] ? unbroadcast(c.g, db, b.shape) : null,
    ];
  },
});
export const compare: OpDef = {
  shape: ([a, b]) => [{ dtype: 'bool', shape: broadcastShapes(req(a, 'A').shape, req(b, 'B').shape) }],
};
/** Reduced shape of `shape` over `axes`. */
export function reducedShape(shape: readonly number[], axes: readonly number[] | undefined, keep: boolean): number[] {
  const ax = new Set((axes ?? shape.map((_, i) => i)).map((a) => normAxis(a, shape.length)));
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!ax.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}
/** Gradient of a reduction: reshape to keepdims form, then broadcast back over the input. */
export function expandReduced(
  g: Graph,
  dy: Value,
  xShape: readonly number[],
  axes: readonly number[] | undefined,
): Value {
  const kept = reducedShape(xShape, axes, true);
  return g.expand(g.reshape(dy, kept), xShape);
}
export const transposeLast2 = (g: Graph, v: Value) => {
  const r = v.shape.length;
  return g.transpose(v, [...Array(r - 2).keys(), r - 1, r - 2]);
};

export function fail(msg: string): never {
  throw new Error(msg);
}

export function zerosLike(g: Graph, v: Value): Value {
  return g.expand(g.scalar(0), v.shape);
}

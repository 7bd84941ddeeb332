// The op table: for every ONNX op the engine emits, its shape rule and its gradient rule, side by side.
// Only ops with kernels in onnxruntime's WebGPU execution provider appear here (ScatterND only for the CPU EP; no
// LogSoftmax: log-softmax is composed from Exp/Log/ReduceSum). A gradient rule gets the incoming gradients of the
// node's outputs and returns one per input (null: none). The helpers the rules share are in op-helpers.ts.
import type { Graph, Value } from './graph.js';
import {
  attrFloat,
  attrInt,
  attrInts,
  binary,
  broadcastShapes,
  compare,
  constInts,
  DTYPES,
  expandReduced,
  fail,
  normAxis,
  reducedShape,
  req,
  same,
  transposeLast2,
  unary,
  unbroadcast,
  zerosLike,
  type OpDef,
} from './op-helpers.js';
import { RUNTIME_OPS } from './ops-runtime.js';

// ---------------------------------------------------------------------------------------------- the table
export const OPS: Record<string, OpDef> = {
  // ---- elementwise binary (gradients are summed back over broadcast axes by `binary`)
  Add: binary((_c, _a, _b, dy) => [dy, dy]),
  Sub: binary(({ g }, _a, _b, dy) => [dy, g.neg(dy)]),
  Mul: binary(({ g, needs }, a, b, dy) => [needs[0] ? g.mul(dy, b) : null, needs[1] ? g.mul(dy, a) : null]),
  Div: binary(({ g, y, needs }, _a, b, dy) => {
    const da = g.div(dy, b); // d(a/b)/da = 1/b
    return [da, needs[1] ? g.neg(g.mul(da, y[0])) : null]; // d(a/b)/db = -(a/b)/b
  }),
  Pow: {
    shape: ([a, b]) => [{ dtype: req(a, 'X').dtype, shape: broadcastShapes(a!.shape, req(b, 'Y').shape) }],
    grad: ({ g, x, dy, needs }) => {
      if (needs[1]) throw new Error('Pow: no gradient rule for the exponent');
      const [a, b] = [x[0]!, x[1]!];
      const d = g.mul(dy[0]!, g.mul(b, g.op1('Pow', [a, g.sub(b, g.scalar(1))])));
      return [unbroadcast(g, d, a.shape), null];
    },
  },
  Equal: compare,
  Less: compare,
  LessOrEqual: compare,
  Greater: compare,
  Where: {
    shape: ([c, a, b]) => {
      const s = broadcastShapes(broadcastShapes(req(c, 'C').shape, req(a, 'X').shape), req(b, 'Y').shape);
      return [{ dtype: a!.dtype, shape: s }];
    },
    grad: ({ g, x, dy, needs }) => {
      const zero = g.scalar(0);
      const d = dy[0]!;
      return [
        null,
        needs[1] ? unbroadcast(g, g.where(x[0]!, d, zero), x[1]!.shape) : null,
        needs[2] ? unbroadcast(g, g.where(x[0]!, zero, d), x[2]!.shape) : null,
      ];
    },
  },

  // ---- elementwise unary
  Identity: unary((_c, _x, _y, dy) => dy),
  Neg: unary(({ g }, _x, _y, dy) => g.neg(dy)),
  Exp: unary(({ g }, _x, y, dy) => g.mul(dy, y)),
  Log: unary(({ g }, x, _y, dy) => g.div(dy, x)),
  Sqrt: unary(({ g }, _x, y, dy) => g.div(g.mulScalar(dy, 0.5), y)),
  Reciprocal: unary(({ g }, _x, y, dy) => g.neg(g.mul(dy, g.mul(y, y)))),
  Tanh: unary(({ g }, _x, y, dy) => g.mul(dy, g.sub(g.scalar(1), g.mul(y, y)))),
  Sigmoid: unary(({ g }, _x, y, dy) => g.mul(dy, g.mul(y, g.sub(g.scalar(1), y)))),
  Cast: {
    shape: ([x], a) => [
      {
        dtype: DTYPES[attrInt(a, 'to', 1)] ?? fail(`Cast to unsupported type ${attrInt(a, 'to', 1)}`),
        shape: req(x, 'X').shape,
      },
    ],
    grad: ({ x, y, dy }) => {
      if (x[0]!.dtype !== 'float32' || y[0].dtype !== 'float32') return [null];
      return [dy[0]];
    },
  },
  ScatterND: {
    // ScatterND(data, indices (.., k) int64, updates); used only as a gradient (of Gather), never differentiated.
    shape: ([d, i, u]) => {
      const D = req(d, 'data');
      if (req(i, 'indices').dtype !== 'int64') throw new Error('indices must be int64');
      req(u, 'updates');
      return same(D);
    },
  },
  Clip: {
    // Clip(x, min, max); used on scalars in the optimizer only, which is never differentiated.
    shape: ([x]) => same(req(x, 'X')),
  },

  // ---- linear algebra
  MatMul: {
    shape: ([a, b]) => {
      const A = req(a, 'A').shape;
      const B = req(b, 'B').shape;
      if (A.length < 2 || B.length < 2) throw new Error('MatMul needs rank >= 2 operands');
      if (A[A.length - 1] !== B[B.length - 2])
        throw new Error(`inner dimensions ${A[A.length - 1]} and ${B[B.length - 2]} differ`);
      const batch = broadcastShapes(A.slice(0, -2), B.slice(0, -2));
      return [{ dtype: a!.dtype, shape: [...batch, A[A.length - 2], B[B.length - 1]] }];
    },
    grad: ({ g, x, dy, needs }) => {
      const [a, b] = [x[0]!, x[1]!];
      const d = dy[0]!;
      // Y = A @ B:  dA = dY @ B^T,  dB = A^T @ dY  (batch axes summed back where they were broadcast)
      const da = needs[0] ? unbroadcast(g, g.matmul(d, transposeLast2(g, b)), a.shape) : null;
      const db = needs[1] ? unbroadcast(g, g.matmul(transposeLast2(g, a), d), b.shape) : null;
      return [da, db];
    },
  },
  Gemm: {
    // Y = alpha * op(A) @ op(B) + beta * C, A and B 2-D; op() transposes when transA / transB.
    shape: ([a, b, c], at) => {
      const A = req(a, 'A').shape;
      const B = req(b, 'B').shape;
      if (A.length !== 2 || B.length !== 2) throw new Error('Gemm needs 2-D operands');
      const [m, k] = attrInt(at, 'transA', 0) ? [A[1], A[0]] : [A[0], A[1]];
      const [k2, n] = attrInt(at, 'transB', 0) ? [B[1], B[0]] : [B[0], B[1]];
      if (k !== k2) throw new Error(`inner dimensions ${k} and ${k2} differ`);
      if (c) broadcastShapes(c.shape, [m, n]);
      return [{ dtype: a!.dtype, shape: [m, n] }];
    },
    grad: ({ g, node, x, dy, needs }) => {
      const [a, b, c] = x;
      const tA = attrInt(node.attrs, 'transA', 0) === 1;
      const tB = attrInt(node.attrs, 'transB', 0) === 1;
      const alpha = attrFloat(node.attrs, 'alpha', 1);
      const beta = attrFloat(node.attrs, 'beta', 1);
      const d = dy[0]!;
      // d op(A) = dY @ op(B)^T ;  d op(B) = op(A)^T @ dY ; each written as one Gemm with transpose flags.
      const da = !needs[0]
        ? null
        : !tA
          ? g.gemm(d, b!, null, { transB: !tB, alpha })
          : g.gemm(b!, d, null, { transA: tB, transB: true, alpha });
      const db = !needs[1]
        ? null
        : !tB
          ? g.gemm(a!, d, null, { transA: !tA, alpha })
          : g.gemm(d, a!, null, { transA: true, transB: tA, alpha });
      const dc = c && needs[2] ? unbroadcast(g, beta === 1 ? d : g.mulScalar(d, beta), c.shape) : null;
      return [da, db, dc];
    },
  },

  // ---- shape manipulation
  Reshape: {
    shape: ([x, s], _a, g) => {
      const X = req(x, 'data');
      // 0 copies the input's size at that index (ONNX's default, allowzero 0), -1 is inferred
      const target = constInts(g, s, 'Reshape shape').map((d, i) => (d === 0 ? X.shape[i] : d));
      const total = X.shape.reduce((p, q) => p * q, 1);
      const known = target.reduce((p, q) => (q === -1 ? p : p * q), 1);
      const out = target.map((d) => (d === -1 ? total / known : d));
      if (out.reduce((p, q) => p * q, 1) !== total) throw new Error(`cannot reshape [${X.shape}] to [${target}]`);
      return [{ dtype: X.dtype, shape: out }];
    },
    grad: ({ g, x, dy }) => [g.reshape(dy[0]!, x[0]!.shape), null],
  },
  Unsqueeze: {
    shape: ([x, ax], _a, g) => {
      const X = req(x, 'data');
      const axes = constInts(g, ax, 'Unsqueeze axes')
        .map((a) => normAxis(a, X.shape.length + 1))
        .sort((p, q) => p - q);
      const out = [...X.shape];
      for (const a of axes) out.splice(a, 0, 1);
      return [{ dtype: X.dtype, shape: out }];
    },
    grad: ({ g, x, dy }) => [g.reshape(dy[0]!, x[0]!.shape), null],
  },
  Transpose: {
    shape: ([x], a) => {
      const X = req(x, 'data');
      const perm = attrInts(a, 'perm') ?? [...X.shape.keys()].reverse();
      if (perm.length !== X.shape.length) throw new Error(`perm [${perm}] does not fit rank ${X.shape.length}`);
      return [{ dtype: X.dtype, shape: perm.map((p) => X.shape[p]) }];
    },
    grad: ({ g, node, dy }) => {
      const perm = attrInts(node.attrs, 'perm')!;
      const inv = perm.map((_, i) => perm.indexOf(i));
      return [g.transpose(dy[0]!, inv)];
    },
  },
  Expand: {
    shape: ([x, s], _a, g) => {
      const X = req(x, 'input');
      return [{ dtype: X.dtype, shape: broadcastShapes(X.shape, constInts(g, s, 'Expand shape')) }];
    },
    grad: ({ g, x, dy }) => [unbroadcast(g, dy[0]!, x[0]!.shape), null],
  },
  Slice: {
    // Slice(data, starts, ends, axes): constant, step 1.
    shape: ([x, st, en, ax], _a, g) => {
      const X = req(x, 'data');
      const starts = constInts(g, st, 'Slice starts');
      const ends = constInts(g, en, 'Slice ends');
      const axes = ax ? constInts(g, ax, 'Slice axes') : starts.map((_, i) => i);
      const out = [...X.shape];
      axes.forEach((a, i) => {
        const axis = normAxis(a, X.shape.length);
        const dim = X.shape[axis];
        const s = Math.min(Math.max(starts[i] < 0 ? starts[i] + dim : starts[i], 0), dim);
        const e = Math.min(Math.max(ends[i] < 0 ? ends[i] + dim : ends[i], 0), dim);
        out[axis] = Math.max(e - s, 0);
      });
      return [{ dtype: X.dtype, shape: out }];
    },
    grad: ({ g, x, dy }) => {
      // The gradient is the incoming one zero-padded back to the input's extent.
      const X = x[0]!;
      const starts = constInts(g, x[1], 'Slice starts');
      const axes = x[3] ? constInts(g, x[3], 'Slice axes') : starts.map((_, i) => i);
      const pads = new Array(2 * X.shape.length).fill(0);
      axes.forEach((a, i) => {
        const axis = normAxis(a, X.shape.length);
        const s = starts[i] < 0 ? starts[i] + X.shape[axis] : starts[i];
        pads[axis] = s;
        pads[axis + X.shape.length] = X.shape[axis] - s - dy[0]!.shape[axis];
      });
      return [g.pad(dy[0]!, pads), null, null, null];
    },
  },
  Pad: {
    shape: ([x, p], _a, g) => {
      const X = req(x, 'data');
      const pads = constInts(g, p, 'Pad pads');
      const r = X.shape.length;
      return [{ dtype: X.dtype, shape: X.shape.map((d, i) => d + pads[i] + pads[i + r]) }];
    },
    grad: ({ g, x, dy }) => {
      const X = x[0]!;
      const pads = constInts(g, x[1], 'Pad pads');
      const r = X.shape.length;
      let d = dy[0]!;
      for (let i = 0; i < r; i++) if (pads[i] || pads[i + r]) d = g.slice(d, i, pads[i], pads[i] + X.shape[i]);
      return [d, null];
    },
  },
  Split: {
    shape: ([x, s], a, g) => {
      const X = req(x, 'input');
      const axis = normAxis(attrInt(a, 'axis', 0), X.shape.length);
      const sizes = constInts(g, s, 'Split sizes');
      if (sizes.reduce((p, q) => p + q, 0) !== X.shape[axis])
        throw new Error(`split sizes [${sizes}] do not sum to ${X.shape[axis]}`);
      return sizes.map((n) => ({ dtype: X.dtype, shape: X.shape.map((d, i) => (i === axis ? n : d)) }));
    },
    grad: ({ g, y, dy, node, x }) => {
      const axis = normAxis(attrInt(node.attrs, 'axis', 0), x[0]!.shape.length);
      const parts = y.map((o, i) => dy[i] ?? zerosLike(g, o));
      return [g.concat(parts, axis), null];
    },
  },
  Concat: {
    shape: (xs, a) => {
      const X = xs.map((v, i) => req(v, `input ${i}`));
      const axis = normAxis(attrInt(a, 'axis', 0), X[0].shape.length);
      const out = [...X[0].shape];
      out[axis] = X.reduce((n, v) => n + v.shape[axis], 0);
      return [{ dtype: X[0].dtype, shape: out }];
    },
    grad: ({ g, x, dy, node, needs }) => {
      const axis = normAxis(attrInt(node.attrs, 'axis', 0), x[0]!.shape.length);
      const parts = g.split(
        dy[0]!,
        x.map((v) => v!.shape[axis]),
        axis,
      );
      return parts.map((p, i) => (needs[i] ? p : null));
    },
  },

  // ---- reductions
  ReduceSum: {
    shape: ([x, ax], a, g) => {
      const X = req(x, 'data');
      return [
        {
          dtype: X.dtype,
          shape: reducedShape(
            X.shape,
            ax ? constInts(g, ax, 'ReduceSum axes') : undefined,
            attrInt(a, 'keepdims', 1) === 1,
          ),
        },
      ];
    },
    grad: ({ g, x, dy }) => [
      expandReduced(g, dy[0]!, x[0]!.shape, x[1] ? constInts(g, x[1], 'axes') : undefined),
      null,
    ],
  },
  ReduceMean: {
    shape: ([x], a) => {
      const X = req(x, 'data');
      return [{ dtype: X.dtype, shape: reducedShape(X.shape, attrInts(a, 'axes'), attrInt(a, 'keepdims', 1) === 1) }];
    },
    grad: ({ g, x, y, dy, node }) => {
      const count = x[0]!.shape.reduce((p, q) => p * q, 1) / y[0].shape.reduce((p, q) => p * q, 1);
      return [expandReduced(g, g.mulScalar(dy[0]!, 1 / count), x[0]!.shape, attrInts(node.attrs, 'axes'))];
    },
  },
  ReduceMax: {
    // No gradient rule: used under stopGradient (the shift inside log-softmax) only.
    shape: ([x], a) => {
      const X = req(x, 'data');
      return [{ dtype: X.dtype, shape: reducedShape(X.shape, attrInts(a, 'axes'), attrInt(a, 'keepdims', 1) === 1) }];
    },
  },

  // ---- neural-network ops
  Softmax: {
    shape: ([x]) => same(req(x, 'input')),
    grad: ({ g, y, dy, node }) => {
      // dx = y * (dy - sum(dy * y, axis))
      const axis = normAxis(attrInt(node.attrs, 'axis', -1), y[0].shape.length);
      const s = g.reduceSum(g.mul(dy[0]!, y[0]), [axis]);
      return [g.mul(y[0], g.sub(dy[0]!, s))];
    },
  },
  LayerNormalization: {
    optionalOutputs: true,
    // Over the last axis only. Always with its optional outputs Mean and InvStdDev, (..., 1) each, which the
    // backward uses (every EP the engine runs on has them: CPU, WASM, WebGPU).
    shape: ([x, s, b], a) => {
      const X = req(x, 'X');
      if (normAxis(attrInt(a, 'axis', -1), X.shape.length) !== X.shape.length - 1)
        throw new Error('only axis -1 is supported');
      const C = X.shape[X.shape.length - 1];
      for (const p of [req(s, 'Scale'), b])
        if (p && (p.shape.length !== 1 || p.shape[0] !== C)) throw new Error(`scale and bias must be [${C}]`);
      const stat = { dtype: X.dtype, shape: [...X.shape.slice(0, -1), 1] };
      return [...same(X), stat, stat];
    },
    grad: ({ g, x, y, dy, needs }) => {
      const [X, scale] = [x[0]!, x[1]!];
      const r = X.shape.length;
      const lastAxis = [r - 1];
      const rows = [...Array(r - 1).keys()];
      const rstd = y[2]; // (..., 1)
      const d = dy[0]!;
      const xc = g.sub(X, y[1]);
      const dbias = x[2] && needs[2] ? g.reduceSum(d, rows, false) : null;
      if (g.options.einsum) return [...layerNormGradEinsum(g, scale, rstd, xc, d, needs[0], needs[1]), dbias];
      const xhat = g.mul(xc, rstd);
      const dscale = needs[1] ? g.reduceSum(g.mul(d, xhat), rows, false) : null;
      let dx: Value | null = null;
      if (needs[0]) {
        // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
        const dxhat = g.mul(d, scale);
        const m1 = g.reduceMean(dxhat, lastAxis);
        const m2 = g.reduceMean(g.mul(dxhat, xhat), lastAxis);
        dx = g.mul(rstd, g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)));
      }
      return [dx, dscale, dbias];
    },
  },
  Gather: {
    shape: ([d, i], a) => {
      const D = req(d, 'data');
      const I = req(i, 'indices');
      if (I.dtype !== 'int32' && I.dtype !== 'int64') throw new Error('indices must be int32 or int64');
      const axis = normAxis(attrInt(a, 'axis', 0), D.shape.length);
      return [{ dtype: D.dtype, shape: [...D.shape.slice(0, axis), ...I.shape, ...D.shape.slice(axis + 1)] }];
    },
    grad: ({ g, x, dy, node }) => {
      // Embedding lookup (axis 0, 2-D table): dTable[idx[i]] += dY[i]. Where ScatterND can add (CPU EP) that is
      // one scatter into zeros; the WebGPU EP has no ScatterND, so there it is onehot(idx)^T @ dY, one Gemm:
      // (N, V)^T @ (N, C) -> (V, C), which costs 2 N V C flops (39.5 GFLOP a step for GPT-2 at batch 4 x 128).
      const [table, idx] = [x[0]!, x[1]!];
      if (attrInt(node.attrs, 'axis', 0) !== 0 || table.shape.length !== 2)
        throw new Error('Gather: gradient only for 2-D tables on axis 0');
      const n = idx.shape.reduce((p, q) => p * q, 1);
      const [V, C] = table.shape;
      const d = g.reshape(dy[0]!, [n, C]); // (N, C)
      if (g.options.scatterAdd) {
        const at = g.cast(g.reshape(idx, [n, 1]), 'int64'); // (N, 1): ScatterND takes int64 indices
        return [
          g.op1('ScatterND', [g.expand(g.scalar(0), [V, C]), at, d], { reduction: { kind: 'string', value: 'add' } }),
          null,
        ];
      }
      if (g.options.vocabMajor) return [g.gemm(g.oneHot(g.reshape(idx, [n]), V, true), d), null]; // (V, N) @ (N, C): graph.ts says why
      return [g.gemm(g.oneHot(g.reshape(idx, [n]), V), d, null, { transA: true }), null]; // (N, V)^T @ (N, C)
    },
  },

  // ---- forward only (composites and gradient rules build them; generation)
  Einsum: {
    // Explicit form only ("bthd,bshd,->bhts"): one letter per axis, an empty term for a scalar operand. A product
    // of the operands summed over the letters the output lacks: onnxruntime's WebGPU EP runs it as one loop per
    // output element, which saves the Transposes around a MatMul and the Mul and ReduceSum nodes of a product
    // reduction. Built by gradient rules and composites only (no rule of its own).
    shape: (xs, a) => {
      const v = a.equation;
      if (!v || v.kind !== 'string') throw new Error('Einsum needs an equation');
      const [lhs, rhs] = v.value.split('->');
      if (rhs === undefined || !/^[a-z]*$/.test(rhs))
        throw new Error(`Einsum equation "${v.value}" must be explicit (..->..) with lowercase letters`);
      const terms = lhs.split(',');
      if (terms.length !== xs.length)
        throw new Error(`Einsum equation "${v.value}" has ${terms.length} terms for ${xs.length} inputs`);
      const dims = new Map<string, number>();
      terms.forEach((t, i) => {
        const X = req(xs[i], `input ${i}`);
        if (t.length !== X.shape.length)
          throw new Error(`Einsum term "${t}" does not fit input ${i} of shape [${X.shape}]`);
        [...t].forEach((ch, j) => {
          const d = dims.get(ch);
          if (d !== undefined && d !== X.shape[j]) throw new Error(`Einsum letter ${ch} is ${d} and ${X.shape[j]}`);
          dims.set(ch, X.shape[j]);
        });
      });
      return [
        {
          dtype: xs[0]!.dtype,
          shape: [...rhs].map((ch) => dims.get(ch) ?? fail(`Einsum output letter ${ch} is in no input`)),
        },
      ];
    },
  },

  ...RUNTIME_OPS,

  // onnxruntime contrib ops (forward-only graphs: generation; kernels on the CPU, WASM and WebGPU EPs)
  FastGelu: {
    // GELU, tanh form, in one kernel: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (+ an optional bias first)
    domain: 'com.microsoft',
    shape: ([x, b]) => {
      const X = req(x, 'X');
      if (b && (b.shape.length !== 1 || b.shape[0] !== X.shape[X.shape.length - 1]))
        throw new Error(`bias must be [${X.shape[X.shape.length - 1]}]`);
      return same(X);
    },
  },
  SkipLayerNormalization: {
    // LayerNorm(input + skip [+ bias]) over the last axis; output 3 is the sum itself (the residual stream).
    domain: 'com.microsoft',
    optionalOutputs: true,
    shape: ([x, skip, gamma, beta, bias]) => {
      const X = req(x, 'input');
      if (req(skip, 'skip').shape.join() !== X.shape.join()) throw new Error('input and skip must have one shape');
      const C = X.shape[X.shape.length - 1];
      for (const p of [req(gamma, 'gamma'), beta, bias])
        if (p && (p.shape.length !== 1 || p.shape[0] !== C)) throw new Error(`gamma, beta and bias must be [${C}]`);
      const stat = { dtype: X.dtype, shape: [...X.shape.slice(0, -1), 1] };
      return [...same(X), stat, stat, ...same(X)];
    },
  },
};

/**
 * LayerNorm's backward in Einsum products (g.options.einsum): with xc = x - mean and r = rstd (..., 1),
 * dx = r dxhat - r mean(dxhat) - r^2 xc mean(dxhat xc r), dxhat = dy gamma: 7 nodes where the elementwise form
 * takes 10. The (..., 1) statistics carry a letter of size 1 that the products sum over, which keeps them
 * broadcastable without a Reshape.
 */
function layerNormGradEinsum(
  g: Graph,
  scale: Value,
  rstd: Value,
  xc: Value,
  d: Value,
  needsX: boolean,
  needsScale: boolean,
): [Value | null, Value | null] {
  const rows = 'abcdefgh'.slice(0, xc.shape.length - 1);
  const [x, st] = [`${rows}z`, `${rows}y`]; // a (..., C) term and a (..., 1) one
  const C = xc.shape[xc.shape.length - 1];
  let dx: Value | null = null;
  if (needsX) {
    const a = g.einsum(`${x},z,${st}->${x}`, d, scale, rstd); // r dxhat
    const b = g.einsum(`${x},z,${st},->${st}`, d, scale, rstd, 1 / C); // r mean(dxhat)
    const m2 = g.einsum(`${x},z,${x},${st},->${st}`, d, scale, xc, rstd, 1 / C); // mean(dxhat xhat)
    const t = g.einsum(`${x},${st},${st},${st}->${x}`, xc, rstd, rstd, m2); // r xhat mean(dxhat xhat)
    dx = g.sub(g.sub(a, b), t);
  }
  const dscale = needsScale ? g.einsum(`${x},${x},${st}->z`, d, xc, rstd) : null; // sum over rows of dy xhat
  return [dx, dscale];
}

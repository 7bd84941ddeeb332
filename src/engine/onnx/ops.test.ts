// One line per op: the op table's gradient rule against central finite differences (onnxruntime CPU EP).
import { beforeAll, describe, expect, it } from 'vitest';
import { float, int, type Graph, type Value } from './graph.js';
import { gradients, NoGradientRuleError } from '../autodiff/grad.js';
import { Graph as G } from './graph.js';
import { createNodeBackend } from '../runtime/node.js';
import type { Backend } from '../runtime/backend.js';
import { gradCheck, type CheckInput } from '../testing/gradcheck.js';

let cpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu', { threads: 1 });
});

const f = (...shape: number[]): CheckInput => ({ shape });
const pos = (...shape: number[]): CheckInput => ({
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.5 + ((i * 37) % 11) / 10),
});
const ids = (shape: number[], data: number[]): CheckInput => ({ shape, dtype: 'int32', data: Int32Array.from(data) });
const fixed = (shape: number[], data: number[]): CheckInput => ({ shape, data: Float32Array.from(data), check: false });

type Case = [string, (g: Graph, x: Value[]) => Value, CheckInput[]];
const cases: Case[] = [
  ['Add (broadcast)', (g, [a, b]) => g.add(a, b), [f(3, 4), f(4)]],
  ['Sub (broadcast both ways)', (g, [a, b]) => g.sub(a, b), [f(3, 1), f(1, 4)]],
  ['Mul (broadcast)', (g, [a, b]) => g.mul(a, b), [f(2, 3, 4), f(3, 1)]],
  ['Div', (g, [a, b]) => g.div(a, b), [f(3, 4), pos(3, 4)]],
  ['Pow (constant exponent)', (g, [a]) => g.op1('Pow', [a, g.scalar(3)]), [pos(2, 3)]],
  ['Neg', (g, [a]) => g.neg(a), [f(5)]],
  ['Exp', (g, [a]) => g.exp(a), [f(2, 3)]],
  ['Log', (g, [a]) => g.log(a), [pos(2, 3)]],
  ['Sqrt', (g, [a]) => g.sqrt(a), [pos(2, 3)]],
  ['Reciprocal', (g, [a]) => g.op1('Reciprocal', [a]), [pos(2, 3)]],
  ['Tanh', (g, [a]) => g.tanh(a), [f(2, 3)]],
  ['Sigmoid', (g, [a]) => g.op1('Sigmoid', [a]), [f(2, 3)]],
  ['Identity', (g, [a]) => g.op1('Identity', [a]), [f(4)]],
  ['Cast float->float', (g, [a]) => g.cast(a, 'float32'), [f(4)]],
  ['MatMul (batched, broadcast batch)', (g, [a, b]) => g.matmul(a, b), [f(2, 3, 4), f(4, 5)]],
  ['MatMul (4-D)', (g, [a, b]) => g.matmul(a, b), [f(2, 2, 3, 4), f(2, 2, 4, 3)]],
  ['Gemm', (g, [a, b, c]) => g.gemm(a, b, c), [f(3, 4), f(4, 5), f(5)]],
  ['Gemm transA', (g, [a, b]) => g.gemm(a, b, null, { transA: true }), [f(4, 3), f(4, 5)]],
  ['Gemm transB alpha', (g, [a, b]) => g.gemm(a, b, null, { transB: true, alpha: 0.5 }), [f(3, 4), f(5, 4)]],
  [
    'Gemm transA transB, C (M, N)',
    (g, [a, b, c]) => g.gemm(a, b, c, { transA: true, transB: true }),
    [f(4, 3), f(5, 4), f(3, 5)],
  ],
  ['Gemm beta', (g, [a, b, c]) => g.op1('Gemm', [a, b, c], { beta: float(2) }), [f(3, 4), f(4, 5), f(1, 5)]],
  ['Reshape', (g, [a]) => g.reshape(a, [3, 2, 2]), [f(2, 6)]],
  ['Unsqueeze', (g, [a]) => g.unsqueeze(a, [0, 2]), [f(2, 3)]],
  ['Transpose', (g, [a]) => g.transpose(a, [1, 2, 0]), [f(2, 3, 4)]],
  ['Expand', (g, [a]) => g.expand(a, [2, 3, 4]), [f(3, 1)]],
  ['Slice', (g, [a]) => g.slice(a, 1, 1, 3), [f(2, 5)]],
  ['Pad', (g, [a]) => g.pad(a, [0, 1, 2, 0]), [f(2, 3)]],
  ['Split (one output unused)', (g, [a]) => g.split(a, [2, 1, 3], 1)[2], [f(2, 6)]],
  ['Concat', (g, [a, b]) => g.concat([a, b], 1), [f(2, 3), f(2, 2)]],
  ['ReduceSum (axes, keepdims=0)', (g, [a]) => g.reduceSum(a, [0, 2], false), [f(2, 3, 4)]],
  ['ReduceSum (all)', (g, [a]) => g.reduceSum(a, null, false), [f(2, 3)]],
  ['ReduceMean', (g, [a]) => g.reduceMean(a, [1]), [f(2, 3, 4)]],
  ['Softmax', (g, [a]) => g.softmax(a, -1), [f(3, 5)]],
  ['Softmax (axis 1 of 3)', (g, [a]) => g.softmax(a, 1), [f(2, 3, 2)]],
  ['LayerNormalization', (g, [x, s, b]) => g.layerNorm(x, s, b, 1e-5), [f(3, 6), f(6), f(6)]],
  ['Gather (embedding)', (g, [t, i]) => g.gather(t, i), [f(7, 3), ids([2, 3], [1, 4, 4, 0, 6, 1])]],
  [
    'Where',
    (g, [a, b, c]) => g.where(g.op1('Greater', [c, g.scalar(0)]), a, b),
    [f(3, 4), f(4), fixed([3, 1], [1, -1, 2])],
  ],
  ['log-softmax (ReduceMax under stopGradient)', (g, [a]) => g.logSoftmax(a), [f(3, 7)]],
  ['GELU (tanh form)', (g, [a]) => g.geluTanh(a), [f(2, 5)]],
];

describe('gradient rules match central finite differences', () => {
  it.each(cases)('%s', async (_name, build, inputs) => {
    const results = await gradCheck(cpu, build, inputs);
    expect(results.length).toBeGreaterThan(0);
    for (const r of results)
      expect(r.maxAbsErr, `input ${r.input}: abs ${r.maxAbsErr}, rel ${r.maxRelErr}`).toBeLessThan(3e-3);
  });
});

// The WebGPU target's forms (g.options.einsum): the same functions, their backward written with Einsum.
const causal = (g: Graph, T: number) =>
  g.constant(
    'float32',
    [T, T],
    Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)),
  );
const einsumCases: Case[] = [
  ['LayerNormalization, 2-D', (g, [x, s, b]) => g.layerNorm(x, s, b, 1e-5), [f(3, 6), f(6), f(6)]],
  ['LayerNormalization, 3-D', (g, [x, s, b]) => g.layerNorm(x, s, b, 1e-5), [f(2, 3, 5), f(5), f(5)]],
  ['GELU (tanh form)', (g, [a]) => g.geluTanh(a), [f(2, 5)]],
  [
    'attention over (B, T, H, D) heads, causal',
    (g, [q, k, v]) => g.attentionBTHD(q, k, v, causal(g, 3), 0.5),
    [f(2, 3, 2, 4), f(2, 3, 2, 4), f(2, 3, 2, 4)],
  ],
];

describe('gradient rules in Einsum form (the WebGPU target) match central finite differences', () => {
  it.each(einsumCases)('%s', async (_name, build, inputs) => {
    const results = await gradCheck(cpu, build, inputs, { graph: { einsum: true } });
    expect(results.length).toBe(inputs.length);
    for (const r of results)
      expect(r.maxAbsErr, `input ${r.input}: abs ${r.maxAbsErr}, rel ${r.maxRelErr}`).toBeLessThan(3e-3);
  });
  it('attention over (B, T, H, D) equals the (B, H, T, D) form', async () => {
    const build = (g: Graph) => {
      const [q, k, v] = [0, 1, 2].map((i) => g.input(`x${i}`, 'float32', [2, 4, 3, 2]));
      const heads = (x: Value) => g.transpose(x, [0, 2, 1, 3]);
      g.output(g.attentionBTHD(q, k, v, causal(g, 4), 0.7), 'a');
      g.output(heads(g.attention(heads(q), heads(k), heads(v), causal(g, 4), 0.7)), 'b');
    };
    const g = new G('t', { einsum: true });
    build(g);
    const { serializeModel } = await import('./proto.js');
    const s = await cpu.createSession({
      name: 't',
      bytes: serializeModel(g),
      inputs: ['x0', 'x1', 'x2'],
      outputs: ['a', 'b'],
    });
    const T = cpu.ort.Tensor;
    const data = (seed: number) => Float32Array.from({ length: 48 }, (_, i) => Math.sin(seed * 13 + i * 0.7));
    const out = await s.run({
      x0: new T('float32', data(1), [2, 4, 3, 2]),
      x1: new T('float32', data(2), [2, 4, 3, 2]),
      x2: new T('float32', data(3), [2, 4, 3, 2]),
    });
    const [a, b] = [out.a.data as Float32Array, out.b.data as Float32Array];
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-6);
  });
});

describe('the reverse pass', () => {
  it('Gather (embedding) through ScatterND add, for the CPU EP', async () => {
    const r = await gradCheck(cpu, (g, [t, i]) => g.gather(t, i), [f(7, 3), ids([2, 3], [1, 4, 4, 0, 6, 1])], {
      graph: { scatterAdd: true },
    });
    expect(r[0].maxAbsErr).toBeLessThan(3e-3);
  });
  it('Gather (embedding) through a (V, N) one-hot, for the WebGPU target (vocabMajor)', async () => {
    const r = await gradCheck(cpu, (g, [t, i]) => g.gather(t, i), [f(7, 3), ids([2, 3], [1, 4, 4, 0, 6, 1])], {
      graph: { vocabMajor: true },
    });
    expect(r[0].maxAbsErr).toBeLessThan(3e-3);
  });
  it('names the op that has no gradient rule', () => {
    const g = new G('t');
    const x = g.input('x', 'float32', [3]);
    const loss = g.reduceSum(g.reduceMax(x, [0]), null, false);
    expect(() => gradients(g, loss, [x])).toThrow(NoGradientRuleError);
    expect(() => gradients(g, loss, [x])).toThrow(/ReduceMax/);
  });
  it('sums the gradients of a value used twice', async () => {
    const r = await gradCheck(cpu, (g, [a]) => g.add(g.mul(a, a), g.tanh(a)), [f(4)]);
    expect(r[0].maxAbsErr).toBeLessThan(3e-3);
  });
  it('gives zeros for an input the loss ignores', () => {
    const g = new G('t');
    const x = g.input('x', 'float32', [3]);
    const y = g.input('y', 'float32', [2]);
    const grads = gradients(g, g.reduceSum(x, null, false), [x, y]);
    expect(grads.get(y)!.shape).toEqual([2]);
  });
  it('rejects a shape mismatch where the graph is built, naming the op', () => {
    const g = new G('t');
    expect(() => g.matmul(g.input('a', 'float32', [2, 3]), g.input('b', 'float32', [4, 5]))).toThrow(
      /MatMul.*inner dimensions 3 and 4/,
    );
    expect(() =>
      g.op1('Gemm', [g.input('c', 'float32', [2, 3]), g.input('d', 'float32', [3, 2])], { transA: int(1) }),
    ).toThrow(/Gemm/);
  });
});

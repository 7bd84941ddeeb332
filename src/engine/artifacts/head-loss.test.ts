// The fused, chunked head + cross-entropy against plain autodiff of the unfused formula: the same loss, d/dh and
// d/dW whether it runs as one chunk or several (uneven ones included), with masked tokens and an all-masked chunk,
// in either layout of the logits ((N, V), and (V, N) as the WebGPU target builds it: GraphOptions.vocabMajor).
import { beforeAll, describe, expect, it } from 'vitest';
import { gradients } from '../autodiff/grad.js';
import { Graph, type GraphOptions } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';
import { createNodeBackend } from '../runtime/node.js';
import type { Backend } from '../runtime/backend.js';
import { Rng } from '../util/rng.js';
import { headChunks } from '../models/head-chunks.js';
import { fusedHeadLoss } from './head-loss.js';

const [N, C, V] = [11, 6, 37];
let cpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu', { threads: 1 });
});

async function run(
  build: (
    g: Graph,
    h: ReturnType<Graph['input']>,
    W: ReturnType<Graph['input']>,
    labels: ReturnType<Graph['input']>,
    w: ReturnType<Graph['input']>,
  ) => Record<string, ReturnType<Graph['input']>>,
  options: GraphOptions = {},
) {
  const g = new Graph('head', options);
  const [h, W, labels, w] = [
    g.input('h', 'float32', [N, C]),
    g.input('W', 'float32', [V, C]),
    g.input('labels', 'int32', [N]),
    g.input('w', 'float32', [N]),
  ];
  const outs = build(g, h, W, labels, w);
  for (const [k, v] of Object.entries(outs)) g.output(v, k);
  const s = await cpu.createSession({ name: 'head', bytes: serializeModel(g), inputs: [], outputs: Object.keys(outs) });
  const rng = new Rng(5);
  const T = cpu.ort.Tensor;
  const res = await s.run({
    h: new T(
      'float32',
      Float32Array.from({ length: N * C }, () => rng.normal()),
      [N, C],
    ),
    W: new T(
      'float32',
      Float32Array.from({ length: V * C }, () => rng.normal()),
      [V, C],
    ),
    labels: new T(
      'int32',
      Int32Array.from({ length: N }, (_, i) => (i * 7) % V),
      [N],
    ),
    w: new T(
      'float32',
      Float32Array.from({ length: N }, (_, i) => (i >= 3 && i < 6 ? 0 : 1)),
      [N],
    ), // rows 3-5 masked
  });
  await s.release();
  return Object.fromEntries(Object.entries(res).map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
}

describe('fused head loss', () => {
  it('cuts rows into chunks near the budget', () => {
    expect(headChunks(512, 50257)).toEqual([256, 256]);
    expect(headChunks(32, 50257)).toEqual([32]);
    expect(headChunks(2048, 50257).length).toBe(7);
    expect(headChunks(11, 37, 4 * 37 * 3)).toEqual([3, 3, 3, 2]);
  });

  const budgets = [Infinity, 4 * V * 3, 4 * V * 2, 4 * V];
  it.each(
    budgets.flatMap((b) => [
      [b, false],
      [b, true],
    ]),
  )(
    'equals autodiff of the unfused loss with a chunk budget of %d bytes (vocabulary-major: %s)',
    async (budget, vocabMajor) => {
      const ref = await run((g, h, W, labels, w) => {
        const logits = g.gemm(h, W, null, { transB: true });
        const z = g.sub(logits, g.stopGradient(g.reduceMax(logits, [1])));
        const lse = g.log(g.reduceSum(g.exp(z), [1], false));
        const picked = g.reduceSum(g.mul(z, g.oneHot(labels, V)), [1], false);
        const count = g.op1('Clip', [g.reduceSum(w, null, false), g.scalar(1)]);
        const loss = g.div(g.reduceSum(g.mul(g.sub(lse, picked), w), null, false), count);
        const d = gradients(g, loss, [h, W]);
        return { loss, dh: d.get(h)!, dW: d.get(W)! };
      });
      const got = await run(
        (g, h, W, labels, w) => {
          const r = fusedHeadLoss(g, h, W, labels, w, { h: true, W: true }, budget);
          return { loss: r.loss, dh: r.dh!, dW: r.dW! };
        },
        { vocabMajor },
      );
      for (const k of ['loss', 'dh', 'dW']) {
        const diff = Math.max(...got[k].map((x, i) => Math.abs(x - ref[k][i])));
        expect(diff, k).toBeLessThan(1e-5);
      }
      expect(got.dh.slice(3 * C, 6 * C).every((x) => x === 0)).toBe(true); // masked rows get no gradient
    },
  );

  it('gives every Gemm over the vocabulary inputs whose last dimension is a multiple of 4 when vocabulary-major', () => {
    // onnxruntime's WebGPU Gemm runs its vec4 tiled kernel only then; V = 50257 (here 37) made it the scalar one
    const [n, c, v] = [8, 8, 37];
    const gemmInputs = (vocabMajor: boolean) => {
      const g = new Graph('head', { vocabMajor });
      const ids = g.input('ids', 'int32', [n]);
      const W = g.input('W', 'float32', [v, c]);
      const h = g.reduceSum(g.gather(W, ids), null, false); // the embedding's gradient: a one-hot Gemm
      gradients(g, h, [W]);
      const r = fusedHeadLoss(g, g.input('h', 'float32', [n, c]), W, ids, g.input('w', 'float32', [n]), {
        h: true,
        W: true,
      });
      expect(r.dh && r.dW).toBeTruthy();
      return g.nodes
        .filter((x) => x.op === 'Gemm')
        .map((x) => [x.inputs[0]!.shape.at(-1)!, x.inputs[1]!.shape.at(-1)!]);
    };
    const vm = gemmInputs(true);
    expect(vm.length).toBe(4); // logits, dh, dW, and the embedding's one-hot product
    expect(vm.every(([a, b]) => a % 4 === 0 && b % 4 === 0)).toBe(true);
    expect(gemmInputs(false).filter(([a, b]) => a % 4 || b % 4).length).toBe(3); // (N, V) layout: dh, dW, one-hot
  });
});

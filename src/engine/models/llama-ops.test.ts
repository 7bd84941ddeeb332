// The Llama pieces' gradients against central finite differences (onnxruntime CPU EP), in plain-op and Einsum
// forms; RMSNorm's closed-form backward against autodiff of the op-by-op spelling; grouped-query attention against
// transformers' repeat_kv; and the node count of each piece's forward and backward, a cost to watch.
import { beforeAll, describe, expect, it } from 'vitest';
import { backprop } from '../autodiff/grad.js';
import { Graph, type GraphOptions, type Value } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';
import type { Backend } from '../runtime/backend.js';
import { createNodeBackend } from '../runtime/node.js';
import { gradCheck, type CheckInput } from '../testing/gradcheck.js';
import { causalMask } from './gpt2.js';
import {
  applyRope,
  gqaAttention,
  gqaAttentionBTHD,
  groupedCausalMask,
  groupedMask,
  rmsNorm,
  rmsNormPlain,
  ropeInputs,
  rotateHalfMatrix,
  siluMul,
  swiglu,
} from './llama-ops.js';
import { ropeTables } from './rope.js';

let cpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu', { threads: 1 });
});

const f = (...shape: number[]): CheckInput => ({ shape });
const fixed = (shape: number[], data: Float32Array): CheckInput => ({ shape, data, check: false });
const tables = (T: number, D: number) => {
  const t = ropeTables({ head_dim: D, rope_theta: 10, rope_scaling: null }, T); // theta 10: every pair turns
  return [fixed([T, D], t.cos), fixed([T, D], t.sin)];
};
const sin = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));

type Case = [string, (g: Graph, x: Value[]) => Value, CheckInput[]];
const cases: Case[] = [
  ['RMSNorm, 2-D', (g, [x, w]) => rmsNorm(g, x, w, 1e-6), [f(3, 6), f(6)]],
  ['RMSNorm, 4-D (q/k norm over head_dim)', (g, [x, w]) => rmsNorm(g, x, w, 1e-6), [f(2, 3, 2, 4), f(4)]],
  ['RMSNorm op by op (autodiff)', (g, [x, w]) => rmsNormPlain(g, x, w, 1e-6), [f(3, 6), f(6)]],
  [
    'RoPE over (B, T, H, D)',
    (g, [x, c, s]) => applyRope(g, x, ropeInputs(g, c, s), 'bthd'),
    [f(2, 3, 2, 4), ...tables(3, 4)],
  ],
  [
    'RoPE over (B, H, T, D)',
    (g, [x, c, s]) => applyRope(g, x, ropeInputs(g, c, s), 'bhtd'),
    [f(2, 2, 3, 6), ...tables(3, 6)],
  ],
  [
    'grouped-query attention, (B, H, T, D), 4 heads on 2 KV heads, causal',
    (g, [q, k, v]) => gqaAttention(g, q, k, v, groupedCausalMask(g, 3, 2), 0.5),
    [f(2, 4, 3, 4), f(2, 2, 3, 4), f(2, 2, 3, 4)],
  ],
  [
    'grouped-query attention, 3 heads on 1 KV head, mask an input',
    (g, [q, k, v, m]) => gqaAttention(g, q, k, v, groupedMask(g, m, 3), 0.7),
    [f(1, 3, 4, 2), f(1, 1, 4, 2), f(1, 1, 4, 2), fixed([4, 4], causalData(4))],
  ],
  ['silu(a) * b', (g, [a, b]) => siluMul(g, a, b), [f(3, 5), f(3, 5)]],
  ['SwiGLU MLP', (g, [x, wg, wu, wd]) => swiglu(g, x, wg, wu, wd), [f(3, 4), f(6, 4), f(6, 4), f(4, 6)]],
];
const einsumCases: Case[] = [
  ['RMSNorm, 2-D', (g, [x, w]) => rmsNorm(g, x, w, 1e-6), [f(3, 6), f(6)]],
  ['RMSNorm, 4-D', (g, [x, w]) => rmsNorm(g, x, w, 1e-5), [f(2, 3, 2, 4), f(4)]],
  [
    'RoPE over (B, T, H, D)',
    (g, [x, c, s]) => applyRope(g, x, ropeInputs(g, c, s), 'bthd'),
    [f(2, 3, 2, 4), ...tables(3, 4)],
  ],
  [
    'RoPE over (B, H, T, D)',
    (g, [x, c, s]) => applyRope(g, x, ropeInputs(g, c, s), 'bhtd'),
    [f(1, 2, 3, 6), ...tables(3, 6)],
  ],
  [
    'grouped-query attention over (B, T, H, D), 4 heads on 2 KV heads, causal',
    (g, [q, k, v]) => gqaAttentionBTHD(g, q, k, v, causalMask(g, 3), 0.5),
    [f(2, 3, 4, 4), f(2, 3, 2, 4), f(2, 3, 2, 4)],
  ],
];

function causalData(T: number) {
  return Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0));
}

const expectClose = async (build: Case[1], inputs: CheckInput[], graph?: GraphOptions) => {
  const results = await gradCheck(cpu, build, inputs, { graph });
  expect(results.length).toBe(inputs.filter((i) => i.check !== false).length);
  for (const r of results)
    expect(r.maxAbsErr, `input ${r.input}: abs ${r.maxAbsErr}, rel ${r.maxRelErr}`).toBeLessThan(3e-3);
};

describe('Llama pieces: gradients match central finite differences', () => {
  it.each(cases)('%s', async (_name, build, inputs) => expectClose(build, inputs));
});
describe('Llama pieces in Einsum form (the WebGPU target): gradients match central finite differences', () => {
  it.each(einsumCases)('%s', async (_name, build, inputs) => expectClose(build, inputs, { einsum: true }));
});

/** Runs a graph built by `build` over inputs x0.. with the given data; returns its named outputs. */
async function run(build: (g: Graph, xs: Value[]) => void, shapes: number[][], data: Float32Array[], o?: GraphOptions) {
  const g = new Graph('t', o);
  const xs = shapes.map((s, i) => g.input(`x${i}`, 'float32', s));
  build(g, xs);
  const names = g.outputs.map((v) => g.nameOf(v));
  const s = await cpu.createSession({ name: 't', bytes: serializeModel(g), inputs: [], outputs: names });
  const T = cpu.ort.Tensor;
  const out = await s.run(Object.fromEntries(shapes.map((sh, i) => [`x${i}`, new T('float32', data[i], sh)])));
  await s.release();
  return Object.fromEntries(names.map((n) => [n, out[n].data as Float32Array]));
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('Llama pieces against their definitions', () => {
  it.each([false, true])(
    "RMSNorm's closed-form backward equals autodiff of the op-by-op form (einsum %s)",
    async (einsum) => {
      const shapes = [[2, 3, 8], [8], [2, 3, 8]];
      const data = [sin(48, 1), sin(8, 2).map((v) => 1 + v / 2), sin(48, 3)];
      const out = await run(
        (g, [x, w, dy]) => {
          for (const [tag, fn] of [
            ['c', rmsNorm],
            ['p', rmsNormPlain],
          ] as const) {
            const y = fn(g, x, w, 1e-5);
            const grads = backprop(g, new Map([[y, dy]]), [x, w]);
            g.output(y, `${tag}y`);
            g.output(grads.get(x)!, `${tag}dx`);
            g.output(grads.get(w)!, `${tag}dw`);
          }
        },
        shapes,
        data,
        { einsum },
      );
      for (const k of ['y', 'dx', 'dw']) expect(maxDiff(out[`c${k}`], out[`p${k}`]), k).toBeLessThan(2e-6);
    },
  );

  it('rotate_half(x) = cat(-x2, x1) is x @ R, and RoPE is x cos + rotate_half(x) sin', async () => {
    const R = rotateHalfMatrix(4);
    const x = [1, 2, 3, 4];
    const xr = [0, 1, 2, 3].map((j) => x.reduce((s, v, i) => s + v * R[i * 4 + j], 0));
    expect(xr).toEqual([-3, -4, 1, 2]);
    const t = ropeTables({ head_dim: 4, rope_theta: 10, rope_scaling: null }, 3);
    const xs = sin(2 * 3 * 4, 5);
    const out = await run(
      (g, [a, c, s]) => g.output(applyRope(g, a, ropeInputs(g, c, s), 'bhtd'), 'y'),
      [
        [1, 2, 3, 4],
        [3, 4],
        [3, 4],
      ],
      [xs, t.cos, t.sin],
    );
    for (let i = 0; i < 24; i++) {
      const [d, row] = [i % 4, Math.floor(i / 4) % 3]; // (1, 2, 3, 4): position row, dimension d
      const rot = d < 2 ? -xs[i + 2] : xs[i - 2];
      expect(out.y[i]).toBeCloseTo(xs[i] * t.cos[row * 4 + d] + rot * t.sin[row * 4 + d], 6);
    }
  });

  it.each([false, true])(
    "grouped-query attention equals transformers' repeat_kv then attention (einsum %s)",
    async (einsum) => {
      const [B, H, Hkv, T, D] = [2, 6, 2, 4, 3];
      const data = [sin(B * T * H * D, 1), sin(B * T * Hkv * D, 2), sin(B * T * Hkv * D, 3)];
      const out = await run(
        (g, [q, k, v]) => {
          const toBHTD = (x: Value) => g.transpose(x, [0, 2, 1, 3]); // (B, T, h, D) -> (B, h, T, D)
          // repeat_kv: (B, Hkv, T, D) -> (B, Hkv, G, T, D) -> (B, H, T, D), KV head j serving heads j*G .. j*G+G-1
          const repeat = (x: Value) =>
            g.reshape(g.expand(g.unsqueeze(toBHTD(x), [2]), [B, Hkv, H / Hkv, T, D]), [B, H, T, D]);
          const mask = causalMask(g, T);
          g.output(g.attention(toBHTD(q), repeat(k), repeat(v), mask, 0.6), 'want'); // (B, H, T, D)
          const got = einsum
            ? toBHTD(gqaAttentionBTHD(g, q, k, v, mask, 0.6))
            : gqaAttention(g, toBHTD(q), toBHTD(k), toBHTD(v), groupedMask(g, mask, H / Hkv), 0.6);
          g.output(got, 'got');
          if (!einsum) {
            const m2 = groupedCausalMask(g, T, H / Hkv);
            g.output(gqaAttention(g, toBHTD(q), toBHTD(k), toBHTD(v), m2, 0.6), 'got2');
          }
        },
        [
          [B, T, H, D],
          [B, T, Hkv, D],
          [B, T, Hkv, D],
        ],
        data,
        { einsum },
      );
      expect(maxDiff(out.got, out.want)).toBeLessThan(1e-6);
      if (!einsum) expect(maxDiff(out.got2, out.want)).toBeLessThan(1e-6);
    },
  );
});

/** Nodes of the forward of `build` and of its backward for all inputs, seeded at its output. */
function nodeCounts(build: (g: Graph, xs: Value[]) => Value, shapes: number[][], o?: GraphOptions) {
  const g = new Graph('count', o);
  const xs = shapes.map((s, i) => g.input(`x${i}`, 'float32', s));
  const n0 = g.nodes.length;
  const y = build(g, xs);
  const n1 = g.nodes.length;
  const dy = g.input('dy', 'float32', y.shape);
  backprop(g, new Map([[y, dy]]), xs);
  return { forward: n1 - n0, backward: g.nodes.length - n1 };
}

describe('node counts (each node is a GPU dispatch)', () => {
  const rope =
    (layout: 'bthd' | 'bhtd') =>
    (g: Graph, [x]: Value[]) =>
      applyRope(g, x, ropeInputs(g, g.input('c', 'float32', [8, 4]), g.input('s', 'float32', [8, 4])), layout);
  const q = [2, 8, 4, 4];
  const kv = [2, 8, 2, 4];
  const rows: [string, (g: Graph, x: Value[]) => Value, number[][], GraphOptions, number, number][] = [
    ['RMSNorm', (g, [x, w]) => rmsNorm(g, x, w, 1e-6), [[16, 8], [8]], {}, 6, 8],
    ['RMSNorm, Einsum', (g, [x, w]) => rmsNorm(g, x, w, 1e-6), [[16, 8], [8]], { einsum: true }, 6, 5],
    ['RMSNorm op by op', (g, [x, w]) => rmsNormPlain(g, x, w, 1e-6), [[16, 8], [8]], {}, 7, 17],
    ['RoPE (B, H, T, D)', rope('bhtd'), [[2, 4, 8, 4]], {}, 4, 4],
    ['RoPE (B, T, H, D), Einsum', rope('bthd'), [[2, 8, 4, 4]], { einsum: true }, 3, 3],
    [
      'GQA attention (B, H, T, D)',
      (g, [a, b, c]) => gqaAttention(g, a, b, c, groupedCausalMask(g, 8, 2), 0.5),
      [
        [2, 4, 8, 4],
        [2, 2, 8, 4],
        [2, 2, 8, 4],
      ],
      {},
      8,
      14,
    ],
    [
      'GQA attention (B, T, H, D), Einsum',
      (g, [a, b, c]) => gqaAttentionBTHD(g, a, b, c, causalMask(g, 8), 0.5),
      [q, kv, kv],
      { einsum: true },
      6,
      10,
    ],
    [
      'silu(a) * b',
      (g, [a, b]) => siluMul(g, a, b),
      [
        [16, 8],
        [16, 8],
      ],
      {},
      3,
      6,
    ],
  ];
  it.each(rows)('%s', (name, build, shapes, o, fwd, bwd) => {
    const n = nodeCounts(build, shapes, o);
    console.log(`${name}: ${n.forward} forward nodes, ${n.backward} backward`);
    expect(n).toEqual({ forward: fwd, backward: bwd });
  });
});

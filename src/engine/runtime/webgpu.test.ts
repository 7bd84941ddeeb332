// The WebGPU path through onnxruntime-node's WebGPU EP (Dawn; SwiftShader on a machine without a GPU): same loss
// and gradients as the CPU EP, and no node of the train, optimizer, unpack or generate graphs placed on the CPU.
import type { GPT2Config } from '../models/gpt2.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  adamwScalars,
  buildGenerateGraph,
  buildOptimizerGraph,
  DEFAULT_ADAMW,
  buildTrainGraph,
  buildTrainStepGraph,
  buildUnpackGraph,
} from '../artifacts/build.js';
import { flatLayout, packGroup } from '../artifacts/flat.js';
import { fusedHeadLoss } from '../artifacts/head-loss.js';
import { Graph } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';
import {
  accumName,
  allParams,
  expAvgName,
  expAvgSqName,
  gradName,
  pastName,
  presentName,
  trainableParams,
  type ModelSpec,
} from '../artifacts/model.js';
import { initGpt2, initLora, TINY_GPT2 } from '../models/init.js';
import { Rng } from '../util/rng.js';
import type { Backend } from './backend.js';
import { batchFeeds, emptyCacheFeeds, weightFeeds, type Batch } from './feeds.js';
import { createNodeBackend } from './node.js';
import { profilePlacement } from './placement.js';

// Small shapes: SwiftShader runs ~0.6 GFLOP/s and the 50257-way head dominates a step.
const lora = { rank: 4, alpha: 8, targets: ['attn.c_attn', 'mlp.c_fc'] as const };
const models: [string, ModelSpec<GPT2Config>][] = [
  ['full', { config: { ...TINY_GPT2, n_positions: 32 } }],
  ['LoRA', { config: { ...TINY_GPT2, n_positions: 32 }, lora }],
];
const batch = (): Batch => {
  const r = new Rng(5);
  const n = 2 * 8;
  return {
    batch: 2,
    seq: 8,
    ids: Int32Array.from({ length: n }, () => Math.floor(r.next() * 50257)),
    labels: Int32Array.from({ length: n }, () => Math.floor(r.next() * 50257)),
    mask: Float32Array.from({ length: n }, (_, i) => (i % 3 ? 1 : 0)),
  };
};
function weights(m: ModelSpec<GPT2Config>) {
  const W = { ...initGpt2(m.config, 3), ...(m.lora ? initLora(m.config, m.lora, 3) : {}) };
  const r = new Rng(6);
  for (const [k, v] of Object.entries(W))
    if (k.includes('lora_B')) for (let i = 0; i < v.length; i++) v[i] = 0.05 * r.normal();
  return W;
}

let cpu: Backend;
let gpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu');
  gpu = await createNodeBackend('node-webgpu');
});

describe.each(models)('WebGPU EP (%s)', (_label, m) => {
  it("gives the CPU EP's loss and gradients", async () => {
    const W = weights(m);
    const run = async (b: Backend) => {
      const s = await b.createSession(buildTrainGraph(m, { batch: 2, seq: 8 }, { target: b.target })); // the GPU's with Einsum
      const out = await s.run({ ...weightFeeds(b, allParams(m), W), ...batchFeeds(b, batch()) });
      await s.release();
      return out;
    };
    const [a, b] = [await run(cpu), await run(gpu)];
    expect(Math.abs((a.loss.data as Float32Array)[0] - (b.loss.data as Float32Array)[0])).toBeLessThan(1e-4);
    let worst = 0;
    for (const p of trainableParams(m)) {
      const x = a[gradName(p.name)].data as Float32Array;
      const y = b[gradName(p.name)].data as Float32Array;
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < x.length; i++) {
        scale = Math.max(scale, Math.abs(x[i]));
        diff = Math.max(diff, Math.abs(x[i] - y[i]));
      }
      worst = Math.max(worst, diff / Math.max(scale, 1e-6));
      expect(diff, p.name).toBeLessThan(1e-3 * Math.max(scale, 1e-3));
    }
    expect(worst).toBeGreaterThanOrEqual(0);
  });

  it('generates a token (Where into the cache, SkipLayerNormalization, FastGelu) as the CPU EP does (ScatterND)', async () => {
    const W = weights(m);
    const c = m.config;
    const L = 16;
    const dims = [1, c.n_head, L, c.n_embd / c.n_head];
    const r = new Rng(9);
    const past = Array.from({ length: 2 * c.n_layer }, () =>
      Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => r.normal()),
    );
    const run = async (b: Backend) => {
      const T = b.ort.Tensor;
      const s = await b.createSession(buildGenerateGraph(m, { step: 1, cache: L }, b.target));
      const out = await s.run({
        ...weightFeeds(b, allParams(m), W),
        input_ids: new T('int32', Int32Array.of(7), [1, 1]),
        position: new T('int32', Int32Array.of(5), [1]),
        last_index: new T('int32', Int32Array.of(0), [1]),
        ...Object.fromEntries(past.map((d, i) => [pastName(i >> 1, i % 2 ? 'value' : 'key'), b.upload(d, dims)])),
      });
      const got = { logits: await b.download(out.logits), key: await b.download(out[presentName(1, 'key')]) };
      await s.release();
      return got;
    };
    const [a, b] = [await run(cpu), await run(gpu)];
    expect(cpu.target.scatterAdd && !gpu.target.scatterAdd).toBe(true); // the two ways of writing the slot
    let d = 0;
    for (let i = 0; i < a.logits.length; i++) d = Math.max(d, Math.abs(a.logits[i] - b.logits[i]));
    expect(d).toBeLessThan(1e-3);
    // slot 5 of every head written (equal up to rounding), every other slot kept bit for bit
    const D = c.n_embd / c.n_head;
    for (let h = 0; h < c.n_head; h++) {
      for (let slot = 0; slot < L; slot++) {
        const at = (h * L + slot) * D;
        const [x, y, was] = [a.key.subarray(at, at + D), b.key.subarray(at, at + D), past[2].subarray(at, at + D)];
        if (slot !== 5) {
          expect(x).toEqual(was);
          expect(y).toEqual(was);
        } else {
          expect(x).not.toEqual(was);
          for (let i = 0; i < D; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-4);
        }
      }
    }
  });

  it('places every node of the train, optimizer and generate graphs on the WebGPU EP', async () => {
    const W = weights(m);
    const T = gpu.ort.Tensor;
    // the graphs as the trainer builds them: trainable parameters in flat groups
    const specs = trainableParams(m);
    const layout = flatLayout(specs);
    const frozen = weightFeeds(
      gpu,
      allParams(m).filter((p) => !specs.includes(p)),
      W,
    );
    const groups = (f: (n: string) => string) =>
      Object.fromEntries(
        layout.groups.map((grp) => [
          f(grp.name),
          gpu.upload(
            packGroup(grp, (n) => W[n]),
            grp.shape,
          ),
        ]),
      );
    const scalars = Object.fromEntries(
      Object.entries(adamwScalars(DEFAULT_ADAMW, 1e-3, 1, 1)).map(([k, x]) => [
        k,
        new T('float32', Float32Array.of(x), []),
      ]),
    );
    const train = await profilePlacement(
      gpu,
      buildTrainGraph(m, { batch: 2, seq: 8 }, { accumulate: true, layout, target: gpu.target }),
      {
        ...frozen,
        ...groups((n) => n),
        ...batchFeeds(gpu, batch()),
        ...groups(accumName),
      },
      'WebGpuExecutionProvider',
    );
    const step = await profilePlacement(
      gpu,
      buildTrainStepGraph(m, { batch: 2, seq: 8 }, undefined, gpu.target, layout),
      {
        ...frozen,
        ...groups((n) => n),
        ...batchFeeds(gpu, batch()),
        ...scalars,
        ...groups(expAvgName),
        ...groups(expAvgSqName),
      },
      'WebGpuExecutionProvider',
    );
    const opt = await profilePlacement(
      gpu,
      buildOptimizerGraph(layout),
      {
        ...scalars,
        ...groups((n) => n),
        ...groups(gradName),
        ...groups(expAvgName),
        ...groups(expAvgSqName),
      },
      'WebGpuExecutionProvider',
    );
    const unpack = await profilePlacement(
      gpu,
      buildUnpackGraph(layout),
      groups((n) => n),
      'WebGpuExecutionProvider',
    );
    const c = m.config;
    const token = await profilePlacement(
      gpu,
      buildGenerateGraph(m, { step: 1, cache: 16 }, gpu.target),
      {
        ...weightFeeds(gpu, allParams(m), W),
        input_ids: new T('int32', Int32Array.of(1), [1, 1]),
        position: new T('int32', Int32Array.of(3), [1]),
        last_index: new T('int32', Int32Array.of(0), [1]),
        ...emptyCacheFeeds(gpu, m.config, 16),
      },
      'WebGpuExecutionProvider',
    );
    const gen = await profilePlacement(
      gpu,
      buildGenerateGraph(m, { step: 4, cache: 16 }),
      {
        ...weightFeeds(gpu, allParams(m), W),
        input_ids: new T('int32', Int32Array.of(1, 2, 3, 4), [1, 4]),
        position: new T('int32', Int32Array.of(0), [1]),
        last_index: new T('int32', Int32Array.of(3), [1]),
        ...emptyCacheFeeds(gpu, c, 16),
      },
      'WebGpuExecutionProvider',
    );
    // the fused loss cut into several chunks (batches large enough for that are too slow for SwiftShader)
    const [N, C, V] = [12, 8, 40];
    const hg = new Graph('head_chunks');
    const [h, Wt, labels, w] = [
      hg.input('h', 'float32', [N, C]),
      hg.input('W', 'float32', [V, C]),
      hg.input('labels', 'int32', [N]),
      hg.input('w', 'float32', [N]),
    ];
    const r = fusedHeadLoss(hg, h, Wt, labels, w, { h: true, W: true }, 4 * V * 4);
    for (const [k, v] of Object.entries({ loss: r.loss, dh: r.dh!, dW: r.dW! })) hg.output(v, k);
    const head = await profilePlacement(
      gpu,
      { name: 'head_chunks', bytes: serializeModel(hg), inputs: [], outputs: ['loss', 'dh', 'dW'] },
      {
        h: gpu.upload(new Float32Array(N * C).fill(0.1), [N, C]),
        W: gpu.upload(new Float32Array(V * C).fill(0.2), [V, C]),
        labels: new T(
          'int32',
          Int32Array.from({ length: N }, (_, i) => i % V),
          [N],
        ),
        w: gpu.upload(new Float32Array(N).fill(1), [N]),
      },
      'WebGpuExecutionProvider',
    );
    expect(head.byProvider.WebGpuExecutionProvider?.Split, 'the chunks are cut on the GPU').toBeGreaterThan(0);
    expect(
      step.byProvider.WebGpuExecutionProvider?.Einsum,
      'attention and the LayerNorm backward in Einsum',
    ).toBeGreaterThan(4 * m.config.n_layer);
    for (const [name, p] of [
      ['train', train],
      ['train step', step],
      ['optimizer', opt],
      ['unpack', unpack],
      ['generate (prefill)', gen],
      ['generate (one token)', token],
      ['chunked head loss', head],
    ] as const) {
      expect(p.elsewhere, `${name} graph nodes off the WebGPU EP`).toEqual([]);
      expect(
        Object.values(p.byProvider.WebGpuExecutionProvider ?? {}).reduce((a, b) => a + b, 0),
        name,
      ).toBeGreaterThan(name === 'unpack' ? 1 : 20);
    }
  });
});

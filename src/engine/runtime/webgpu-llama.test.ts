// The Llama family on onnxruntime-node's WebGPU EP (SwiftShader here), as the WebGPU backend builds its graphs:
// the fused train step (full and LoRA on the seven modules, flat groups) gives the CPU EP's loss, and no node of
// the train step, the prefill or the one-token generate graph runs anywhere but the WebGPU EP. Qwen3-like (q/k
// norms, head_dim apart) and Qwen2-like (biases, untied head): the variants with the most extra nodes.
import { beforeAll, describe, expect, it } from 'vitest';
import { adamwScalars, buildGenerateGraph, buildTrainStepGraph, DEFAULT_ADAMW } from '../artifacts/build.js';
import { flatLayout, packGroup } from '../artifacts/flat.js';
import { allParams, expAvgName, expAvgSqName, trainableParams, type ModelSpec } from '../artifacts/model.js';
import { initLlama, initLora } from '../models/init.js';
import { loraOfRank } from '../models/lora.js';
import { nodesOffWebGpu, randomLoraB, tinyLlama } from '../testing/llama-configs.js';
import { Rng } from '../util/rng.js';
import type { Backend } from './backend.js';
import { batchFeeds, emptyCacheFeeds, weightFeeds, type Batch } from './feeds.js';
import { createNodeBackend } from './node.js';

const V = 48;
const configs = [tinyLlama('qwen3', { vocab_size: V }), tinyLlama('qwen2', { vocab_size: V })];
const batch = (): Batch => {
  const r = new Rng(5);
  const n = 2 * 8;
  const ids = () => Int32Array.from({ length: n }, () => Math.floor(r.next() * V));
  return {
    batch: 2,
    seq: 8,
    ids: ids(),
    labels: ids(),
    mask: Float32Array.from({ length: n }, (_, i) => +(i % 3 > 0)),
  };
};

let cpu: Backend;
let gpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu');
  gpu = await createNodeBackend('node-webgpu');
});

describe.each(configs.map((c) => [c.model_type, c] as const))('the %s-like family on the WebGPU EP', (_, c) => {
  for (const lora of [false, true]) {
    const m: ModelSpec = { config: c, lora: lora ? loraOfRank(c, 2) : undefined };
    const W = randomLoraB({ ...initLlama(c, 3), ...(m.lora ? initLora(c, m.lora, 3) : {}) }, 6, 0.05);

    it(`${lora ? 'LoRA' : 'full'}: the fused step's loss equals the CPU EP's, every node on the WebGPU EP`, async () => {
      const specs = trainableParams(m);
      const names = new Set(specs.map((p) => p.name));
      const stepFeeds = (b: Backend, packed: boolean) => {
        const layout = flatLayout(specs, { packed });
        const T = b.ort.Tensor;
        const groups = (f: (n: string) => string, zero = false) =>
          Object.fromEntries(
            layout.groups.map((grp) => {
              const data = packGroup(grp, (n) => W[n]);
              return [f(grp.name), b.upload(zero ? new Float32Array(data.length) : data, grp.shape)];
            }),
          );
        return {
          layout,
          feeds: {
            ...weightFeeds(
              b,
              allParams(m).filter((p) => !names.has(p.name)),
              W,
            ),
            ...groups((n) => n),
            ...groups(expAvgName, true),
            ...groups(expAvgSqName, true),
            ...batchFeeds(b, batch()),
            ...Object.fromEntries(
              Object.entries(adamwScalars(DEFAULT_ADAMW, 1e-3, 1, 1)).map(([k, x]) => [
                k,
                new T('float32', Float32Array.of(x), []),
              ]),
            ),
          },
        };
      };
      const g = stepFeeds(gpu, true);
      const placed = await nodesOffWebGpu(
        gpu,
        buildTrainStepGraph(m, { batch: 2, seq: 8 }, undefined, gpu.target, g.layout),
        g.feeds,
      );
      expect(placed, 'train step nodes off the WebGPU EP').toEqual([]);
      const loss = async (b: Backend, packed: boolean) => {
        const f = stepFeeds(b, packed);
        const s = await b.createSession(buildTrainStepGraph(m, { batch: 2, seq: 8 }, undefined, b.target, f.layout));
        const out = await s.run(f.feeds);
        const l = (await b.download(out.loss))[0];
        await s.release();
        return l;
      };
      expect(await loss(gpu, true)).toBeCloseTo(await loss(cpu, false), 4);
    }, 120_000);

    it(`${lora ? 'LoRA' : 'full'}: the prefill and one-token generate graphs run on the WebGPU EP only`, async () => {
      const T = gpu.ort.Tensor;
      for (const [step, ids, position] of [
        [1, [7], 3],
        [4, [1, 2, 3, 4], 0],
      ] as const) {
        const p = await nodesOffWebGpu(gpu, buildGenerateGraph(m, { step, cache: 16 }, gpu.target), {
          ...weightFeeds(gpu, allParams(m), W),
          input_ids: new T('int32', Int32Array.from(ids), [1, step]),
          position: new T('int32', Int32Array.of(position), [1]),
          last_index: new T('int32', Int32Array.of(step - 1), [1]),
          ...emptyCacheFeeds(gpu, c, 16),
        });
        expect(p, `generate (${step} tokens) nodes off the WebGPU EP`).toEqual([]);
      }
    }, 120_000);
  }
});
